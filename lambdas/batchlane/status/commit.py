"""Writing one launch's observations of one Lambda batch: read, join, one transaction per group.

Per Lambda batch and launch: one read of the touched children (BatchGetItem), the events folded in
memory (``merge_child``: a join, so order and duplicates do not matter), then **one** transaction
that writes only the children whose state advanced (conditioned on the revision read) and adds
their count deltas to the summary. A batch of duplicates or stale events writes nothing.

A chunk of a chunked map task (batchlane.common.chunks) writes its children at their global
indexes and its parent state at ``parent#<c>``. The same transaction records what the chunk's
events prove, exactly once because it is conditioned like every other write:

* the chunk's first write (its parent item, or for a plain chunk job its one child item, is
  created): a chunk submitted after the launch leaves the WAITING count (``n_WAITING``);
* the chunk's end (the parent item, or the plain job's child, becomes final): the chunk it makes
  due is recorded in the summary (``due_<c:06d>``) until status.transitions announces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.cost import RUN_MS, run_ms
from batchlane.common.executions import PARENT_SK, chunk_parent_sk
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.status.failures import failure_delta
from batchlane.status.launches import LaunchJob
from batchlane.status.observations import Observation, merge_child, merge_parent
from batchlane.status.phase import WAITING, add_deltas, count_delta
from batchlane.status.ports import ChildWrite, Contention, ParentWrite, StatusStore, WriteConflict
from batchlane.status.reclaim import FALLBACKS, newly_awaiting
from batchlane.status.states import RANK, ChildState, ParentState

CONTENTION_RETRIES = 5
CHILDREN_PER_TRANSACTION = 98  # + the parent + the summary = DynamoDB's 100 items
DUE_PREFIX = "due_"  # summary attributes "due_<c:06d>": chunks due and not announced yet (value: the chunk that ended)


def due_attribute(chunk: int) -> str:
    return f"{DUE_PREFIX}{chunk:06d}"


def due_chunks(summary: dict[str, Any] | None) -> dict[str, int]:
    """``{attribute: due chunk}`` of the chunks a summary holds as due and not yet announced."""
    return {k: int(k[len(DUE_PREFIX) :]) for k in (summary or {}) if k.startswith(DUE_PREFIX)}


@dataclass
class LaunchBatch:
    """The observations of one launch (one Batch job) in one Lambda batch."""

    message_ids: list[str] = field(default_factory=list)
    launch_key: str | None = None  # of the job's batchlane:team and batchlane:launchId tags, when its events carry them
    chunk_tag: str | None = None  # its batchlane:chunk tag (a chunk of a chunked map task)
    fallback_tag: str | None = None  # its batchlane:fallback tag (a child's on-demand fallback, onReclaim)
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
        elif obs.parent is not None:
            self.parent = obs.parent if self.parent is None else self.parent.join(obs.parent)
            if obs.parent.blocked:
                self.blocked = obs.parent.blocked


class StatusWriter:
    def __init__(self, store: StatusStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def write(self, job: LaunchJob, batch: LaunchBatch) -> bool:
        """Every child of the batch (global indexes of the launch: the caller maps and drops the
        others), in transactions of at most CHILDREN_PER_TRANSACTION children; the parent and the
        summary's queue-blocked reason go with the first. True when this write made an array
        chunk's parent SUCCEEDED (every child of the chunk succeeded: its outputs can be read)."""
        indexes = sorted(batch.children)
        groups = [indexes[k : k + CHILDREN_PER_TRANSACTION] for k in range(0, len(indexes), CHILDREN_PER_TRANSACTION)]
        chunk_succeeded = False
        for n, group in enumerate(groups or [[]]):
            first = n == 0
            parent = self._commit(
                job, {i: batch.children[i] for i in group}, batch.parent if first else None, batch if first else None
            )
            chunk_succeeded |= job.chunk is not None and parent is not None and parent.status == "SUCCEEDED"
        return chunk_succeeded

    def _commit(
        self, job: LaunchJob, children: dict[int, ChildState], parent: ParentState | None, batch: LaunchBatch | None
    ) -> ParentState | None:
        """One transaction; the parent state it moved to final, if it did."""
        launch = job.launch
        array_chunk = job.chunk is not None and job.size > 1
        parent_sk = chunk_parent_sk(job.chunk) if job.chunk is not None and job.size > 1 else PARENT_SK
        # An array chunk's parent item marks that the chunk was seen: read with its first group always.
        read_parent = parent is not None or (array_chunk and batch is not None)
        for _ in range(CONTENTION_RETRIES):
            stored, stored_parent = self.store.read_states(launch.key, list(children), read_parent, parent_sk)
            writes, deltas = _child_writes(children, stored)
            parent_write = _parent_write(parent, stored_parent)
            if read_parent and array_chunk and stored_parent is None and parent_write is None:
                parent_write = (ParentState(status="SUBMITTED", size=job.size), None)
            summary_set, remove = _blocked_change(batch, bool(writes))
            if launch.reclaim_queue:  # a reclaimed child now waiting: its fallback is due (status.reclaim)
                due = newly_awaiting([(m, stored.get(m.index, (None, None))[0]) for m, _ in writes])
                summary_set.update(due)
                add_deltas(deltas, {FALLBACKS: len(due)} if due else {})
            if job.chunk is not None:
                _chunk_changes(job, job.chunk, stored, stored_parent, writes, parent_write, summary_set, deltas)
            elif parent_write is not None:
                summary_set["parentStatus"] = parent_write[0].status
            if not writes and parent_write is None and "blocked" not in summary_set:
                return None  # duplicates and stale events only: no write at all
            now_ms = int(self.clock() * 1000)
            # openShard/lastSeenAt: the launch is in the open-launches index (the reconciler's view).
            summary_set.update(
                {
                    "jobId": launch.job_id,
                    "queue": launch.queue,
                    "size": launch.size,
                    "updatedAt": now_ms,
                    OPEN_SHARD_ATTR: open_shard(launch.key),
                    LAST_SEEN_ATTR: now_ms,
                }
            )
            try:
                self.store.commit(
                    launch.key,
                    writes,
                    parent_write,
                    {"set": summary_set, "deltas": deltas, "remove": remove},
                    parent_sk,
                )
                if parent_write is not None and _parent_ended(parent_write, stored_parent):
                    return parent_write[0]
                return None
            except WriteConflict:
                continue
        raise Contention(f"launch {launch.launch_id}: {CONTENTION_RETRIES} write conflicts in a row")


