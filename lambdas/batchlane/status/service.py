"""Aggregator service: a batch of Batch events -> per-launch status items, phase, side effects.

Per Lambda batch and launch: one read of the touched children (BatchGetItem), the events folded
in memory (``merge_child``: a join, so order and duplicates do not matter), then **one**
transaction that writes only the children whose state advanced (conditioned on the revision
read) and adds their count deltas to the summary. A batch of duplicates or stale events writes
nothing. When the phase that follows from the counts changes, the side effects run first
(TerminateJob when the launch can no longer succeed, outputs when it succeeded, "Task Status
Changed"), then the phase is written conditionally: a retry repeats them rather than losing them.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from batchlane.common.errors import TransientError
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.status.events import ForeignEvent, MalformedEvent, parse_event
from batchlane.status.fold import (
    FINAL_PHASES, RANK, ChildState, Observation, ParentState, add_deltas, count_delta, decide_phase,
    initial_counts, merge_child, merge_parent, min_successes, observe,
)
from batchlane.status.outputs import assemble_outputs, launch_error_summary

from batchlane import ABORT_REJECTED, ABORT_REQUESTED, STATUS_CHANGED  # noqa: F401  (used by the handler)
LAUNCH_TAG = "batchlane:launchId"  # the launcher tags every job with it (propagateTags: children too)
CONTENTION_RETRIES = 5
CHILDREN_PER_TRANSACTION = 98  # + the parent + the summary = DynamoDB's 100 items
FOREIGN_MEMORY_SECONDS = 300  # an untagged job without a launch record is not looked up again for this long


class LaunchNotFound(TransientError):
    """No launch record names this Batch job (yet): retried, then dead-lettered."""


class ForeignJob(Exception):
    """A Batch job in batchlane's queues that batchlane did not launch: logged, counted, acknowledged."""


class WriteConflict(Exception):
    """A conditional write lost a race with another writer: read, merge and write again."""


class Contention(TransientError):
    """Other writers kept winning: the message is retried later."""


class Store(Protocol):
    def find_launch(self, job_id: str) -> dict[str, Any] | None: ...
    def get_launch(self, launch_id: str) -> dict[str, Any] | None: ...
    def read_states(self, launch_id: str, indexes: list[int], parent: bool) -> tuple[dict, Any]: ...
    def commit(self, launch_id: str, children: list, parent: Any, summary: dict[str, Any]) -> None: ...
    def summary(self, launch_id: str) -> dict[str, Any] | None: ...
    def set_phase(self, launch_id: str, old_phase: str | None, fields: dict[str, Any],
                  remove: tuple[str, ...] = ()) -> bool: ...
    def claim_progress(self, launch_id: str, previous: int | None, now_ms: int) -> bool: ...
    def all_children(self, launch_id: str) -> list[ChildState]: ...


class Terminator(Protocol):
    def terminate(self, job_id: str, reason: str) -> None: ...


class Outputs(Protocol):
    def read_many(self, uris: dict[int, str]) -> dict[int, dict[str, Any] | None]: ...
    def write(self, uri: str, value: Any) -> None: ...


