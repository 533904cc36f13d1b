"""Moving a launch's phase on, exactly once, and announcing it (docs/status.md).

A phase change has side effects: TerminateJob when the launch can no longer succeed, the outputs
and error summary when it ends, and one "Task Status Changed". Several aggregator invocations (and
the reconciler) may see the same change at once, so the right to make it is claimed first with a
conditional write on the summary (``transitionToken``: one writer wins, the others do nothing).
The winner runs the side effects, announces, then writes the phase and releases the claim in one
conditional write; readers see the new phase only with its outputs. A winner that dies leaves its
claim: it goes stale after ``claim_seconds`` (longer than any function runs) and the next
invocation for the launch (a redelivery, a later event, the reconciler) takes it over and redoes
the change: outputs are rewritten with the same content and the announcement may repeat, which
consumers of an at-least-once bus tolerate. A winner re-reads the summary after its change, so
counts that a concurrent loser wrote meanwhile are never left undecided.

A chunked map task's chunks that became due (``due_<c>`` on the summary, written with the event
that ended the chunk before them: status.commit) are announced ("Task Chunk Due") under the same
claim, kept on the current phase: publish, then remove them with the claim. A crash before the
removal leaves them there for the next invocation (a duplicate, which the launcher's claim on the
chunk absorbs); they are dropped, unannounced, when the launch ends. Failure and abort terminate
every submitted chunk's job (the chunk records list them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from batchlane.common.chunks import Chunks
from batchlane.common.cost import launch_cost, summary_run_ms
from batchlane.common.event_types import CHUNK_DUE, STATUS_CHANGED
from batchlane.common.executions import FINAL_PHASES, LaunchRecord
from batchlane.common.lru import Lru
from batchlane.common.open_launches import OPEN_SHARD_ATTR
from batchlane.common.ports import Announcer, Log
from batchlane.status.commit import due_chunks
from batchlane.status.failures import failures_of
from batchlane.status.finish import Finisher
from batchlane.status.models import TaskChunkDue, TaskStatusChanged
from batchlane.status.phase import SEEN_PREFIX, PhaseDecision, decide_phase, initial_counts, min_successes
from batchlane.status.ports import StatusStore, Terminator
from batchlane.status.reclaim import due_fallbacks

CLAIM_SECONDS = 900  # Lambda's longest timeout: a claim older than this was left by a writer that died
STOPPED_MEMORY = 4096  # job ids of stopped jobs remembered per container
MAX_ROUNDS = 3  # re-decisions after a change (counts written concurrently), then the next event decides


def counts_of(summary: dict[str, Any] | None, size: int, chunks: Chunks | None = None) -> dict[str, int]:
    """Children per Batch status from the summary's count deltas (``n_<STATUS>``, rolled up from the
    shards). A chunked map task (``chunks``) also counts WAITING: the children of the chunks not
    submitted at launch, less those of the chunks seen since (``seen_WAITING``)."""
    waiting = chunks.waiting(chunks.initial) if chunks is not None and chunks.chunked else None
    counts = initial_counts(size, waiting)
    for k, v in (summary or {}).items():
        for prefix in ("n_", SEEN_PREFIX):
            if k.startswith(prefix) and k[len(prefix) :] in counts:
                counts[k[len(prefix) :]] += int(v)
    return counts


class PhaseKeeper:
    def __init__(
        self,
        *,
        store: StatusStore,
        jobs: Terminator,
        finisher: Finisher,
        announcer: Announcer,
        log: Log,
        clock: Callable[[], float] = time.time,
        claim_seconds: int = CLAIM_SECONDS,
        progress_interval_seconds: int = 60,
        progress_min_size: int = 100,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.finisher = finisher
        self.announcer = announcer
        self.log = log
        self.clock = clock
        self.claim_seconds = claim_seconds
        self.progress_interval_seconds = progress_interval_seconds  # 0: no progress events
        self.progress_min_size = progress_min_size
        # Jobs this container stopped: a late event of one does not stop it again (TerminateJob is
        # idempotent; this only saves calls).
        self._stopped: Lru[str, bool] = Lru(STOPPED_MEMORY)

    def advance(self, launch: LaunchRecord, *, chunk_job: str | None = None, live: bool = False) -> bool:
        """Decide the phase from the stored counts; move it on (once) when it changed, else
        announce progress when it is due, and the chunks that became due. ``chunk_job``: the job
        of a chunk whose events were just written (``live``: some of them were not final); it is
        terminated when the launch has failed or was aborted already. False once the launch is
        known to have ended (by this call or before)."""
        for _ in range(MAX_ROUNDS):
            summary = self.store.summary(launch.key)
            if summary is None:
                return True
            if summary.get("phase") in FINAL_PHASES:
                if (
                    chunk_job
                    and live
                    and summary.get("phase") in ("failed", "aborted")
                    and not self._stopped.get(chunk_job)
                ):
                    # E.g. a chunk submitted while the launch ended (its record had no job yet, so it was not stopped).
                    self.jobs.terminate(chunk_job, f"batchlane: launch {summary['phase']} ({summary.get('reason')})")
                    self._stopped.put(chunk_job, True)
                return False
            counts = counts_of(summary, launch.size, launch.chunks)
            decision = decide_phase(
                launch.size,
                min_successes(launch.size, launch.min_success_ratio),
                counts,
                parent_status=summary.get("parentStatus"),
                multi_node=launch.nodes is not None,
            )
            if decision.phase == summary.get("phase"):
                self._progress(launch, summary, counts, decision.phase)
                if not self._announce_due(launch, summary):
                    return True
                continue  # announced: more may have become due meanwhile
            if not self.move(
                launch, summary, decision.phase, decision.reason, counts, terminate=_terminate_reason(decision)
            ):
                return True  # another writer is making a change: it re-reads after it
        return True

    def move(
        self,
        launch: LaunchRecord,
        summary: dict[str, Any],
        phase: str,
        reason: str,
        counts: dict[str, int],
        *,
        terminate: str | None = None,
    ) -> bool:
        """Claim the change from the stored phase to ``phase`` and make it; False when another
        writer holds the claim or moved the phase first."""
        old_phase = summary.get("phase")
        token = uuid.uuid4().hex
        now_ms = int(self.clock() * 1000)
        if not self.store.claim_transition(launch.key, old_phase, token, now_ms, now_ms - self.claim_seconds * 1000):
            self.log.warning(
                "phase change left to another writer", extra={"launchId": launch.launch_id, "phase": phase}
            )
            return False
        fields: dict[str, Any] = {"phase": phase, "reason": reason, "phaseChangedAt": now_ms, "progressAt": now_ms}
        try:
            self._side_effects(launch, summary, phase, reason, counts, terminate, fields)
        except BaseException:
            # Not done: give the claim back so that the retry of this message makes the change.
            self.store.release_transition(launch.key, token)
            raise
        # An ended launch leaves the open-launches index, and no chunk is due any more.
        remove = (OPEN_SHARD_ATTR, *due_chunks(summary)) if phase in FINAL_PHASES else ()
        if not self.store.finish_transition(launch.key, token, fields, remove):
            self.log.warning("phase claim was taken over", extra={"launchId": launch.launch_id, "phase": phase})
        return True

    def _side_effects(
        self,
        launch: LaunchRecord,
        summary: dict[str, Any],
        phase: str,
        reason: str,
        counts: dict[str, int],
        terminate: str | None,
        fields: dict[str, Any],
    ) -> None:
        """TerminateJob, outputs and error summary, then the announcement; ``fields`` gains what
        the summary records of them."""
        old_phase = summary.get("phase")
        if terminate:
            for job_id in self._jobs_of(launch):
                self.jobs.terminate(job_id, terminate)
                self._stopped.put(job_id, True)
            fields["terminated"] = True
        if phase in FINAL_PHASES:
            fields.update(self.finisher.finish(launch, phase, counts))
        self.announcer.publish(
            STATUS_CHANGED,
            TaskStatusChanged.phase_change(
                launch_id=launch.launch_id,
                team=launch.team,
                job_id=launch.job_id,
                queue=launch.queue,
                phase=phase,
                previous=old_phase,
                reason=reason,
                size=launch.size,
                counts=counts,
                outputs_uri=fields.get("outputsUri"),
                error=fields.get("error"),
                failures=failures_of(summary),
                cost=launch_cost(summary_run_ms(summary), launch.request, launch.routing),
            ).detail(),
        )

    def _jobs_of(self, launch: LaunchRecord) -> list[str]:
        """The Batch jobs of a launch: its job, or every submitted chunk's (a chunk still being
        submitted is stopped when its first event arrives: ``advance``)."""
        if not launch.chunks.chunked:
            return [launch.job_id] if launch.job_id else []
        jobs = [c.job_id for c in self.store.chunk_records(launch.key) if c.submitted and c.job_id]
        return jobs if launch.job_id in jobs or not launch.job_id else [launch.job_id, *jobs]

    def _announce_due(self, launch: LaunchRecord, summary: dict[str, Any]) -> bool:
        """ "Task Chunk Due" for each chunk the summary holds as due, under a claim on the current
        phase; True when some were announced (and removed)."""
        due = due_chunks(summary)
        fallbacks = due_fallbacks(summary)
        if not due and not fallbacks:
            return False
        token = uuid.uuid4().hex
        now_ms = int(self.clock() * 1000)
        if not self.store.claim_transition(
            launch.key, summary.get("phase"), token, now_ms, now_ms - self.claim_seconds * 1000
        ):
            return False  # another writer holds the claim: it re-reads the summary after its change
        try:
            notices = [{"chunk": chunk} for chunk in sorted(due.values())]
            notices += [{"chunk": 0, "fallback": index} for index in sorted(fallbacks.values())]  # onReclaim: unchunked
            for notice in notices:
                self.announcer.publish(
                    CHUNK_DUE,
                    TaskChunkDue(launchId=launch.launch_id, team=launch.team, jobId=launch.job_id, **notice).detail(),
                )
        except BaseException:
            self.store.release_transition(launch.key, token)
            raise
        self.store.finish_transition(launch.key, token, {"chunkDueAt": now_ms}, (*due, *fallbacks))
        return True

    def _progress(self, launch: LaunchRecord, summary: dict[str, Any], counts: dict[str, int], phase: str) -> None:
        """Rate-limited progress of a large launch: at most one "Task Status Changed" (kind
        progress) per launch per interval, whatever the number of Lambda invocations. The right
        to announce is taken with a conditional write of ``progressAt`` (one writer wins)."""
        if not self.progress_interval_seconds or launch.size < self.progress_min_size or phase in FINAL_PHASES:
            return
        now_ms = int(self.clock() * 1000)
        previous = summary.get("progressAt")
        previous = int(previous) if previous is not None else None
        if previous is not None and now_ms - previous < self.progress_interval_seconds * 1000:
            return
        if not self.store.claim_progress(launch.key, previous, now_ms):
            return  # another invocation announced it
        self.announcer.publish(
            STATUS_CHANGED,
            TaskStatusChanged.progress(
                launch_id=launch.launch_id,
                team=launch.team,
                job_id=launch.job_id,
                queue=launch.queue,
                phase=phase,
                size=launch.size,
                counts=counts,
                failures=failures_of(summary),
            ).detail(),
        )


def _terminate_reason(decision: PhaseDecision) -> str | None:
    return f"batchlane: launch failed ({decision.reason})" if decision.terminate else None
