"""The simulated Batch executor's plan (batchlane.sandbox.executor): what a job's children do at
Batch and when, their events localised to the real job, then as EventBridge delivers them."""

from __future__ import annotations

import copy
import heapq
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, TEAM_TAG, ChunkRecord, LaunchRecord
from batchlane.sandbox import simulate
from batchlane.sandbox.capacity import Capacity
from batchlane.sandbox.scenario import ChildBehaviour, Delivery, LaunchSpec, Scenario

if TYPE_CHECKING:
    from batchlane.deployment.config import DeploymentConfig
    from batchlane.sandbox.provision import Provisioned

SIM_EPOCH_MS = 1_700_000_000_000  # simulate's time origin; shifted to the job's submission time
SIM_PREFIX = f"{simulate.JOB_DEFINITION}/default/"
TERMINAL = ("SUCCEEDED", "FAILED")
# What a job does at Batch: (true time, kind, payload, child or None for the array parent).
Timeline = list[tuple[float, str, Any, int | None]]


@dataclass(order=True)
class ScheduledAction:
    at: float
    seq: int
    kind: str = field(compare=False)  # emit | logs | output
    job_id: str = field(compare=False)
    payload: Any = field(compare=False)
    child: int | None = field(default=None, compare=False)  # None: the array parent
    true_at: float = field(default=0.0, compare=False)  # when it happens at Batch (before delivery chaos)


@dataclass
class SimulatedJob:
    job_id: str
    launch_id: str
    record: LaunchRecord
    definition: dict[str, Any]  # DescribeJobDefinitions of the job's definition
    definition_name: str
    log_group: str
    size: int
    is_array: bool
    pending_actions: int = 0
    events_emitted: int = 0
    events_dropped: int = 0  # events the scenario's delivery.drop lost (never put on the bus)
    children_final: dict[int, str] = field(default_factory=dict)
    # Children (the job's own indexes) whose output object is scheduled and not written yet: until
    # it is, DescribeJobs does not show them SUCCEEDED (a container writes its output, then exits).
    outputs_pending: set[int] = field(default_factory=set)
    inputs: list[Any] | None = None  # the children's inputs, read at once when the first one starts
    # (true time, child or None, event): what the job does at Batch, for TerminateJob
    history: list[tuple[float, int | None, dict]] = field(default_factory=list)
    terminated: str | None = None  # the TerminateJob reason, once seen
    # Local execution: the children (and the array parent) whose end is not known yet; the
    # simulated executor knows every end in advance (0).
    unsettled: int = 0
    # A chunk of a chunked map task (docs/chunked-maps.md): its own job, children offset..offset+size-1.
    chunk: ChunkRecord | None = None
    queue_arn: str = ""  # the ARN of the job queue it was found in, as Batch's events give it
    vcpus: float = 1.0  # what each child needs (the definition's, or SubmitJob's override)

    @property
    def nodes(self) -> tuple[int, int] | None:
        """A multi-node job's (numNodes, mainNode): its nodes are its children."""
        rec = self.record
        return None if rec.nodes is None else (rec.nodes, rec.main_node or 0)

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit("/", 1)[-1]

    @property
    def offset(self) -> int:
        return self.chunk.offset if self.chunk else 0

    @property
    def job_arn(self) -> str | None:
        return self.chunk.job_arn if self.chunk else self.record.job_arn

    @property
    def job_name(self) -> str:
        return self.chunk.job_name if self.chunk else self.record.job_name

    @property
    def submitted_at(self) -> int | None:
        return self.chunk.submitted_at if self.chunk else self.record.submitted_at

    @property
    def finished(self) -> bool:
        return self.pending_actions == 0 and self.unsettled == 0


class ExecutorState:
    """What the executor's parts (planning, termination, firing) share; BatchExecutor sets it."""

    config: DeploymentConfig
    deployment: Provisioned
    scenario: Scenario
    capacity: Capacity
    step_seconds: float
    jobs: dict[str, SimulatedJob]
    _heap: list[ScheduledAction]
    _seq: Iterator[int]
    _lock: threading.RLock


