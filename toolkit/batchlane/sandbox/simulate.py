"""Synthetic AWS Batch events for a simulated launch, in their true order (pure, deterministic).

Used by the status benchmark, the property tests and offline demos (``batchlane replay``).
The shapes follow the documented "Batch Job State Change" events and the samples in
``tests/fixtures/events``; what happens in a history:

* no SUBMITTED event (Batch sends none); optionally PENDING (array children, jobs with
  dependencies), then per attempt RUNNABLE -> STARTING -> RUNNING;
* a failed attempt with retries left sends the child back to RUNNABLE with one more entry in
  ``attempts``; the RUNNABLE / STARTING events of a retry still show the previous attempt in
  their ``container`` section (stale), as DescribeJobs does;
* an attempt that fails before its container starts (``CannotPullContainerError``) has no
  RUNNING event, no exit code and no log stream;
* a child can be terminated while RUNNABLE (FAILED, no new attempt);
* "Batch Job Queue Blocked" events (RUNNABLE, reason in ``statusReason``);
* the array parent: PENDING first, SUCCEEDED/FAILED last, each with a ``statusSummary`` that
  may be stale.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from batchlane.status.events import QUEUE_BLOCKED, STATE_CHANGE

ACCOUNT = "123456789012"
REGION = "us-east-1"
JOB_DEFINITION = "batchlane-task"
CANNOT_PULL = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
EXITED = "Essential container in task exited"
BLOCKED_REASON = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity "
    "requested for instance type [p4d.24xlarge]"
)
TERMINATED = "Terminated by batchlane: the launch failed"

Outcome = Literal["ok", "exit", "nostart"]


@dataclass(frozen=True)
class AttemptPlan:
    outcome: Outcome = "ok"
    exit_code: int = 1  # for "exit"

    @property
    def failed(self) -> bool:
        return self.outcome != "ok"


@dataclass(frozen=True)
class ChildPlan:
    """What happens to one child: its attempts in order (all but the last must fail)."""

    attempts: tuple[AttemptPlan, ...] = (AttemptPlan(),)
    pending: bool = False  # sends a PENDING event first
    blocked: bool = False  # a Queue Blocked event while RUNNABLE (first attempt)
    terminated: bool = False  # terminated while RUNNABLE after its attempts (FAILED, no new attempt)

    @property
    def succeeded(self) -> bool:
        return not self.terminated and bool(self.attempts) and not self.attempts[-1].failed


def _hex(*parts: Any) -> str:
    return hashlib.blake2s(":".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def log_stream(job_id: str, index: int, attempt: int) -> str:
    return f"{JOB_DEFINITION}/default/{_hex(job_id, index, attempt)}"


def job_event(
    *,
    job_id: str,
    status: str,
    index: int | None = None,
    size: int | None = None,
    attempts: Sequence[dict] = (),
    container: dict | None = None,
    status_reason: str | None = None,
    detail_type: str = STATE_CHANGE,
    status_summary: dict[str, int] | None = None,
    started_at: int | None = None,
    stopped_at: int | None = None,
    queue: str = "batchlane-default",
    region: str = REGION,
    partition: str = "aws",
    log_group: str | None = None,
    time_ms: int = 0,
    retry_attempts: int = 3,
    tags: dict[str, str] | None = None,
    nodes: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One EventBridge event of a Batch job (a child when ``index`` is set, a parent with ``size``;
    of a multi-node job with ``nodes`` (numNodes, mainNode): node ``index``, else the job itself).
    ``tags`` are added to the job's tags (e.g. ``{"batchlane:launchId": ...}`` as the launcher sets)."""
    full_id = job_id if index is None else f"{job_id}#{index}" if nodes else f"{job_id}:{index}"
    arn = f"arn:{partition}:batch:{region}:{ACCOUNT}"
    detail: dict[str, Any] = {
        "jobArn": f"{arn}:job/{full_id}",
        "jobName": "t-" + job_id[:8],
        "jobId": full_id,
        "jobQueue": f"{arn}:job-queue/{queue}",
        "status": status,
        "attempts": list(attempts),
        "createdAt": 1_700_000_000_000,
        "retryStrategy": {"attempts": retry_attempts, "evaluateOnExit": []},
        "dependsOn": [],
        "jobDefinition": f"{arn}:job-definition/{JOB_DEFINITION}:1",
        "parameters": {},
        "container": _container(log_group, container),
        "propagateTags": True,
        "platformCapabilities": ["EC2"],
        "tags": {"resourceArn": f"{arn}:job/{job_id}", **(tags or {})},
        "eksAttempts": [],
        "someFieldAwsAddsLater": {"x": 1},
    }
    for key, value in (("statusReason", status_reason), ("startedAt", started_at), ("stoppedAt", stopped_at)):
        if value:
            detail[key] = value
    detail.update(_shape(index, size, status_summary, time_ms, nodes))
    return _envelope(detail, detail_type, region, time_ms or 1_700_000_000_000)