def _parent_ended(parent_write: ParentWrite | None, stored_parent: tuple[ParentState, int] | None) -> bool:
    """This write moves the parent to a final status (it was not final before)."""
    return parent_write is not None and parent_write[0].final and not (stored_parent and stored_parent[0].final)


def _chunk_changes(
    job: LaunchJob,
    chunk: int,
    stored: dict[int, tuple[ChildState, int]],
    stored_parent: tuple[ParentState, int] | None,
    writes: list[ChildWrite],
    parent_write: ParentWrite | None,
    summary_set: dict[str, Any],
    deltas: dict[str, int],
) -> None:
    """What this write proves about the chunk: first seen (out of WAITING), ended (the next one due)."""
    chunks = job.launch.chunks
    if job.size > 1:
        first_seen = stored_parent is None and parent_write is not None
        ended = _parent_ended(parent_write, stored_parent)
    else:  # a plain Batch job: its one child item is the chunk's state
        write = next((w for w in writes if w[0].index == job.offset), None)
        old = stored.get(job.offset, (None, None))[0]
        first_seen = write is not None and write[1] is None
        ended = write is not None and write[0].final and not (old is not None and old.final)
    if first_seen and chunk not in chunks.initial:
        add_deltas(deltas, {WAITING: -job.size, "SUBMITTED": job.size})
    due = chunks.due_after(chunk) if ended else None
    if due is not None:
        summary_set[due_attribute(due)] = chunk


def _child_writes(
    children: dict[int, ChildState], stored: dict[int, tuple[ChildState, int]]
) -> tuple[list[ChildWrite], dict[str, int]]:
    writes: list[ChildWrite] = []
    deltas: dict[str, int] = {}
    for i, new in children.items():
        old, rev = stored.get(i, (None, None))
        merged, changed = merge_child(old, new)
        if changed:
            writes.append((merged, rev))
            add_deltas(deltas, count_delta(old.status if old else None, merged.status))
            add_deltas(deltas, failure_delta(old, merged))
            add_deltas(deltas, {RUN_MS: run_ms(merged.attempts) - (run_ms(old.attempts) if old else 0)})
    return writes, deltas


def _parent_write(parent: ParentState | None, stored: tuple[ParentState, int] | None) -> ParentWrite | None:
    if parent is None:
        return None
    old, rev = stored or (None, None)
    merged, changed = merge_parent(old, parent)
    return (merged, rev) if changed else None


def _blocked_change(batch: LaunchBatch | None, children_advanced: bool) -> tuple[dict[str, Any], list[str]]:
    """A Queue Blocked reason applies until some child starts."""
    if batch is not None and batch.blocked and not batch.started:
        return {"blocked": batch.blocked}, []
    if batch is not None and batch.started and children_advanced:
        return {}, ["blocked"]
    return {}, []
