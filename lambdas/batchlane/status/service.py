"""The aggregator: a Lambda batch of Batch events (and abort requests) -> status items, phase, answers.

``process`` reads every record of the batch, groups the observations by Batch job (one launch
each), and per launch writes them (``commit.StatusWriter``: one transaction per launch) and moves
the phase on (``transitions.PhaseKeeper``: side effects and one announcement per change).
"Task Abort Requested" events arrive through their own buffer at the same function
(``abort.Aborter``). A launch's failure fails only its own messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

from batchlane.common.executions import CHUNK_TAG, FALLBACK_TAG, launch_key_of_tags
from batchlane.common.ports import Announcer, Counter, Log, SettingsSource
from batchlane.common.tenancy import Producer
from batchlane.status.abort import Aborter, abort_request
from batchlane.status.commit import LaunchBatch, StatusWriter
from batchlane.status.events import ForeignEvent, MalformedEvent, parse_event
from batchlane.status.finish import Finisher
from batchlane.status.launches import LaunchDirectory
from batchlane.status.models import TaskAbortRequested
from batchlane.status.observations import observe
from batchlane.status.ports import ForeignJob, OutputStore, QueueHealth, ShardStore, StatusStore, Terminator
from batchlane.status.reclaim import reclaim_view
from batchlane.status.transitions import CLAIM_SECONDS, PhaseKeeper


def queue_name(arn: str | None) -> str:
    return (arn or "unknown").rsplit("/", 1)[-1]


class StatusService:
    def __init__(
        self,
        *,
        store: StatusStore,
        shards: ShardStore,
        jobs: Terminator,
        outputs: OutputStore,
        announcer: Announcer,
        metrics: Counter,
        log: Log,
        settings: SettingsSource,
        data_bucket: str,
        clock=time.time,
        launch_cache_size: int = 4096,
        progress_interval_seconds: int = 60,
        progress_min_size: int = 100,
        health: QueueHealth | None = None,
        unhealthy_seconds: int = 0,
        claim_seconds: int = CLAIM_SECONDS,
    ) -> None:
        self.store = store
        self.shards = shards
        self.health = health
        self.unhealthy_seconds = unhealthy_seconds
        self.metrics = metrics
        self.log = log
        self.clock = clock
        now = lambda: self.clock()
        self.launches = LaunchDirectory(store, cache_size=launch_cache_size, clock=now)
        self.writer = StatusWriter(store, shards, now)
        self.finisher = finisher = Finisher(store, shards, outputs, data_bucket, log)
        self.phases = PhaseKeeper(
            store=store,
            jobs=jobs,
            finisher=finisher,
            announcer=announcer,
            log=log,
            clock=now,
            claim_seconds=claim_seconds,
            progress_interval_seconds=progress_interval_seconds,
            progress_min_size=progress_min_size,
        )
        self.aborter = Aborter(
            store=store, phases=self.phases, announcer=announcer, metrics=metrics, log=log, settings=settings
        )

    def process(self, records: Iterable[tuple[str, str | dict]]) -> dict[str, Exception]:
        """``(messageId, body)`` pairs in; the failed message ids (with why) out. Foreign and
        malformed events are logged, counted and dropped: they never fail the batch."""
        batches, aborts = self._read(records)
        failures: dict[str, Exception] = {}
        for job_id, batch in batches.items():
            try:
                self._apply(job_id, batch)
                self.metrics.count("StatusEventProcessed", len(batch.message_ids))
            except ForeignJob as exc:
                self.log.warning(
                    "skipping events of a job batchlane did not launch",
                    extra={"jobId": job_id, "messages": len(batch.message_ids), "problem": str(exc)},
                )
                self.metrics.count("StatusEventForeign", len(batch.message_ids))
            except Exception as exc:
                self.log.exception("status update failed", extra={"jobId": job_id, "messages": len(batch.message_ids)})
                failures.update(dict.fromkeys(batch.message_ids, exc))
        for message_id, (request, producer) in aborts:
            try:
                self.aborter.abort(request, producer)
            except Exception as exc:
                self.log.exception("abort failed", extra={"launchId": request.launchId})
                failures[message_id] = exc
        return failures

    def _read(
        self, records: Iterable[tuple[str, str | dict]]
    ) -> tuple[dict[str, LaunchBatch], list[tuple[str, tuple[TaskAbortRequested, Producer | None]]]]:
        """The observations grouped by Batch job, and the abort requests with who sent them."""
        batches: dict[str, LaunchBatch] = {}
        aborts: list[tuple[str, tuple[TaskAbortRequested, Producer | None]]] = []
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
                batch = batches.get(obs.job_id) or LaunchBatch()
                batch.add(obs)  # joins compute before they assign: if this raises, `batch` is as it was
            except (ForeignEvent, MalformedEvent) as exc:
                self._skip(message_id, exc)
                continue
            except Exception as exc:
                self.log.exception(
                    "skipping an event the status path failed to read",
                    extra={"messageId": message_id, "problem": f"{type(exc).__name__}: {exc}"[:500]},
                )
                self.metrics.count("StatusEventMalformed")
                continue
            if event.is_queue_blocked:
                self.metrics.count("QueueBlocked", queue=queue_name(event.detail.job_queue))
                self._mark_unhealthy(queue_name(event.detail.job_queue), event.detail.status_reason or "")
            batches[obs.job_id] = batch
            batch.message_ids.append(message_id)
            tags = event.detail.tags or {}
            batch.launch_key = batch.launch_key or launch_key_of_tags(tags)
            batch.chunk_tag = batch.chunk_tag or tags.get(CHUNK_TAG)
            batch.fallback_tag = batch.fallback_tag or tags.get(FALLBACK_TAG)
        return batches, aborts

    def _assemble_chunk(self, launch, chunk: int) -> None:
        """The chunk's outputs as one part, now, while the rest of the map runs (status.finish).
        Best effort: the finish reads the children of a chunk that has no part."""
        try:
            self.finisher.assemble_chunk(launch, chunk)
        except Exception:
            self.log.exception(
                "could not keep a chunk's outputs part", extra={"launchId": launch.launch_id, "chunk": chunk}
            )
            self.metrics.count("OutputsPartFailed")

    def _mark_unhealthy(self, queue: str, reason: str) -> None:
        """Routing avoids the queue for a while (docs/routing.md, "Queue health"). Best effort: the
        event's status update must not fail because the routing table could not be written."""
        if self.health is None or not self.unhealthy_seconds:
            return
        try:
            if self.health.mark_unhealthy(queue, reason[:500], int(self.clock()) + self.unhealthy_seconds):
                self.metrics.count("QueueMarkedUnhealthy", queue=queue)
        except Exception:
            self.log.exception("could not mark a queue unhealthy", extra={"queue": queue})

    def _skip(self, message_id: str, exc: Exception) -> None:
        self.log.warning(
            "skipping an event the status path cannot use", extra={"messageId": message_id, "problem": str(exc)[:500]}
        )
        self.metrics.count("StatusEventMalformed")

    def _apply(self, job_id: str, batch: LaunchBatch) -> None:
        job = self.launches.job_of(job_id, batch.launch_key, batch.chunk_tag, batch.fallback_tag)
        launch = job.launch
        children = {}
        for i, child in batch.children.items():
            index = job.global_index(i)  # a chunk's children at their place in the whole map
            if index is None:
                self.log.warning(
                    "child index outside the launch",
                    extra={"launchId": launch.launch_id, "index": i, "chunk": job.chunk},
                )
                self.metrics.count("StatusEventMalformed")
                continue
            children[index] = child if index == i else replace(child, index=index)
        if launch.reclaim_queue:  # a reclaimed child waits for its fallback; the fallback's states are its
            queue, attempts = launch.reclaim_queue, launch.attempts
            children = {i: reclaim_view(c, queue, job.fallback, attempts) for i, c in children.items()}
        batch.children = children
        if job.size == 1 and (job.chunk is not None or job.fallback is not None):
            batch.parent = None  # a plain chunk job has no array parent: its child is its state
        chunk_succeeded = self.writer.write(job, batch) and job.size > 1
        live = any(not c.final for c in children.values()) or (batch.parent is not None and not batch.parent.final)
        still_open = self.phases.advance(launch, chunk_job=job_id if job.chunk is not None else None, live=live)
        # After the next chunk is announced (its slot is free now, not after this chunk's reads), and
        # only while the launch runs on: the chunk that ended it was read by the finish itself.
        if chunk_succeeded and still_open and job.chunk is not None:
            self._assemble_chunk(launch, job.chunk)