class Planning(ExecutorState):
    # ------------------------------------------------------------------ planning
    def _plan(self, job: SimulatedJob, spec: LaunchSpec) -> list[ScheduledAction]:
        """What the job does at Batch, when (its true timeline), then as delivered."""
        max_attempts = max(1, job.record.attempts)
        step = self.step_seconds
        start = time.monotonic() + step
        timeline: Timeline = []
        child_ends: list[float] = []
        outcomes: dict[int, str] = {}
        for index in range(job.size):  # the job's own (array) index; its input and output at the global one
            behaviour: ChildBehaviour = spec.child(job.offset + index)
            plan = behaviour.plan(max_attempts, pending=job.is_array)
            run = behaviour.run_seconds if behaviour.run_seconds is not None else spec.run_seconds
            events = simulate.child_events(
                job.job_id, index, plan, is_array=job.is_array, log_group=job.log_group, nodes=job.nodes
            )
            t = start + step * (index % 20)
            previous = None
            for event in events:
                event = self._localize(copy.deepcopy(event), job, max_attempts)
                self._apply_failure_reasons(event, behaviour)
                status = event["detail"]["status"]
                t += run if previous == "RUNNING" else step
                if status == "STARTING":  # the attempt waits for its compute environment's vCPUs
                    t = self.capacity.start(job.job_id, job.queue_name, job.vcpus, t, step + run)
                if previous == "RUNNING":  # the attempt that was running has ended
                    timeline.append((t, "logs", (index, len(event["detail"]["attempts"]) - 1, "end", event), index))
                if status == "SUCCEEDED" and (job.nodes is None or index == job.nodes[1]):  # the main node writes
                    timeline.append((t, "output", job.offset + index if job.nodes is None else 0, index))
                    job.outputs_pending.add(index)
                timeline.append((t, "emit", event, index))
                if status == "RUNNING" and event["detail"]["container"].get("logStreamName"):
                    timeline.append((t, "logs", (index, len(event["detail"]["attempts"]), "start", event), index))
                previous = status
            outcomes[index] = "SUCCEEDED" if plan.succeeded else "FAILED"
            child_ends.append(t)
        if job.is_array:
            timeline.append((start - step / 2, "emit", self._parent_pending_event(job), None))
            ok = sum(1 for v in outcomes.values() if v == "SUCCEEDED")
            timeline.append((max(child_ends) + step, "emit", self._parent_end_event(job, ok), None))
        elif job.nodes is not None:  # the job itself: RUNNABLE, then it ends as its main node does
            timeline.append((start - step / 2, "emit", self._multi_node_event(job, "RUNNABLE"), None))
            end = outcomes[job.nodes[1]]
            timeline.append((max(child_ends) + step, "emit", self._multi_node_event(job, end), None))
        job.children_final = outcomes
        return self._deliver(job, spec.delivery, timeline)

    def _parent_pending_event(self, job: SimulatedJob) -> dict[str, Any]:
        """The array parent's first event: PENDING, every child SUBMITTED."""
        max_attempts = max(1, job.record.attempts)
        event = simulate.job_event(
            job_id=job.job_id,
            status="PENDING",
            size=job.size,
            log_group=job.log_group,
            status_summary={"SUBMITTED": job.size},
            region=self.config.region,
            retry_attempts=max_attempts,
        )
        return self._localize(event, job, max_attempts)

    def _parent_end_event(self, job: SimulatedJob, succeeded: int, reason: str | None = None) -> dict[str, Any]:
        """The array parent's last event once its children have ended, ``succeeded`` of them
        SUCCEEDED: SUCCEEDED when all did, else FAILED (``reason``, default Batch's wording)."""
        max_attempts = max(1, job.record.attempts)
        final = "SUCCEEDED" if succeeded == job.size else "FAILED"
        event = simulate.job_event(
            job_id=job.job_id,
            status=final,
            size=job.size,
            log_group=job.log_group,
            status_summary={"SUCCEEDED": succeeded, "FAILED": job.size - succeeded},
            region=self.config.region,
            status_reason=None if final == "SUCCEEDED" else reason or "Array Child Job failed",
            retry_attempts=max_attempts,
        )
        return self._localize(event, job, max_attempts)

    def _multi_node_event(self, job: SimulatedJob, status: str) -> dict[str, Any]:
        max_attempts = max(1, job.record.attempts)
        reason = simulate.EXITED if status in TERMINAL else None
        event = simulate.job_event(
            job_id=job.job_id,
            status=status,
            nodes=job.nodes,
            log_group=job.log_group,
            region=self.config.region,
            status_reason=reason,
            retry_attempts=max_attempts,
        )
        return self._localize(event, job, max_attempts)

    def _schedule(self, actions: list[ScheduledAction], job: SimulatedJob) -> None:
        """Add actions of ``job`` to the schedule (the caller holds the lock)."""
        job.pending_actions += len(actions)
        for a in actions:
            heapq.heappush(self._heap, a)

    def _deliver(self, job: SimulatedJob, d: Delivery, timeline: Timeline) -> list[ScheduledAction]:
        """The timeline's events as EventBridge delivers them (lost, late, out of order, twice);
        logs and outputs at their true time."""
        rng = random.Random(f"{self.scenario.seed}:{job.launch_id}")
        actions: list[ScheduledAction] = []
        for t, kind, payload, child in sorted(timeline, key=lambda x: x[0]):
            if kind != "emit":
                actions.append(ScheduledAction(t, next(self._seq), kind, job.job_id, payload, child, t))
                continue
            job.history.append((t, child, payload))
            if d.drop and rng.random() < d.drop:
                job.events_dropped += 1  # lost on the way: it happened at Batch, nobody hears of it
                continue
            at = t + d.delay_seconds + (rng.uniform(0, d.jitter_seconds) if d.jitter_seconds else 0.0)
            if d.reorder and rng.random() < d.reorder:
                at += rng.uniform(0, d.reorder_window_seconds)
            actions.append(ScheduledAction(at, next(self._seq), kind, job.job_id, payload, child, t))
            if d.duplicate and rng.random() < d.duplicate:
                actions.append(
                    ScheduledAction(
                        at + rng.uniform(0, d.reorder_window_seconds),
                        next(self._seq),
                        kind,
                        job.job_id,
                        payload,
                        child,
                        t,
                    )
                )
        return actions

    def _localize(self, event: dict[str, Any], job: SimulatedJob, max_attempts: int) -> dict[str, Any]:
        """simulate's generic event -> this job's event (names, ARNs, definition, times)."""
        rec = job.record
        detail = event["detail"]
        definition = job.definition
        props = definition.get("containerProperties") or {}
        offset = (job.submitted_at or SIM_EPOCH_MS) - SIM_EPOCH_MS
        parent_arn = job.job_arn or detail["tags"]["resourceArn"]
        index = (detail.get("arrayProperties") or {}).get("index")
        node = (detail.get("nodeDetails") or {}).get("nodeIndex")
        detail["jobArn"] = parent_arn if index is None else f"{parent_arn}:{index}"
        detail["jobArn"] = detail["jobArn"] if node is None else f"{parent_arn}#{node}"
        detail["jobName"] = job.job_name or detail["jobName"]
        detail["jobQueue"] = job.queue_arn
        detail["jobDefinition"] = definition.get("jobDefinitionArn") or rec.job_definition or detail["jobDefinition"]
        detail["retryStrategy"] = {"attempts": max_attempts, "evaluateOnExit": []}
        detail["tags"] = {
            "resourceArn": parent_arn,
            LAUNCH_TAG: job.launch_id,
            TEAM_TAG: rec.team,  # with the launch id, the launch's key (as the launcher tags the job)
            **({CHUNK_TAG: str(job.chunk.chunk)} if job.chunk else {}),
        }
        detail.pop("someFieldAwsAddsLater", None)
        container = detail.setdefault("container", {})
        for key in ("image", "command", "vcpus", "memory", "jobRoleArn", "executionRoleArn", "resourceRequirements"):
            if key in props:
                container[key] = props[key]
        container["logConfiguration"] = props.get("logConfiguration") or {
            "logDriver": "awslogs",
            "options": {"awslogs-group": job.log_group},
        }
        if definition.get("platformCapabilities"):
            detail["platformCapabilities"] = definition["platformCapabilities"]
        prefix = f"{job.definition_name}/default/"
        for holder in [container, *[a.get("container", {}) for a in detail.get("attempts", [])]]:
            stream = holder.get("logStreamName")
            if stream and stream.startswith(SIM_PREFIX):
                holder["logStreamName"] = prefix + stream[len(SIM_PREFIX) :]
        for holder in [detail, *detail.get("attempts", [])]:
            for key in ("createdAt", "startedAt", "stoppedAt"):
                if holder.get(key):
                    holder[key] = int(holder[key]) + offset
        event["resources"] = (
            [detail["jobArn"]]
            if event["detail-type"] != simulate.QUEUE_BLOCKED
            else [detail["jobArn"], detail["jobQueue"]]
        )
        event["region"] = self.config.region
        event["account"] = self.deployment.account
        return event

    @staticmethod
    def _apply_failure_reasons(event: dict[str, Any], behaviour: ChildBehaviour) -> None:
        detail = event["detail"]
        attempts = detail.get("attempts", [])
        for k, attempt in enumerate(attempts, start=1):
            failure = behaviour.failure(k)
            if failure is None:
                continue
            if failure.error:
                attempt.setdefault("container", {})["reason"] = failure.error
            if failure.reason:
                attempt["statusReason"] = failure.reason
        if detail["status"] == "FAILED" and attempts:
            failure = behaviour.failure(len(attempts))
            if failure is not None:
                detail["statusReason"] = (
                    failure.reason or attempts[-1].get("statusReason") or detail.get("statusReason")
                )
