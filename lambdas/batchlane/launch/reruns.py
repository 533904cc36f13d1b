"""Reruns (``rerunOf``, ``batchlane relaunch --failed``): a new launch of some children of a finished
map task of the caller's team. Pure: the original's record and phase are looked up by the caller.

Its outputs are the original's with the rerun children's replaced (batchlane.status.finish), in
the index space of the chain's first launch: a rerun of a rerun names indexes of that space too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from batchlane.common.executions import FINAL_PHASES, LaunchRecord, Rerun
from batchlane.launch.planner import LaunchPlan
from batchlane.launch.problems import Problem, quoted

# What a rerun launches again of its original, besides the children's inputs: everything but these.
NOT_REPEATED = ("launchId", "input", "inputs", "inputsLocation", "rerunOf", "after")


def repeatable_request(detail: dict) -> dict:
    """The launch detail as a rerun repeats it (kept on the launch record)."""
    return {k: v for k, v in detail.items() if k not in NOT_REPEATED}


def with_rerun(
    plan: LaunchPlan, lookup: Callable[[str], LaunchRecord | None], phase_of: Callable[[str], str | None]
) -> tuple[LaunchPlan | None, list[Problem]]:
    """The plan with its :class:`Rerun` (unchanged without ``rerunOf``), or every problem that refuses it."""
    asked = plan.request.rerun_of
    if asked is None:
        return plan, []
    original = lookup(asked.launch_id)
    if original is None or not original.submitted:
        return None, [_problem("launchId", f"no launch {quoted(asked.launch_id)} of this team to rerun")]
    size = original.rerun_of.size if original.rerun_of else original.size
    problems = []
    if not original.map_task:
        problems.append(_problem("launchId", "only a map task's children can be rerun"))
    if phase_of(original.key) not in FINAL_PHASES:
        problems.append(_problem("launchId", f"{quoted(asked.launch_id)} has not finished: rerun it once it has"))
    same = ("project", "domain", "workflow", "task")
    moved = [f for f in same if getattr(plan.request, f) != getattr(original, f)]
    if moved:
        problems.append(_problem("launchId", f"a rerun keeps the original's {', '.join(moved)}"))
    if len(set(asked.indexes)) != len(asked.indexes):
        problems.append(_problem("indexes", "an index is listed twice"))
    if any(i >= size for i in asked.indexes):
        problems.append(_problem("indexes", f"the original's outputs have indexes 0 to {size - 1}"))
    if len(asked.indexes) != plan.size:
        problems.append(_problem("indexes", f"{len(asked.indexes)} indexes for {plan.size} inputs: one per child"))
    if problems:
        return None, problems
    rerun = Rerun(launch_id=asked.launch_id, indexes=asked.indexes, size=size)
    return dataclasses.replace(plan, rerun_of=rerun), []


def _problem(field: str, message: str) -> Problem:
    return Problem(field=f"rerunOf.{field}", message=message)
