"""The simulated AWS Batch executor of the sandbox.

moto accepts SubmitJob but runs nothing and emits no events. This executor finds every job
submitted to the emulator (``ListJobs`` per job queue, with a name filter so that jobs in any
status are listed), looks up its launch (the execution record, via the ``byJobId`` index),
plans what each child does from the scenario (attempts, exit codes, failures before the
container starts, run time; retries up to the job's ``retryStrategy.attempts``), and then, on
a schedule:

* puts "Batch Job State Change" (and "Batch Job Queue Blocked") events on the emulated
  **default** bus, where the real rules route them. The events are built by
  :mod:`batchlane.sandbox.simulate` and localised to the real job (queue ARN, job name and ARN,
  job definition, log configuration, retry strategy, timestamps);
* writes each attempt's log lines to CloudWatch Logs (group from the job definition's
  ``awslogs-group``, stream ``<jobDefinitionName>/default/<taskId>``);
* writes ``<outputsUri><index>/outputs.json`` for every child that succeeds, from the child's
  line in the launch's inputs: ``{"echo": <input>, "digest": <sha256 prefix of it>, "index": i}``.

TerminateJob is honoured: a job whose DescribeJobs shows the call's reason has every child that
has not ended yet end FAILED at once (``statusReason`` "Terminated by batchlane: ...", a running
attempt stopped with exit code 143), the array parent FAILED after them.

DescribeJobs answers what is true at the simulated Batch (:meth:`BatchExecutor.describe_now`,
installed into the emulator by :func:`install_describe_jobs`): each job's latest state at its true
time, before any delivery chaos, so the reconciler sees what Batch would tell it, lost events
(``delivery.drop``) included. The executor itself reads the emulator's own record (where
TerminateJob leaves its reason).

Delivery chaos (duplicates, reordering, delay) applies to the events only; logs and outputs
happen at the job's true time. Everything is deterministic given the scenario's seed: the
random generator of a launch is seeded with ``"<seed>:<launchId>"``.

:class:`batchlane.sandbox.local.LocalBatchExecutor` extends this executor: the launches opted in
to local execution run their jobs' commands as processes, and those decide what happens.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchlane.client.records import Executions
from batchlane.common.executions import CHUNK_PREFIX, CHUNK_TAG, LAUNCH_TAG, ChunkRecord, LaunchRecord
from batchlane.common.inputs import index_uri
from batchlane.job import read_inputs
from batchlane.sandbox import simulate
from batchlane.sandbox.backplane import Backplane
from batchlane.sandbox.provision import Provisioned
from batchlane.sandbox.scenario import ChildBehaviour, Delivery, LaunchSpec, Scenario

log = logging.getLogger("batchlane.sandbox")
SIM_EPOCH_MS = 1_700_000_000_000  # simulate's time origin; shifted to the job's submission time
SIM_PREFIX = f"{simulate.JOB_DEFINITION}/default/"
TERMINAL = ("SUCCEEDED", "FAILED")
RAW_HEADER = "X-Batchlane-Sandbox-Raw"  # DescribeJobs with it: the emulator's own record, unchanged
FIRE_BATCH = 200  # actions done per pass of the loop (see _fire_due)


def output_for(input_document: Any, index: int) -> dict[str, Any]:
    """What a sandbox child writes: its input echoed, and a value computed from it."""
    canonical = json.dumps(input_document, sort_keys=True, separators=(",", ":"))
    return {"echo": input_document, "digest": hashlib.sha256(canonical.encode()).hexdigest()[:16], "index": index}


@dataclass(order=True)
class ScheduledAction:
    at: float
    seq: int
    kind: str = field(compare=False)  # emit | logs | output
    job_id: str = field(compare=False)
    payload: Any = field(compare=False)
    child: int | None = field(default=None, compare=False)  # None: the array parent
    true_at: float = field(default=0.0, compare=False)  # when it happens at Batch (before delivery chaos)


def peak_running(events: list[dict[str, Any]]) -> int:
    """The most children STARTING or RUNNING at once, replaying Batch's events in the order they
    were emitted (``BatchExecutor.emitted``): what a concurrency cap must bound."""
    running: set[tuple[str, int]] = set()
    peak = 0
    for event in events:
        detail = event["detail"]
        job, _, index = detail["jobId"].partition(":")
        if detail.get("arrayProperties", {}).get("size") and not index:
            continue  # an array parent
        child = (job, int(index or 0))
        if detail["status"] in ("STARTING", "RUNNING"):
            running.add(child)
        else:
            running.discard(child)
        peak = max(peak, len(running))
    return peak


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


class BatchExecutor(threading.Thread):
    def __init__(
        self,
        session,
        deployment: Provisioned,
        scenario: Scenario | None = None,
        *,
        poll_seconds: float = 0.2,
        step_seconds: float = 0.05,
        on_event: Callable[[dict], None] | None = None,
    ) -> None:
        super().__init__(name="sandbox-batch-executor", daemon=True)
        self.deployment = deployment
        self.config = deployment.config
        self.scenario = scenario or Scenario()
        self.poll_seconds = poll_seconds
        self.step_seconds = step_seconds
        self.on_event = on_event
        self.batch = session.client("batch")
        self.s3 = session.client("s3")  # the inputs, read as a job reads them
        # What AWS writes itself (events, log lines, output uploads): into the emulator directly.
        self.backplane = Backplane.of(session)
        self.executions = Executions(session.client("dynamodb"), self.config.table_name("executions"))
        self.jobs: dict[str, SimulatedJob] = {}
        self.emitted: list[dict] = []  # every event put on the default bus (copies included)
        self._first_seen: dict[str, float] = {}
        self._queue_cursor: dict[str, int] = {}  # job queue ARN -> jobs in it already seen
        self._unadopted: list[tuple[str, str]] = []  # (job ID, its queue's ARN): seen, not simulated yet
        self._ignored: set[str] = set()
        self._heap: list[ScheduledAction] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()  # reentrant: the local executor's steps nest
        self._halt = threading.Event()
        self._streams: set[tuple[str, str]] = set()
        # The executor's own DescribeJobs (TerminateJob's reason) reads the emulator's record as it is.
        self.batch.meta.events.register("before-sign.batch.DescribeJobs", _raw_describe)

    # ------------------------------------------------------------------ public
    def stop(self) -> None:
        self._halt.set()

    def job_of_launch(self, launch_id: str) -> SimulatedJob | None:
        """The launch's job (a chunked launch's first adopted chunk job: see jobs_of_launch)."""
        with self._lock:
            return next((j for j in self.jobs.values() if j.launch_id == launch_id), None)

    def jobs_of_launch(self, launch_id: str) -> list[SimulatedJob]:
        """Every job of the launch adopted so far, by chunk (one for an unchunked launch)."""
        with self._lock:
            return sorted((j for j in self.jobs.values() if j.launch_id == launch_id), key=lambda j: j.offset)

    def run(self) -> None:
        next_poll = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            try:
                if now >= next_poll:
                    self.discover()
                    self.check_terminations()
                    self.tick()
                    next_poll = now + self.poll_seconds
                self._fire_due()
            except Exception:
                if self._halt.is_set():
                    return
                log.exception("sandbox executor step failed")
                time.sleep(0.2)
            with self._lock:
                due = self._heap[0].at if self._heap else next_poll
            self._halt.wait(max(0.0, min(due, next_poll) - time.monotonic()))

    def tick(self) -> None:
        """Called at every poll, after discovery and TerminateJob: what else the executor does
        on its schedule (the simulated executor: nothing; the local one starts processes)."""

    # ------------------------------------------------------------------ discovery
    def discover(self) -> None:
        """Adopt the jobs submitted to batchlane's queues since the last look (Batch's scheduler
        sees its queues: read in the emulator, not listed page by page, every job each time)."""
        for queue_arn in self.deployment.queue_arns.values():
            seen = self._queue_cursor.get(queue_arn, 0)
            submitted = self.backplane.queued_job_ids(queue_arn, seen)
            self._queue_cursor[queue_arn] = seen + len(submitted)
            self._unadopted.extend((job_id, queue_arn) for job_id in submitted if ":" not in job_id)  # not children
        waiting, self._unadopted = self._unadopted, []
        for job_id, queue_arn in waiting:
            if job_id not in self.jobs and job_id not in self._ignored:
                self._adopt(job_id, queue_arn)
                if job_id not in self.jobs and job_id not in self._ignored:
                    self._unadopted.append((job_id, queue_arn))  # its launch record is not written yet: next poll

    def _launch_record(self, job_id: str) -> LaunchRecord | None:
        launch_id = self.executions.launch_id_of_job(job_id)
        return self.executions.record(launch_id) if launch_id else None

    def _chunk_record(self, record: LaunchRecord, job_id: str) -> ChunkRecord | None:
        for item in self.executions.items(record.launch_id, prefix=CHUNK_PREFIX):
            if item.get("jobId") == job_id:
                chunk = ChunkRecord.from_item(item)
                return chunk if chunk.submitted else None
        return None

    def _adopt(self, job_id: str, queue_arn: str) -> None:
        record = self._launch_record(job_id)
        # A chunk job runs once its chunk record holds it (the launch record completes after the initial chunks).
        chunk = self._chunk_record(record, job_id) if record is not None and record.chunks.chunked else None
        if record is None or (chunk is None if record.chunks.chunked else not record.submitted):
            # The launcher records the job right after SubmitJob: look again at the next poll.
            first = self._first_seen.setdefault(job_id, time.monotonic())
            if time.monotonic() - first > 30:
                log.warning("job %s has no batchlane launch record: not simulated", job_id)
                self._ignored.add(job_id)
            return
        definition = self._definition(record)
        options = (definition.get("containerProperties", {}).get("logConfiguration") or {}).get("options") or {}
        job = SimulatedJob(
            job_id=job_id,
            launch_id=record.launch_id,
            record=record,
            definition=definition,
            definition_name=definition.get("jobDefinitionName")
            or str(record.job_definition or "").rsplit("/", 1)[-1].split(":")[0],
            log_group=options.get("awslogs-group") or record.log_group or "/aws/batch/job",
            size=chunk.size if chunk else record.size,
            is_array=chunk.size > 1 if chunk else record.is_array,
            chunk=chunk,
            queue_arn=queue_arn,
        )  # the queue it is in, whatever any record says
        spec = self.scenario.for_launch(job.launch_id) or LaunchSpec(name=job.launch_id)
        actions = self._plan(job, spec)
        with self._lock:
            self.jobs[job_id] = job
            self._schedule(actions, job)

    def _definition(self, record: LaunchRecord) -> dict[str, Any]:
        ref = record.job_definition
        if not ref:
            return {}
        found = self.batch.describe_job_definitions(jobDefinitions=[ref]).get("jobDefinitions", [])
        return found[0] if found else {}

    # ------------------------------------------------------------------ DescribeJobs
    def describe_now(self, job_id: str) -> dict[str, Any] | None:
        """What DescribeJobs says of ``job_id`` (a job or ``<job>:<index>``) at the simulated Batch
        now: its latest state at its true time (the detail of that state's event), the array
        parent's ``statusSummary`` counted from its children. None when the job is not simulated
        (yet), or nothing has happened to it yet."""
        parent_id, _, index = job_id.partition(":")
        now = time.monotonic()
        with self._lock:
            job = self.jobs.get(parent_id)
            if job is None or (index and not job.is_array):
                return None
            history = [
                (t, child, event)
                for t, child, event in job.history
                if t <= now and not (child in job.outputs_pending and event["detail"]["status"] == "SUCCEEDED")
            ]
        target = (int(index) if index.isdigit() else -1) if index else (None if job.is_array else 0)
        latest: dict[int | None, tuple[float, dict]] = {}
        for t, child, event in history:
            if child not in latest or t >= latest[child][0]:
                latest[child] = (t, event)
        if target not in latest:
            return None
        detail = copy.deepcopy(latest[target][1]["detail"])
        if job.is_array and target is None:
            summary = dict.fromkeys(
                ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"), 0
            )
            for i in range(job.size):
                summary[(latest[i][1]["detail"]["status"]) if i in latest else "PENDING"] += 1
            detail.setdefault("arrayProperties", {})["statusSummary"] = summary
        return detail

    def described(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """The emulator's DescribeJobs entry of a job -> the simulated Batch's. moto runs nothing
        (it reports every job SUCCEEDED at once): a job not started yet here is SUBMITTED. A
        TerminateJob reason moto recorded shows until the job has ended, as at Batch."""
        job_id = str(recorded.get("jobId", ""))
        simulated = self.describe_now(job_id)
        if simulated is None:
            simulated = copy.deepcopy(recorded)
            simulated["status"] = "SUBMITTED"
            simulated["attempts"] = []
            for key in ("startedAt", "stoppedAt", "statusReason"):
                simulated.pop(key, None)
            _, _, index = job_id.partition(":")
            if index.isdigit():
                simulated["arrayProperties"] = {"index": int(index)}
            elif isinstance(simulated.get("arrayProperties"), dict) and "size" in simulated["arrayProperties"]:
                size = int(simulated["arrayProperties"]["size"])
                simulated["arrayProperties"]["statusSummary"] = {"SUBMITTED": size}
        if recorded.get("statusReason") and simulated.get("status") not in TERMINAL:
            simulated["statusReason"] = recorded["statusReason"]
        return simulated

    # ------------------------------------------------------------------ TerminateJob
    def check_terminations(self) -> None:
        """Honour TerminateJob: moto records the call (``statusReason`` in DescribeJobs) but runs
        nothing; stop the children of a terminated job that have not ended yet."""
        with self._lock:
            live = [j.job_id for j in self.jobs.values() if j.terminated is None and not j.finished]
        for i in range(0, len(live), 100):
            for described in self.batch.describe_jobs(jobs=live[i : i + 100]).get("jobs", []):
                reason = described.get("statusReason")
                job = self.jobs.get(described.get("jobId", ""))
                if reason and job is not None:
                    self.terminate(job, reason)

    def terminate(self, job: SimulatedJob, reason: str) -> None:
        """What Batch does on TerminateJob of a job (an array parent stops every child): each
        child not yet final ends FAILED now, with the reason in ``statusReason`` (a running
        attempt is stopped: exit code 143); nothing it had still to do happens."""
        now = time.monotonic()
        now_ms = int(time.time() * 1000)
        status_reason = f"Terminated by batchlane: {reason.removeprefix('batchlane: ')}"
        with self._lock:
            if job.terminated is not None:
                return
            job.terminated = reason
            last: dict[int | None, dict] = {}
            for t, child, event in job.history:
                if t <= now:
                    last[child] = event
            stopped = [
                i for i in range(job.size) if (last.get(i) or {}).get("detail", {}).get("status") not in TERMINAL
            ]
            if not stopped:
                return
            job.unsettled = 0  # every child still going ends now, and the parent after them
            gone = {i for i in stopped} | {None}
            keep = [a for a in self._heap if not (a.job_id == job.job_id and a.true_at > now and a.child in gone)]
            dropped = len(self._heap) - len(keep)
            heapq.heapify(keep)
            self._heap = keep
            max_attempts = max(1, job.record.attempts)
            new: list[ScheduledAction] = []
            at = now + self.step_seconds
            for index in stopped:
                event = self._terminated_event(job, index, last.get(index), status_reason, now_ms, max_attempts)
                attempts = event["detail"]["attempts"]
                if (last.get(index) or {}).get("detail", {}).get("status") == "RUNNING":
                    new.append(
                        ScheduledAction(
                            at, next(self._seq), "logs", job.job_id, (index, len(attempts) - 1, "end", event), index, at
                        )
                    )
                new.append(ScheduledAction(at, next(self._seq), "emit", job.job_id, event, index, at))
                job.history.append((at, index, event))
                job.children_final[index] = "FAILED"
            if job.is_array:
                ok = sum(1 for v in job.children_final.values() if v == "SUCCEEDED")
                parent = self._parent_end_event(job, ok, status_reason)  # FAILED: a child was stopped
                parent["detail"]["stoppedAt"] = now_ms
                new.append(
                    ScheduledAction(at + self.step_seconds, next(self._seq), "emit", job.job_id, parent, None, at)
                )
                job.history.append((at + self.step_seconds, None, parent))
            for a in new:
                heapq.heappush(self._heap, a)
            job.pending_actions += len(new) - dropped
        log.info("job %s terminated (%s): %d children stopped", job.job_id, reason, len(stopped))

    def _terminated_event(
        self, job: SimulatedJob, index: int, last: dict | None, status_reason: str, now_ms: int, max_attempts: int
    ) -> dict[str, Any]:
        if last is None:  # no event yet (terminated before it was scheduled)
            event = simulate.job_event(
                job_id=job.job_id,
                status="FAILED",
                index=index if job.is_array else None,
                log_group=job.log_group,
                region=self.config.region,
                retry_attempts=max_attempts,
            )
            event = self._localize(event, job, max_attempts)
        else:
            event = copy.deepcopy(last)
        event["detail-type"] = simulate.STATE_CHANGE  # the last one may have been a Queue Blocked event
        detail = event["detail"]
        event["resources"] = [detail["jobArn"]]
        if last is not None and detail["status"] == "RUNNING":  # the running attempt is stopped
            container = detail.get("container", {})
            detail["attempts"] = [
                *detail.get("attempts", []),
                {
                    "container": {
                        "taskArn": container.get("taskArn"),
                        "exitCode": 143,
                        "logStreamName": container.get("logStreamName"),
                        "networkInterfaces": [],
                    },
                    "startedAt": detail.get("startedAt") or now_ms,
                    "stoppedAt": now_ms,
                    "statusReason": status_reason,
                },
            ]
            container["exitCode"] = 143
        detail["status"] = "FAILED"
        detail["statusReason"] = status_reason
        detail["stoppedAt"] = now_ms
        return event

    # ------------------------------------------------------------------ planning
    def _plan(self, job: SimulatedJob, spec: LaunchSpec) -> list[ScheduledAction]:
        """What the job does at Batch, when (its true timeline), then as delivered."""
        max_attempts = max(1, job.record.attempts)
        step = self.step_seconds
        start = time.monotonic() + step
        timeline: list[tuple[float, str, Any, int | None]] = []  # (true time, kind, payload, child)
        child_ends: list[float] = []
        outcomes: dict[int, str] = {}
        for index in range(job.size):  # the job's own (array) index; its input and output at the global one
            behaviour: ChildBehaviour = spec.child(job.offset + index)
            plan = behaviour.plan(max_attempts, pending=job.is_array)
            run = behaviour.run_seconds if behaviour.run_seconds is not None else spec.run_seconds
            events = simulate.child_events(job.job_id, index, plan, is_array=job.is_array, log_group=job.log_group)
            t = start + step * (index % 20)
            previous = None
            for event in events:
                event = self._localize(copy.deepcopy(event), job, max_attempts)
                self._apply_failure_reasons(event, behaviour)
                status = event["detail"]["status"]
                t += run if previous == "RUNNING" else step
                if previous == "RUNNING":  # the attempt that was running has ended
                    timeline.append((t, "logs", (index, len(event["detail"]["attempts"]) - 1, "end", event), index))
                if status == "SUCCEEDED":
                    timeline.append((t, "output", job.offset + index, index))
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

    def _schedule(self, actions: list[ScheduledAction], job: SimulatedJob) -> None:
        """Add actions of ``job`` to the schedule (the caller holds the lock)."""
        job.pending_actions += len(actions)
        for a in actions:
            heapq.heappush(self._heap, a)

    def _deliver(
        self, job: SimulatedJob, d: Delivery, timeline: list[tuple[float, str, Any, int | None]]
    ) -> list[ScheduledAction]:
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
        detail["jobArn"] = parent_arn if index is None else f"{parent_arn}:{index}"
        detail["jobName"] = job.job_name or detail["jobName"]
        detail["jobQueue"] = job.queue_arn
        detail["jobDefinition"] = definition.get("jobDefinitionArn") or rec.job_definition or detail["jobDefinition"]
        detail["retryStrategy"] = {"attempts": max_attempts, "evaluateOnExit": []}
        detail["tags"] = {
            "resourceArn": parent_arn,
            LAUNCH_TAG: job.launch_id,
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

    # ------------------------------------------------------------------ doing
    def _fire_due(self) -> None:
        """Everything due now. A child's logs and output object are written before the events due
        with them are put (a container writes its output, then exits; a log link shown already has
        lines), and the events then go ten to a PutEvents call, in their order: when the executor
        is behind its schedule, a batch holds many children's events, not one or two. At most
        ``FIRE_BATCH`` actions a call, in schedule order (an output or log action is due before the
        events that follow it, so it lands in the same call or an earlier one): far behind, events
        still flow steadily rather than after every overdue side effect."""
        now = time.monotonic()
        due: list[ScheduledAction] = []
        with self._lock:
            while self._heap and self._heap[0].at <= now and len(due) < FIRE_BATCH:
                due.append(heapq.heappop(self._heap))
        emits: list[ScheduledAction] = []
        for action in due:
            if action.kind == "emit":
                emits.append(action)
                continue
            try:
                if action.kind == "logs":
                    self._write_logs(action)
                elif action.kind == "output":
                    self._write_output(action)
            except Exception:
                # One child's side effect failed: the job goes on (its events, the others' work).
                log.exception("sandbox: %s of job %s child %s failed", action.kind, action.job_id, action.child)
            self._done(action)
        self._flush(emits)

    def _done(self, action: ScheduledAction) -> None:
        with self._lock:
            job = self.jobs.get(action.job_id)
            if job is not None:
                job.pending_actions -= 1
                if action.kind == "emit":
                    job.events_emitted += 1

    def _flush(self, emits: list[ScheduledAction]) -> None:
        for i in range(0, len(emits), 10):
            chunk = emits[i : i + 10]
            now = datetime.now(UTC)
            entries = [
                {
                    "Source": a.payload["source"],
                    "DetailType": a.payload["detail-type"],
                    "Detail": json.dumps(a.payload["detail"]),
                    "Resources": a.payload["resources"],
                    "EventBusName": "default",
                    "Time": now,
                }
                for a in chunk
            ]
            response = self.backplane.put_events(entries)
            if response.get("FailedEntryCount"):
                log.warning("PutEvents refused %s entries: %s", response["FailedEntryCount"], response["Entries"])
            for a in chunk:
                self.emitted.append(a.payload)
                if self.on_event:
                    self.on_event(a.payload)
                self._done(a)

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) not in self._streams:
            self.backplane.ensure_log_stream(group, stream)
            self._streams.add((group, stream))

    def _write_logs(self, action: ScheduledAction) -> None:
        index, attempt, phase, event = action.payload
        job = self.jobs[action.job_id]
        detail = event["detail"]
        if phase == "start":
            stream = detail["container"]["logStreamName"]
            lines = [
                f"[sandbox] {detail['jobName']} child {index} attempt {attempt + 1} started on "
                f"{detail['jobQueue'].rsplit('/', 1)[-1]}",
                f"[sandbox] input: {json.dumps(self._input(job, index))}",
            ]
        else:
            record = detail["attempts"][attempt]
            stream = record.get("container", {}).get("logStreamName")
            if not stream:  # never started: no log stream
                return
            code = record.get("container", {}).get("exitCode")
            lines = [
                f"[sandbox] wrote outputs for child {index}"
                if code == 0
                else f"[sandbox] error: child {index} failed (simulated)",
                f"[sandbox] exit code {code}",
            ]
        self._ensure_stream(job.log_group, stream)
        base = int(time.time() * 1000)
        self.backplane.put_log_events(
            job.log_group, stream, [{"timestamp": base + n, "message": line} for n, line in enumerate(lines)]
        )

    def _input(self, job: SimulatedJob, index: int) -> Any:
        """Input of the job's child ``index`` (its own index), read as batchlane.job reads it: through
        the index beside the inputs when there is one, else by streaming the lines. The job's lines
        are read together, once (a chunk's lines lie side by side): one child's read costs as much."""
        if job.inputs is None:
            job.inputs = self._read_inputs(job)
        return job.inputs[index] if index < len(job.inputs) else None

    def _read_inputs(self, job: SimulatedJob) -> list[Any]:
        uri = job.record.inputs_uri or ""
        if not uri.startswith("s3://"):
            return []
        for index_at in (index_uri(uri), None):
            try:
                return read_inputs(self.s3, uri, index_at, job.offset, job.size)
            except Exception as exc:
                if index_at is None:
                    log.warning(
                        "cannot read inputs %d to %d of %s: %s", job.offset, job.offset + job.size - 1, uri, exc
                    )
        return []

    def _write_output(self, action: ScheduledAction) -> None:
        job = self.jobs[action.job_id]
        index = action.payload
        base = job.record.outputs_uri or ""
        try:
            if base.startswith("s3://"):
                bucket, key = f"{base}{index}/outputs.json"[5:].split("/", 1)
                self.backplane.put_json(bucket, key, output_for(self._input(job, action.child), index))
        finally:  # written or failed, the container has exited: DescribeJobs shows what its events say
            with self._lock:
                job.outputs_pending.discard(action.child)


def _raw_describe(request, **_kwargs) -> None:
    request.headers[RAW_HEADER] = "1"


def install_describe_jobs(executor: BatchExecutor) -> Callable[[], None]:
    """Make the emulator's DescribeJobs answer as the simulated Batch (``executor.described``)
    for every caller but the executor; returns the function that puts moto's answer back. The
    emulator runs in this process: its response class is patched while the sandbox runs."""
    from moto.batch import responses

    original = responses.BatchResponse.describejobs

    def describejobs(self) -> str:
        answer = original(self)
        if self.headers.get(RAW_HEADER):
            return answer
        jobs = json.loads(answer).get("jobs", [])
        return json.dumps({"jobs": [executor.described(job) for job in jobs]})

    responses.BatchResponse.describejobs = describejobs

    def uninstall() -> None:
        responses.BatchResponse.describejobs = original

    return uninstall
