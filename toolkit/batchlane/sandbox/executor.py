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

The executor's parts: :mod:`batchlane.sandbox.executor_plan` plans a job's timeline,
:mod:`batchlane.sandbox.executor_terminate` answers DescribeJobs and honours TerminateJob, and this
module finds the jobs and does what is due (events, logs, outputs).

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

import hashlib
import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchlane.client.records import Executions
from batchlane.common.executions import CHUNK_PREFIX, ChunkRecord, LaunchRecord
from batchlane.common.inputs import index_uri
from batchlane.job import read_inputs
from batchlane.sandbox.backplane import Backplane
from batchlane.sandbox.capacity import Capacity
from batchlane.sandbox.executor_plan import ScheduledAction, SimulatedJob
from batchlane.sandbox.executor_terminate import Termination, ask_for_raw_record
from batchlane.sandbox.local_execution import submission_of
from batchlane.sandbox.provision import Provisioned
from batchlane.sandbox.scenario import LaunchSpec, Scenario

log = logging.getLogger("batchlane.sandbox")
FIRE_BATCH = 200  # actions done per pass of the loop (see _fire_due)


def output_for(input_document: Any, index: int) -> dict[str, Any]:
    """What a sandbox child writes: its input echoed, and a value computed from it."""
    canonical = json.dumps(input_document, sort_keys=True, separators=(",", ":"))
    return {"echo": input_document, "digest": hashlib.sha256(canonical.encode()).hexdigest()[:16], "index": index}


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


class BatchExecutor(Termination, threading.Thread):
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
        self.capacity = Capacity.of(self.config)
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
        self.batch.meta.events.register("before-sign.batch.DescribeJobs", ask_for_raw_record)

    @property
    def _priority(self) -> dict[str, int]:
        """Each job queue's priority, by its ARN."""
        by_name = {self.config.queue_name(q): q.priority for q in self.config.job_queues}
        return {arn: by_name.get(arn.rsplit("/", 1)[-1], 0) for arn in self.deployment.queue_arns.values()}

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

    def log_stream(self, launch_id: str, index: int, attempt: int) -> str | None:
        """The log stream the events of the launch's child ``index`` named for ``attempt``."""
        job = self.job_of_launch(launch_id)
        for _, child, event in job.history if job else ():
            attempts = event["detail"].get("attempts") or []
            if child == index and len(attempts) > attempt:
                stream = (attempts[attempt].get("container") or {}).get("logStreamName")
                if stream:
                    return stream
        return None

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
        waiting.sort(key=lambda entry: -self._priority.get(entry[1], 0))  # Batch serves queues by priority
        for job_id, queue_arn in waiting:
            if job_id not in self.jobs and job_id not in self._ignored:
                self._adopt(job_id, queue_arn)
                if job_id not in self.jobs and job_id not in self._ignored:
                    self._unadopted.append((job_id, queue_arn))  # its launch record is not written yet: next poll

    def _launch_record(self, job_id: str) -> LaunchRecord | None:
        pk = self.executions.launch_key_of_job(job_id)
        return self.executions.record_at(pk) if pk else None

    def _chunk_record(self, record: LaunchRecord, job_id: str) -> ChunkRecord | None:
        for item in self.executions.items_at(record.key, prefix=CHUNK_PREFIX):
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
            queue_arn=queue_arn,  # the queue it is in, whatever any record says
            vcpus=submission_of(self.deployment.account, self.config.region, job_id).vcpus,
        )
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
        index = 0 if job.nodes is not None else index  # every node of a multi-node job reads the task's one input
        return job.inputs[index] if index < len(job.inputs) else None

    def _read_inputs(self, job: SimulatedJob) -> list[Any]:
        uri = job.record.inputs_uri or ""
        if not uri.startswith("s3://"):
            return []
        count = 1 if job.nodes is not None else job.size
        for index_at in (index_uri(uri), None):
            try:
                return read_inputs(self.s3, uri, index_at, job.offset, count)
            except Exception as exc:
                if index_at is None:
                    log.warning("cannot read inputs %d to %d of %s: %s", job.offset, job.offset + count - 1, uri, exc)
        return []

    def _write_output(self, action: ScheduledAction) -> None:
        job = self.jobs[action.job_id]
        index = action.payload  # the child's index in the launch; its own in the job is index - offset
        base = job.record.outputs_uri or ""
        try:
            if base.startswith("s3://"):
                bucket, key = f"{base}{index}/outputs.json"[5:].split("/", 1)
                self.backplane.put_json(bucket, key, output_for(self._input(job, index - job.offset), index))
        finally:  # written or failed, the container has exited: DescribeJobs shows what its events say
            with self._lock:
                job.outputs_pending.discard(action.child if action.child is not None else index - job.offset)