def _shape(
    index: int | None, size: int | None, summary: dict[str, int] | None, time_ms: int, nodes: tuple[int, int] | None
) -> dict[str, Any]:
    """An array child's or parent's arrayProperties; a node's nodeDetails, a multi-node job's nodeProperties."""
    if nodes is not None:  # DescribeJobs' shapes
        count, main = nodes
        if index is not None:
            return {"nodeDetails": {"nodeIndex": index, "isMainNode": index == main}}
        return {"nodeProperties": {"numNodes": count, "mainNode": main}}
    if index is not None:
        return {"arrayProperties": {"index": index, "statusSummary": {}}}
    if size is not None:
        properties = {"size": size, "statusSummary": dict(summary or {})}
        return {"arrayProperties": {**properties, "statusSummaryLastUpdatedAt": time_ms or 1_700_000_000_000}}
    return {}


def _container(log_group: str | None, container: dict | None) -> dict[str, Any]:
    """A job's ``container``: busybox's defaults, the log group's awslogs configuration, ``container``."""
    cont: dict[str, Any] = {
        "image": "public.ecr.aws/docker/library/busybox:latest",
        "command": ["run"],
        "networkInterfaces": [],
    }
    if log_group:
        cont["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": log_group}}
    cont.update(container or {})
    return cont


def _envelope(detail: dict[str, Any], detail_type: str, region: str, t: int) -> dict[str, Any]:
    """The EventBridge event around a job's ``detail`` (its id derived from what it says)."""
    return {
        "version": "0",
        "id": _hex("event", detail["jobId"], detail["status"], t, detail_type),
        "detail-type": detail_type,
        "source": "aws.batch",
        "account": ACCOUNT,
        "time": "2024-05-01T10:15:42Z",
        "region": region,
        "resources": [detail["jobArn"]],
        "detail": detail,
    }


def _attempt_record(job_id: str, index: int, k: int, plan: AttemptPlan, t0: int) -> dict[str, Any]:
    if plan.outcome == "nostart":
        return {
            "container": {"reason": CANNOT_PULL, "networkInterfaces": []},
            "startedAt": 0,
            "stoppedAt": t0 + 50,
            "statusReason": "Task failed to start",
        }
    task = _hex("task", job_id, index, k)
    return {
        "container": {
            "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/AWSBatch-ce/{task}",
            "exitCode": 0 if plan.outcome == "ok" else plan.exit_code,
            "logStreamName": log_stream(job_id, index, k),
            "networkInterfaces": [],
        },
        "startedAt": t0 + 30,
        "stoppedAt": t0 + 90,
        "statusReason": EXITED,
    }


