"""The reconciler: repairs launches whose events were missed (scheduled, never on the event path).

Every run (a schedule, ``status.reconcileEveryMinutes``):

1. Finds the launches that are not final and were not seen for ``silentSeconds``: the sparse
   index ``openLaunches`` of the executions table (``batchlane.common.open_launches``) holds the
   launch item from submission and the summary item from the first event, keyed by
   ``lastSeenAt``; entries of launches that have ended meanwhile are removed on the way.
2. Asks AWS Batch where they stand: DescribeJobs, at most 100 job ids per call (for an array,
   its children that are not final in the record, then the parent), within a budget of requests per
   run (``reconcileRequestBudget``); what the budget does not cover waits for the next run. The
   budget grows with the launch: a launch of any size may take a ``1 / repair_runs`` share of its
   describes in one run (a million children: 1,667 requests, repaired within ``REPAIR_RUNS`` runs,
   not 33 hours of fixed budgets).
3. Feeds the answers through the aggregator's own code (``StatusService.process``) as synthetic
   "Batch Job State Change" events: the same join, the same phase rule, the same side effects.
   A job description is an observation like any event, so a late or duplicate one changes nothing.
4. Marks each launch it looked at as seen now (``lastSeenAt``), so it rests for another period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

from batchlane.common.event_types import CHUNK_DUE
from batchlane.common.executions import (
    CHUNK_TAG,
    FINAL_PHASES,
    LAUNCH_SK,
    LAUNCH_TAG,
    SUMMARY_SK,
    TEAM_TAG,
    LaunchRecord,
)
from batchlane.common.ports import Counter, Log
from batchlane.status.events import STATE_CHANGE
from batchlane.status.models import TaskChunkDue
from batchlane.status.ports import StatusStore
from batchlane.status.rollup import Touched
from batchlane.status.service import StatusService

DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 job ids
REPAIR_RUNS = 6  # a silent launch is fully asked about within this many runs, however large


class OpenIndex(Protocol):
    def silent(self, cutoff_ms: int, limit: int) -> list[tuple[str, str]]: ...
    def close(self, launch_key: str, sk: str) -> None: ...
    def touch(self, launch_key: str, now_ms: int) -> None: ...


class JobReader(Protocol):
    def describe(self, job_ids: list[str]) -> list[dict[str, Any]]: ...


def synthetic_event(
    job: dict[str, Any], *, region: str, launch: LaunchRecord, now: float | None = None, chunk: int | None = None
) -> dict[str, Any]:
    """A DescribeJobs result as the "Batch Job State Change" event Batch would have sent."""
    detail = dict(job)
    tags = dict(detail.get("tags") or {})
    tags.setdefault(LAUNCH_TAG, launch.launch_id)  # children may lack the propagated tags: the launch is known
    tags.setdefault(TEAM_TAG, launch.team)
    if chunk is not None:
        tags.setdefault(CHUNK_TAG, str(chunk))
    detail["tags"] = tags
    return {
        "version": "0",
        "id": f"reconcile-{job.get('jobId')}-{job.get('status')}",
        "detail-type": STATE_CHANGE,
        "source": "aws.batch",
        "region": region,
        "time": datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [job.get("jobArn") or ""],
        "detail": detail,
    }


@dataclass
class RunReport:
    candidates: int = 0  # launches found silent
    repaired: int = 0  # launches whose jobs were described and folded
    closed: int = 0  # stale index entries removed (the launch had ended)
    requests: int = 0  # DescribeJobs calls
    jobs: int = 0  # job descriptions folded
    deferred: int = 0  # launches left for the next run (budget spent)
    failed: int = 0  # launches whose repair failed (retried next run)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Reconciler:
    def __init__(
        self,
        *,
        store: StatusStore,
        index: OpenIndex,
        batch: JobReader,
        service: StatusService,
        metrics: Counter,
        log: Log,
        silent_seconds: int,
        request_budget: int,
        max_candidates: int = 1000,
        repair_runs: int = REPAIR_RUNS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.index = index
        self.batch = batch
        self.service = service
        self.metrics = metrics
        self.log = log
        self.silent_seconds = silent_seconds
        self.request_budget = request_budget
        self.max_candidates = max_candidates
        self.repair_runs = repair_runs
        self.clock = clock

    def run(self) -> RunReport:
        report = RunReport()
        now_ms = int(self.clock() * 1000)
        entries: dict[str, list[str]] = {}
        for launch_key, sk in self.index.silent(now_ms - self.silent_seconds * 1000, self.max_candidates):
            entries.setdefault(launch_key, []).append(sk)
        report.candidates = len(entries)
        budget = self.request_budget
        for launch_key, sks in entries.items():
            if budget <= 0:
                report.deferred += 1
                continue
            try:
                budget -= self._one(launch_key, sks, now_ms, budget, report)
            except Exception:
                self.log.exception("reconciling a launch failed", extra={"launchKey": launch_key})
                report.failed += 1
        for name, value in (
            ("ReconcileRepaired", report.repaired),
            ("ReconcileRequests", report.requests),
            ("ReconcileDeferred", report.deferred),
            ("ReconcileFailed", report.failed),
        ):
            if value:
                self.metrics.count(name, value)
        return report

    def _one(self, launch_key: str, sks: list[str], now_ms: int, budget: int, report: RunReport) -> int:
        """Repair one launch; returns the Batch requests it used."""
        launch = self.store.get_launch(launch_key)
        summary = self.store.summary(launch_key)
        phase = (summary or {}).get("phase")
        if launch is None or phase in FINAL_PHASES:
            for sk in sks:  # ended (or gone): out of the index
                self.index.close(launch_key, sk)
                report.closed += 1
            return 0
        if summary is not None and LAUNCH_SK in sks:
            self.index.close(launch_key, LAUNCH_SK)  # the summary item carries the launch in the index now
            report.closed += 1
            if SUMMARY_SK not in sks:
                return 0  # the summary was seen recently: the launch is not silent
        job_id = launch.job_id
        if not job_id:
            return 0  # still being submitted: the launcher's lease takes care of it
        jobs_of: dict[str, int | None] = self._chunk_jobs(launch) if launch.chunks.chunked else {job_id: None}
        budget = max(budget, -(-(launch.size + len(jobs_of)) // (DESCRIBE_BATCH * self.repair_runs)))
        wanted = islice(self._to_describe(launch, jobs_of), budget * DESCRIBE_BATCH + 1)
        ids = list(wanted)
        more = len(ids) > budget * DESCRIBE_BATCH  # the budget does not cover them all: the rest next run
        ids = ids[: budget * DESCRIBE_BATCH]
        chunks = [ids[k : k + DESCRIBE_BATCH] for k in range(0, len(ids), DESCRIBE_BATCH)]
        jobs: list[dict[str, Any]] = []
        for chunk in chunks:
            jobs += self.batch.describe(chunk)
            report.requests += 1
        region = launch.region or "us-east-1"
        records = []
        for j in jobs:
            owner = str(j.get("jobId", "")).split(":", 1)[0].split("#", 1)[0]  # a child's or a node's job
            if owner in jobs_of:
                records.append(
                    (
                        f"reconcile:{j.get('jobId')}",
                        synthetic_event(j, region=region, launch=launch, now=now_ms / 1000, chunk=jobs_of[owner]),
                    )
                )
        failures = self.service.process(records) if records else {}
        if failures:
            report.failed += 1
            self.log.warning("repair not applied", extra={"launchKey": launch_key, "failures": len(failures)})
        elif more:
            report.deferred += 1  # the rest next run (children folded now are final: not asked again)
            report.jobs += len(records)
        else:
            report.repaired += 1
            report.jobs += len(records)
            if not jobs:
                self.log.warning(
                    "AWS Batch does not know the launch's job", extra={"launchKey": launch_key, "jobId": job_id}
                )
            self._settle(launch)
            self.index.touch(launch_key, now_ms)
        return len(chunks)

    def _settle(self, launch: LaunchRecord) -> None:
        """What the events left undone, once they are all folded: the phase decided from the stored
        counts (a change whose claim was left by an invocation that died is taken over, the claim
        being stale), the chunks held as due announced, and a chunk due but never submitted
        announced again when no chunk was announced for a silent period (its "Task Chunk Due" was
        lost, or dead-lettered): the launcher's claim on the chunk makes a repeat harmless. Without
        this, a launch whose jobs are all final in the record would never be looked at again. The
        summary is rolled up from the shards first: counts a bounded-rate roll-up left out are in."""
        if (self.store.summary(launch.key) or {}).get("phase") not in FINAL_PHASES:  # an ended one stays closed
            self.service.writer.rollup.refresh(launch, Touched(), force=True)
        if not self.service.phases.advance(launch) or not launch.chunks.chunked:
            return
        announced_at = int((self.store.summary(launch.key) or {}).get("chunkDueAt") or 0)
        if announced_at > (self.service.clock() - self.silent_seconds) * 1000:  # the clock chunkDueAt was written by
            return  # announced lately: the launcher may not have submitted it yet
        chunks = launch.chunks
        submitted = {c.chunk for c in self.store.chunk_records(launch.key) if c.submitted}
        ended = self._ended_chunks(launch)
        for chunk in range(chunks.window, chunks.count):
            if chunk not in submitted and chunk - chunks.window in ended:
                self.metrics.count("ReconcileChunkDue")
                self.service.phases.announcer.publish(
                    CHUNK_DUE,
                    TaskChunkDue(
                        launchId=launch.launch_id, team=launch.team, jobId=launch.job_id, chunk=chunk
                    ).detail(),
                )

    def _ended_chunks(self, launch: LaunchRecord) -> set[int]:
        """The chunks whose job is final in the record (an array's parent, a one-child chunk's child)."""
        chunks = launch.chunks
        done = {c.index for c in self.service.shards.iter_children(launch.key, launch.size) if c.final}
        ended = set(self.store.final_chunk_parents(launch.key))
        ended |= {c for c in range(chunks.count) if chunks.chunk_len(c) == 1 and chunks.offset(c) in done}
        return ended

    def _chunk_jobs(self, launch: LaunchRecord) -> dict[str, int | None]:
        """``{job id: chunk}`` of a chunked map task's submitted chunks."""
        jobs: dict[str, int | None] = {}
        for record in self.store.chunk_records(launch.key):
            if record.submitted and record.job_id:
                jobs[record.job_id] = record.chunk
        if launch.job_id:  # chunk 0's job, recorded on the launch too
            jobs.setdefault(launch.job_id, 0)
        return jobs

    def _to_describe(self, launch: LaunchRecord, jobs_of: dict[str, int | None]):
        """The job ids to ask about, lazily: per job, its children not final in the record, then
        the job itself (the parent last: its end, which settles the phase or makes the next chunk
        due, comes with the last request). A chunk whose children and parent are final is skipped."""
        done = {c.index for c in self.service.shards.iter_children(launch.key, launch.size) if c.final}
        parents_final = self.store.final_chunk_parents(launch.key) if launch.chunks.chunked else set()
        for job_id, chunk in jobs_of.items():
            if chunk is None:
                offset, size, array = 0, launch.size, launch.is_array
            else:
                offset, size = launch.chunks.offset(chunk), launch.chunks.chunk_len(chunk)
                array = size > 1
            open_children = [i for i in range(size) if offset + i not in done] if array or launch.nodes else []
            yield from (f"{job_id}{'#' if launch.nodes else ':'}{i}" for i in open_children)  # a node: "<id>#<i>"
            if chunk is None or (array and chunk not in parents_final) or (not array and offset not in done):
                yield job_id