class Announcer(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Counter(Protocol):
    def count(self, name: str, value: int = 1, **dimensions: str) -> None: ...


class Log(Protocol):
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


def counts_of(summary: dict[str, Any] | None, size: int) -> dict[str, int]:
    counts = initial_counts(size)
    for k, v in (summary or {}).items():
        if k.startswith("n_") and k[2:] in counts:
            counts[k[2:]] += int(v)
    return counts


def assembled_outputs_uri(outputs_uri: str) -> str:
    """``s3://b/<base>outputs/`` -> ``s3://b/<base>outputs.json`` (next to the inputs)."""
    return outputs_uri.rstrip("/") + ".json"


def queue_name(arn: str | None) -> str:
    return (arn or "unknown").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class AbortRequest:
    """A "Task Abort Requested" event: ``launch_id`` None when the event names none."""

    launch_id: str | None
    reason: str | None = None


def abort_request(body: str | bytes | dict) -> AbortRequest | None:
    """The abort request in an SQS body, or None when the body is not one."""
    try:
        data = body if isinstance(body, dict) else json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("detail-type") != ABORT_REQUESTED:
        return None
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    launch_id = detail.get("launchId")
    reason = detail.get("reason")
    return AbortRequest(
        launch_id if isinstance(launch_id, str) and launch_id.strip() and len(launch_id) <= 256 else None,
        reason[:500] if isinstance(reason, str) and reason.strip() else None,
    )


@dataclass
class _Batch:
    """The observations of one launch in one Lambda batch."""

    message_ids: list[str] = field(default_factory=list)
    launch_tag: str | None = None  # the batchlane:launchId tag of the job, when its events carry it
    children: dict[int, ChildState] = field(default_factory=dict)
    parent: ParentState | None = None
    blocked: str | None = None
    started: bool = False  # some child reached STARTING or later: a block no longer applies

    def add(self, obs: Observation) -> None:
        if obs.child is not None:
            c = obs.child
            prev = self.children.get(c.index)
            self.children[c.index] = c if prev is None else prev.join(c)
            if c.blocked:
                self.blocked = c.blocked
            elif RANK[c.status] >= RANK["STARTING"]:
                self.started = True
        else:
            self.parent = obs.parent if self.parent is None else self.parent.join(obs.parent)
            if obs.parent.blocked:
                self.blocked = obs.parent.blocked


class StatusService:
    def __init__(self, *, store: Store, jobs: Terminator, outputs: Outputs, announcer: Announcer,
                 metrics: Counter, log: Log, clock=time.time, launch_cache_size: int = 4096,
                 progress_interval_seconds: int = 60, progress_min_size: int = 100) -> None:
        self.store = store
        self.jobs = jobs
        self.outputs = outputs
        self.announcer = announcer
        self.metrics = metrics
        self.log = log
        self.clock = clock
        self.launch_cache_size = launch_cache_size
        self.progress_interval_seconds = progress_interval_seconds  # 0: no progress events
        self.progress_min_size = progress_min_size
        self._launches: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._foreign: OrderedDict[str, float] = OrderedDict()  # untagged job ids without a launch -> when

    # ------------------------------------------------------------------ entry point
    def process(self, records: Iterable[tuple[str, str | dict]]) -> dict[str, Exception]:
        """``(messageId, body)`` pairs in; the failed message ids (with why) out. Foreign and
        malformed events are logged, counted and dropped: they never fail the batch. Bodies may
        also be "Task Abort Requested" events (the abort buffer feeds the same function)."""
        batches: dict[str, _Batch] = {}
        aborts: list[tuple[str, AbortRequest]] = []
        for message_id, body in records:
            # Reading a record never fails its batchmates: whatever goes wrong before its launch's
            # write drops this record alone (logged, counted): no retry could make it readable.
            try:
                try:
                    event = parse_event(body)
                except ForeignEvent:
                    request = abort_request(body)
                    if request is None:
                        raise
                    aborts.append((message_id, request))
                    continue
                obs = observe(event)
                b = batches.get(obs.job_id) or _Batch()
                b.add(obs)  # joins compute before they assign: if this raises, `b` is as it was
            except (ForeignEvent, MalformedEvent) as exc:
                self._skip(message_id, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a bug, not a bad event: same treatment, with the trace
                self.log.exception("skipping an event the status path failed to read",
                                   extra={"messageId": message_id, "problem": f"{type(exc).__name__}: {exc}"[:500]})
                self.metrics.count("StatusEventMalformed")
                continue
            if event.is_queue_blocked:
                self.metrics.count("QueueBlocked", queue=queue_name(event.detail.job_queue))
            batches[obs.job_id] = b
            b.message_ids.append(message_id)
            b.launch_tag = b.launch_tag or (event.detail.tags or {}).get(LAUNCH_TAG)
        failures: dict[str, Exception] = {}
        for job_id, b in batches.items():
            try:
                self._apply(job_id, b)
                self.metrics.count("StatusEventProcessed", len(b.message_ids))
            except ForeignJob as exc:
                self.log.warning("skipping events of a job batchlane did not launch",
                                 extra={"jobId": job_id, "messages": len(b.message_ids), "problem": str(exc)})
                self.metrics.count("StatusEventForeign", len(b.message_ids))
            except Exception as exc:  # noqa: BLE001 - fail this launch's messages only
                self.log.exception("status update failed", extra={"jobId": job_id, "messages": len(b.message_ids)})
                for m in b.message_ids:
                    failures[m] = exc
        for message_id, request in aborts:
            try:
                self.abort(request)
            except Exception as exc:  # noqa: BLE001 - retried (bounded by the queue's maxReceiveCount)
                self.log.exception("abort failed", extra={"launchId": request.launch_id})
                failures[message_id] = exc
        return failures

    def _skip(self, message_id: str, exc: Exception) -> None:
        self.log.warning("skipping an event the status path cannot use",
                         extra={"messageId": message_id, "problem": str(exc)[:500]})
        self.metrics.count("StatusEventMalformed")

    # ------------------------------------------------------------------ one launch
    def _launch(self, job_id: str, launch_tag: str | None = None) -> dict[str, Any]:
        """The launch record of a Batch job. With the job's ``batchlane:launchId`` tag it is read by
        key (strongly consistent): absent, or not completed with this job id yet, means the launcher
        has not finished recording it: LaunchNotFound, retried (bounded by maxReceiveCount). Without
        the tag the job is looked up by id (the byJobId index); not found there, it is foreign."""
        launch = self._launches.get(job_id)
        if launch is not None:
            self._launches.move_to_end(job_id)
            return launch
        if launch_tag:
            launch = self.store.get_launch(launch_tag)
            if launch is None or not launch.get("jobId"):
                raise LaunchNotFound(f"launch {launch_tag} of Batch job {job_id} is not recorded yet")
            if launch["jobId"] != job_id:
                raise ForeignJob(f"Batch job {job_id} is tagged with launch {launch_tag}, "
                                 f"whose job is {launch['jobId']}")
        else:
            seen = self._foreign.get(job_id)
            if seen is not None and self.clock() - seen < FOREIGN_MEMORY_SECONDS:
                raise ForeignJob(f"Batch job {job_id} has no {LAUNCH_TAG} tag and no launch record")
            launch = self.store.find_launch(job_id)
            if launch is None or launch.get("jobId") != job_id:
                self._foreign[job_id] = self.clock()
                self._foreign.move_to_end(job_id)
                while len(self._foreign) > self.launch_cache_size:
                    self._foreign.popitem(last=False)
                raise ForeignJob(f"Batch job {job_id} has no {LAUNCH_TAG} tag and no launch record")
        self._launches[job_id] = launch
        while len(self._launches) > self.launch_cache_size:
            self._launches.popitem(last=False)
        return launch

    def _apply(self, job_id: str, b: _Batch) -> None:
        launch = self._launch(job_id, b.launch_tag)
        launch_id = launch["launchId"]
        size = int(launch.get("size") or 1)
        foreign = [i for i in b.children if not 0 <= i < size]
        for i in foreign:
            self.log.warning("child index outside the launch", extra={"launchId": launch_id, "index": i})
            self.metrics.count("StatusEventMalformed")
            del b.children[i]
        indexes = sorted(b.children)
        chunks = [indexes[k:k + CHILDREN_PER_TRANSACTION] for k in range(0, len(indexes), CHILDREN_PER_TRANSACTION)]
        for n, chunk in enumerate(chunks or [[]]):
            self._commit(launch, {i: b.children[i] for i in chunk}, b.parent if n == 0 else None,
                         b if n == 0 else None)
        self._advance_phase(launch)

    def _commit(self, launch: dict[str, Any], children: dict[int, ChildState], parent: ParentState | None,
                b: _Batch | None) -> None:
        launch_id = launch["launchId"]
        for _ in range(CONTENTION_RETRIES):
            stored, stored_parent = self.store.read_states(launch_id, list(children), parent is not None)
            writes: list[tuple[ChildState, int | None]] = []
            deltas: dict[str, int] = {}
            for i, new in children.items():
                old, rev = stored.get(i, (None, None))
                merged, changed = merge_child(old, new)
                if changed:
                    writes.append((merged, rev))
                    add_deltas(deltas, count_delta(old.status if old else None, merged.status))
            parent_write = None
            summary_set: dict[str, Any] = {}
            if parent is not None:
                old_p, prev = stored_parent or (None, None)
                merged_p, changed = merge_parent(old_p, parent)
                if changed:
                    parent_write = (merged_p, prev)
                    summary_set["parentStatus"] = merged_p.status
            remove: list[str] = []
            if b is not None and b.blocked and not b.started:
                summary_set["blocked"] = b.blocked
            elif b is not None and b.started and writes:
                remove.append("blocked")
            if not writes and parent_write is None and "blocked" not in summary_set:
                return  # duplicates and stale events only: no write at all
            now_ms = int(self.clock() * 1000)
            # openShard/lastSeenAt: the launch is in the open-launches index (the reconciler's view).
            summary_set.update({"jobId": launch["jobId"], "queue": launch.get("queue"), "size": int(launch.get("size") or 1),
                                "updatedAt": now_ms, OPEN_SHARD_ATTR: open_shard(launch_id), LAST_SEEN_ATTR: now_ms})
            try:
                self.store.commit(launch_id, writes, parent_write,
                                  {"set": summary_set, "deltas": deltas, "remove": remove})
                return
            except WriteConflict:
                continue
        raise Contention(f"launch {launch_id}: {CONTENTION_RETRIES} write conflicts in a row")

    def _advance_phase(self, launch: dict[str, Any]) -> None:
        launch_id = launch["launchId"]
        size = int(launch.get("size") or 1)
        summary = self.store.summary(launch_id)
        if summary is None:
            return
        old_phase = summary.get("phase")
        if old_phase in FINAL_PHASES:
            return
        counts = counts_of(summary, size)
        need = min_successes(size, launch.get("minSuccessRatio", 1))
        decision = decide_phase(size, need, counts, parent_status=summary.get("parentStatus"))
        if decision.phase == old_phase:
            self._progress(launch, summary, counts, decision.phase)
            return
        now_ms = int(self.clock() * 1000)
        fields: dict[str, Any] = {"phase": decision.phase, "reason": decision.reason,
                                  "phaseChangedAt": now_ms, "progressAt": now_ms}
        if decision.terminate:
            self.jobs.terminate(launch["jobId"], f"batchlane: launch failed ({decision.reason})")
            fields["terminated"] = True
        if decision.phase in FINAL_PHASES:
            fields.update(self._finish(launch, decision.phase))
        self.announcer.publish(STATUS_CHANGED, {
            "kind": "phase", "launchId": launch_id, "jobId": launch["jobId"], "queue": launch.get("queue"),
            "phase": decision.phase, "previousPhase": old_phase, "reason": decision.reason,
            "size": size, "counts": {k: v for k, v in counts.items() if v},
            **{k: fields[k] for k in ("outputsUri", "error") if k in fields},
        })
        remove = (OPEN_SHARD_ATTR,) if decision.phase in FINAL_PHASES else ()
        if not self.store.set_phase(launch_id, old_phase, fields, remove):
            self.log.warning("phase changed concurrently", extra={"launchId": launch_id, "phase": decision.phase})

    def _progress(self, launch: dict[str, Any], summary: dict[str, Any], counts: dict[str, int], phase: str) -> None:
        """Rate-limited progress of a large launch: at most one "Task Status Changed" (kind
        progress) per launch per interval, whatever the number of Lambda invocations. The right
        to announce is taken with a conditional write of ``progressAt`` (one writer wins)."""
        size = int(launch.get("size") or 1)
        if not self.progress_interval_seconds or size < self.progress_min_size or phase in FINAL_PHASES:
            return
        now_ms = int(self.clock() * 1000)
        previous = summary.get("progressAt")
        previous = int(previous) if previous is not None else None
        if previous is not None and now_ms - previous < self.progress_interval_seconds * 1000:
            return
        if not self.store.claim_progress(launch["launchId"], previous, now_ms):
            return  # another invocation announced it
        self.announcer.publish(STATUS_CHANGED, {
            "kind": "progress", "launchId": launch["launchId"], "jobId": launch["jobId"],
            "queue": launch.get("queue"), "phase": phase, "size": size,
            "counts": {k: v for k, v in counts.items() if v},
            "final": int(counts.get("SUCCEEDED", 0)) + int(counts.get("FAILED", 0)),
        })

    # ------------------------------------------------------------------ abort
    def abort(self, request: AbortRequest) -> None:
        """Stop a launch on request: TerminateJob on its Batch job (the parent stops the children),
        then the phase ``aborted``. An unknown or finished launch is answered with "Task Abort
        Rejected" and acknowledged; a launch still being submitted is retried (bounded)."""
        self.metrics.count("AbortRequested")
        if request.launch_id is None:
            return self._reject_abort(None, "the event names no launchId")
        launch = self.store.get_launch(request.launch_id)
        if launch is None:
            return self._reject_abort(request.launch_id, "no such launch")
        if not launch.get("jobId"):
            raise LaunchNotFound(f"launch {request.launch_id} is still being submitted")
        launch_id, job_id = launch["launchId"], launch["jobId"]
        reason = "aborted on request" + (f": {request.reason}" if request.reason else "")
        for _ in range(CONTENTION_RETRIES):
            summary = self.store.summary(launch_id) or {}
            old_phase = summary.get("phase")
            if old_phase in FINAL_PHASES:
                return self._reject_abort(launch_id, f"the launch has already {old_phase}", phase=old_phase)
            self.jobs.terminate(job_id, f"batchlane: {reason}")
            fields: dict[str, Any] = {"phase": "aborted", "reason": reason, "terminated": True,
                                      "phaseChangedAt": int(self.clock() * 1000)}
            fields.update(self._finish(launch, "aborted"))
            size = int(launch.get("size") or 1)
            self.announcer.publish(STATUS_CHANGED, {
                "kind": "phase", "launchId": launch_id, "jobId": job_id, "queue": launch.get("queue"),
                "phase": "aborted", "previousPhase": old_phase, "reason": reason, "size": size,
                "counts": {k: v for k, v in counts_of(summary, size).items() if v},
                **({"error": fields["error"]} if "error" in fields else {}),
            })
            if self.store.set_phase(launch_id, old_phase, fields, (OPEN_SHARD_ATTR,)):
                self.metrics.count("LaunchAborted")
                return None
        raise Contention(f"launch {launch_id}: the phase kept changing while aborting it")

    def _reject_abort(self, launch_id: str | None, reason: str, phase: str | None = None) -> None:
        self.log.warning("abort rejected", extra={"launchId": launch_id, "reason": reason})
        self.metrics.count("AbortRejected")
        detail: dict[str, Any] = {"launchId": launch_id, "reason": reason}
        if phase:
            detail["phase"] = phase
        self.announcer.publish(ABORT_REJECTED, detail)

    def _finish(self, launch: dict[str, Any], phase: str) -> dict[str, Any]:
        """Error summary of a finished launch, and its outputs: when it succeeded, and when a map
        task failed (Flyte's rule: one list per output, ``None`` for every child that did not
        succeed, terminated ones included). A single task that failed or an aborted launch has none."""
        size = int(launch.get("size") or 1)
        children = self.store.all_children(launch["launchId"])
        out: dict[str, Any] = {}
        error = launch_error_summary(children)
        if error:
            out["error"] = error
        base = launch.get("outputsUri")
        is_map = bool(launch.get("isMapTask", launch.get("isArray", False)))
        if base and (phase == "succeeded" or (phase == "failed" and is_map)):
            ok = {c.index: f"{base}{c.index}/outputs.json" for c in children if c.status == "SUCCEEDED"}
            if phase == "succeeded" and len(ok) < size and not any(c.status == "FAILED" for c in children):
                # A SUCCEEDED parent proved the children without events succeeded too.
                ok = {i: f"{base}{i}/outputs.json" for i in range(size)}
            values = self.outputs.read_many(ok)
            unwrap = not is_map and size == 1
            uri = assembled_outputs_uri(base)
            self.outputs.write(uri, assemble_outputs(size, values, unwrap=unwrap))
            out["outputsUri"] = uri
        return out