def child_events(
    job_id: str,
    index: int,
    plan: ChildPlan,
    *,
    is_array: bool = True,
    log_group: str | None = None,
    t0: int = 1_700_000_000_000,
    tags: dict[str, str] | None = None,
    nodes: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The events of one child (or plain job, or node of a multi-node job) in their true order."""
    event = partial(
        job_event,
        job_id=job_id,
        index=index if is_array or nodes else None,
        log_group=log_group,
        tags=tags,
        nodes=nodes,
    )
    out: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []  # the attempts ended so far
    t = t0 + index * 1000
    if plan.pending:
        out.append(event(status="PENDING", time_ms=t))
    for k, a in enumerate(plan.attempts):
        t += 100
        rec = _attempt_record(job_id, index, k, a, t)
        out += _attempt_events(event, done, rec, blocked=plan.blocked and k == 0, started=a.outcome != "nostart", t=t)
        done = [*done, rec]
    return out + _end_events(event, plan, done, t + 200)


def _attempt_events(
    event: Callable[..., dict[str, Any]],
    done: list[dict[str, Any]],
    rec: dict[str, Any],
    *,
    blocked: bool,
    started: bool,
    t: int,
) -> list[dict[str, Any]]:
    """One attempt's events (``rec`` its record once ended, ``done`` the attempts before it):
    RUNNABLE (and Queue Blocked), STARTING, and RUNNING unless it never starts."""
    stale = dict(done[-1]["container"]) if done else {}
    out = [event(status="RUNNABLE", attempts=done, container=stale, time_ms=t)]
    if blocked:
        out.append(
            event(
                status="RUNNABLE",
                attempts=done,
                container=stale,
                status_reason=BLOCKED_REASON,
                detail_type=QUEUE_BLOCKED,
                time_ms=t + 5,
            )
        )
    out.append(event(status="STARTING", attempts=done, container=stale, time_ms=t + 10))
    if started:
        running = {"taskArn": rec["container"]["taskArn"], "logStreamName": rec["container"]["logStreamName"]}
        out.append(event(status="RUNNING", attempts=done, container=running, started_at=t + 30, time_ms=t + 30))
    return out


def _end_events(
    event: Callable[..., dict[str, Any]], plan: ChildPlan, done: list[dict[str, Any]], t: int
) -> list[dict[str, Any]]:
    """The child's last events once its attempts are over: FAILED after RUNNABLE when it was
    terminated, else SUCCEEDED or FAILED as its last attempt ended."""
    last = dict(done[-1]["container"]) if done else {}
    if plan.terminated:
        return [
            event(status="RUNNABLE", attempts=done, container=last, time_ms=t),
            event(
                status="FAILED",
                attempts=done,
                container=last,
                status_reason=TERMINATED,
                stopped_at=t + 10,
                time_ms=t + 10,
            ),
        ]
    return [
        event(
            status="SUCCEEDED" if plan.succeeded else "FAILED",
            attempts=done,
            container=last,
            status_reason=done[-1]["statusReason"] if done else None,
            started_at=done[-1].get("startedAt") or None,
            stopped_at=t,
            time_ms=t,
        )
    ]


def launch_events(
    job_id: str,
    plans: Sequence[ChildPlan],
    *,
    rng: random.Random | None = None,
    log_group: str | None = None,
    stale_summary: bool = True,
    tags: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """All events of a launch in one possible true order: the children's sequences interleaved
    at random (``rng``), the parent's PENDING first and its terminal event last (arrays)."""
    rng = rng or random.Random(0)
    size = len(plans)
    is_array = size > 1
    seqs = [child_events(job_id, i, p, is_array=is_array, log_group=log_group, tags=tags) for i, p in enumerate(plans)]
    out: list[dict[str, Any]] = []
    if is_array:
        out.append(
            job_event(
                job_id=job_id,
                status="PENDING",
                size=size,
                log_group=log_group,
                tags=tags,
                status_summary={"SUBMITTED": size},
                time_ms=1_699_999_999_000,
            )
        )
    cursors = [0] * size
    live = [i for i in range(size) if seqs[i]]
    while live:
        i = rng.choice(live)
        out.append(seqs[i][cursors[i]])
        cursors[i] += 1
        if cursors[i] == len(seqs[i]):
            live.remove(i)
    if is_array:
        ok = sum(p.succeeded for p in plans)
        summary = {"SUCCEEDED": ok, "FAILED": size - ok}
        if stale_summary and size > 1:  # Batch's counts may lag: claim one child still runs
            summary = {"SUCCEEDED": max(ok - 1, 0), "FAILED": size - ok, "RUNNING": 1 if ok else 0}
        final = "SUCCEEDED" if ok == size else "FAILED"
        out.append(
            job_event(
                job_id=job_id,
                status=final,
                size=size,
                log_group=log_group,
                status_summary=summary,
                tags=tags,
                status_reason=None if final == "SUCCEEDED" else "Array Child Job failed",
                time_ms=1_800_000_000_000,
            )
        )
    return out


def multi_node_events(
    job_id: str,
    plans: Sequence[ChildPlan],
    main_node: int = 0,
    *,
    rng: random.Random | None = None,
    log_group: str | None = None,
    tags: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A multi-node job's events in one possible true order: the job RUNNABLE, the main node's events,
    the other nodes' interleaved (they start once the main node runs), the job's end: the main node's."""
    rng = rng or random.Random(0)
    nodes = (len(plans), main_node)
    seqs = [child_events(job_id, i, p, log_group=log_group, tags=tags, nodes=nodes) for i, p in enumerate(plans)]
    job = partial(job_event, job_id=job_id, log_group=log_group, tags=tags, nodes=nodes)
    out = [job(status="RUNNABLE", time_ms=1_699_999_999_000), *seqs[main_node]]
    workers = [seq for i, seq in enumerate(seqs) if i != main_node]
    while workers:
        seq = rng.choice(workers)
        out.append(seq.pop(0))
        workers = [w for w in workers if w]
    ok = plans[main_node].succeeded
    end = job(status="SUCCEEDED" if ok else "FAILED", status_reason=EXITED, time_ms=1_800_000_000_000)
    return [*out, end]


def simple_array(job_id: str, size: int, *, pending: bool = True) -> list[ChildPlan]:
    """Every child succeeds on its first attempt: PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED."""
    return [ChildPlan(pending=pending)] * size
