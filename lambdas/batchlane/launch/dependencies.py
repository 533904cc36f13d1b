"""Launches that depend on launches (``after``, docs/launch-event.md#launches-that-wait-for-launches):
each predecessor becomes a Batch ``dependsOn`` entry of the dependant's job. Pure: the predecessors'
records are looked up by the caller.

A predecessor must have been launched already (so no cycle can form: a launch can only wait for an
older one, and never for itself), by the caller's own team. Batch starts the dependant when the
predecessor succeeds and fails it ("Dependent Job failed") when the predecessor fails or is aborted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from batchlane.common.executions import LaunchRecord
from batchlane.common.settings import Settings
from batchlane.common.tenancy import Producer
from batchlane.launch.models import LaunchRequest
from batchlane.launch.planner import LaunchPlan
from batchlane.launch.problems import Problem, quoted


def after_problems(raw: Any) -> list[Problem]:
    """What the request alone shows: waiting for itself (a cycle), twice for one launch, N_TO_N
    on a launch that is not a map task."""
    after = raw.get("after") if isinstance(raw, dict) else None
    if not isinstance(after, list):
        return []
    own, problems, seen = raw.get("launchId"), [], set()
    is_map = raw.get("inputs") is not None or raw.get("inputsLocation") is not None
    for i, entry in enumerate(after):
        launch_id = entry.get("launchId") if isinstance(entry, dict) else None
        if not isinstance(launch_id, str):
            continue
        if launch_id == own:
            problems.append(Problem(field=f"after[{i}].launchId", message="a launch cannot wait for itself (a cycle)"))
        elif launch_id in seen:
            problems.append(Problem(field=f"after[{i}].launchId", message=f"{quoted(launch_id)} is listed twice"))
        seen.add(launch_id)
        if entry.get("type") == "N_TO_N" and not is_map:
            problems.append(Problem(field=f"after[{i}].type", message="N_TO_N needs a map task (inputs)"))
    return problems


def resolve_after(
    request: LaunchRequest,
    producer: Producer | None,
    settings: Settings,
    lookup: Callable[[str], LaunchRecord | None],
) -> tuple[list[dict[str, str]], list[Problem]]:
    """SubmitJob's ``dependsOn`` for the request's ``after``, or the problems that refuse it."""
    depends_on, problems = [], []
    for i, after in enumerate(request.after):
        record = lookup(after.launch_id)
        problem = _predecessor_problem(request, after.type, record, producer, settings)
        if problem or record is None or record.job_id is None:
            problems.append(Problem(field=f"after[{i}].launchId", message=problem or "not launched yet"))
            continue
        depends_on.append({"jobId": record.job_id, **({"type": "N_TO_N"} if after.type == "N_TO_N" else {})})
    return depends_on, problems


def _predecessor_problem(
    request: LaunchRequest, kind: str, record: LaunchRecord | None, producer: Producer | None, settings: Settings
) -> str | None:
    if record is None or record.job_id is None:
        return "no such launch has been submitted: a launch waits only for one launched before it"
    team = producer.team if producer else None
    theirs = record.producer.team if record.producer else None
    if not settings.producers.is_open and theirs != team:
        return f"it was launched by another team ({theirs or 'unknown'}): a launch waits only for its own team's"
    if record.chunk_count or kind == "N_TO_N" and request.size > settings.limits.max_array_size:
        return "waiting for a chunked map task, or N_TO_N as one, is not supported yet"
    if kind == "N_TO_N" and (not record.is_array or record.size != request.size):
        return f"N_TO_N needs two map tasks of one size: it has {record.size} children, this one {request.size}"
    return None


def with_dependencies(
    plan: LaunchPlan, producer: Producer | None, settings: Settings, lookup: Callable[[str], LaunchRecord | None]
) -> tuple[LaunchPlan | None, list[Problem]]:
    """The plan with its ``dependsOn`` (unchanged without ``after``), or the problems that refuse it."""
    if not plan.request.after:
        return plan, []
    depends_on, problems = resolve_after(plan.request, producer, settings, lookup)
    return (None, problems) if problems else (dataclasses.replace(plan, depends_on=tuple(depends_on)), [])
