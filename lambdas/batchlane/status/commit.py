"""Writing one launch's observations of one Lambda batch: ranges of children, then the parent.

Per Lambda batch and launch (docs/status.md, "Writes"):

* **children**: the touched range items (batchlane.status.ranges: one per 100 consecutive children,
  in the launch's shards) are read with one BatchGetItem, the events joined in (``merge_child``: order
  and duplicates do not matter), and each range that advanced is put back conditioned on the
  revision read: a lost race re-reads and joins again. No transaction: a range carries its own
  counts. Each touched range's counts then go to its shard's summary ("newest revision wins"), and
  the launch's summary is rolled up from the shards' (status.rollup);
* **the parent** (an array's, or a chunk's ``parent#<c>``, for a one-child chunk a marker holding its
  child's status): one small transaction with the summary, rare (a few events per job), recording
  exactly once what the chunk's events prove:

  - the chunk's first write (its parent item is created): a chunk submitted after the launch
    leaves the WAITING count (``seen_WAITING``, ``seen_SUBMITTED``: status.transitions.counts_of);
  - the chunk's end (the parent item becomes final): the chunk it makes due is recorded in the
    summary (``due_<c:06d>``) until status.transitions announces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.executions import PARENT_SK, chunk_parent_sk, shard_of_range
from batchlane.status.launches import LaunchJob
from batchlane.status.observations import Observation, merge_parent
from batchlane.status.phase import SEEN_PREFIX, WAITING
from batchlane.status.ports import Contention, ParentWrite, ShardStore, StatusStore, WriteConflict
from batchlane.status.ranges import ChildRange, range_attribute, ranges_of
from batchlane.status.reclaim import newly_awaiting
from batchlane.status.rollup import Rollup, Touched
from batchlane.status.states import RANK, ChildState, ParentState

CONTENTION_RETRIES = 5
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
    def __init__(self, store: StatusStore, shards: ShardStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.shards = shards
        self.clock = clock
        self.rollup = Rollup(store, shards, clock)

    def write(self, job: LaunchJob, batch: LaunchBatch) -> bool:
        """Every child of the batch (global indexes of the launch: the caller maps and drops the
        others), the parent, then the summary. True when this write made an array chunk's parent
        SUCCEEDED (every child of the chunk succeeded: its outputs can be read)."""
        touched = self._write_children(job, batch.children)
        parent, parent_changed = self._write_parent(job, batch)
        blocked, unblocked = _blocked_change(batch, touched.advanced)
        # A block's end rides with the next roll-up (any started child's write carries it again).
        self.rollup.refresh(
            job.launch, touched, force=parent_changed or blocked is not None, blocked=blocked, unblocked=unblocked
        )
        return job.chunk is not None and job.size > 1 and parent is not None and parent.status == "SUCCEEDED"

    def _write_children(self, job: LaunchJob, children: dict[int, ChildState]) -> Touched:
        """Each touched range joined and put back (conditioned on its revision), then its counts
        published to its shard's summary."""
        touched = Touched()
        pending = ranges_of(children.values())
        published: dict[int, dict[str, Any]] = {}
        for _ in range(CONTENTION_RETRIES):
            if not pending:
                break
            stored, shards = self.shards.read_ranges(job.launch.key, sorted(pending))
            published.update(shards)
            lost: dict[int, list[ChildState]] = {}
            for number, observed in pending.items():
                old, rev = stored.get(number, (ChildRange(number), None))
                new, changed = old.merge(observed)
                if changed and job.launch.reclaim_queue:
                    self._mark_fallbacks_due(job, old, new)
                if changed:
                    try:
                        rev = self.shards.put_range(job.launch.key, new, rev)
                    except WriteConflict:
                        lost[number] = observed
                        continue
                touched.add(number, rev, old, new, changed)
            pending = lost
        if pending:
            raise Contention(f"launch {job.launch.launch_id}: {CONTENTION_RETRIES} write conflicts in a row")
        for number, (rev, counts) in touched.ranges.items():
            # Also a range written before and not published (its writer died in between).
            if rev is not None and _published_rev(published.get(shard_of_range(number)), number) < rev:
                touched.shards[number] = self.shards.publish_range(job.launch.key, number, rev, counts)
        return touched

    def _mark_fallbacks_due(self, job: LaunchJob, old: ChildRange, new: ChildRange) -> None:
        """onReclaim: the children this write moves to awaiting their fallback, marked due on the
        summary before the range is written (a SET: a retry after a lost race marks them again,
        harmlessly), so that no crash in between loses a due fallback (status.reclaim)."""
        moved = [(c, old.states.get(i)) for i, c in new.states.items() if c is not old.states.get(i)]
        due = newly_awaiting(moved)
        if due:
            self.store.mark_summary(job.launch.key, due)

    def _write_parent(self, job: LaunchJob, batch: LaunchBatch) -> tuple[ParentState | None, bool]:
        """The parent (or a one-child chunk's marker) and what it proves, with the summary in one
        transaction: the state it moved to final (if it did), and whether it changed."""
        launch = job.launch
        chunk_marker = job.chunk is not None and job.size == 1
        observed = _marker(batch.children.get(job.offset)) if chunk_marker else batch.parent
        if observed is None and job.chunk is None:
            return None, False
        parent_sk = chunk_parent_sk(job.chunk) if job.chunk is not None else PARENT_SK
        for _ in range(CONTENTION_RETRIES):
            stored = self.store.read_parent(launch.key, parent_sk)
            parent_write = _parent_write(observed, stored)
            if stored is None and parent_write is None and job.chunk is not None:
                parent_write = (ParentState(status="SUBMITTED", size=job.size), None)  # the chunk was seen
            if parent_write is None:
                return None, False
            summary_set: dict[str, Any] = {}
            deltas: dict[str, int] = {}
            if job.chunk is not None:
                _chunk_changes(job, job.chunk, stored, parent_write, summary_set, deltas)
            else:
                summary_set["parentStatus"] = parent_write[0].status
            try:
                self.store.commit(launch.key, parent_write, {"set": summary_set, "deltas": deltas}, parent_sk)
            except WriteConflict:
                continue
            return (parent_write[0] if _parent_ended(parent_write, stored) else None), True
        raise Contention(f"launch {launch.launch_id}: {CONTENTION_RETRIES} write conflicts in a row")


def _published_rev(shard_summary: dict[str, Any] | None, number: int) -> int:
    """The revision of a range whose counts its shard's summary holds (0: none)."""
    return int(((shard_summary or {}).get(range_attribute(number)) or {}).get("v") or 0)


def _marker(child: ChildState | None) -> ParentState | None:
    """A one-child chunk's marker: its job's status is its child's."""
    return ParentState(status=child.status, size=1) if child is not None else None


def _parent_ended(parent_write: ParentWrite | None, stored_parent: tuple[ParentState, int] | None) -> bool:
    """This write moves the parent to a final status (it was not final before)."""
    return parent_write is not None and parent_write[0].final and not (stored_parent and stored_parent[0].final)


def _chunk_changes(
    job: LaunchJob,
    chunk: int,
    stored_parent: tuple[ParentState, int] | None,
    parent_write: ParentWrite,
    summary_set: dict[str, Any],
    deltas: dict[str, int],
) -> None:
    """What this write proves about the chunk: first seen (out of WAITING), ended (the next one due)."""
    chunks = job.launch.chunks
    if stored_parent is None and chunk not in chunks.initial:
        deltas.update({SEEN_PREFIX + WAITING: -job.size, SEEN_PREFIX + "SUBMITTED": job.size})
    due = chunks.due_after(chunk) if _parent_ended(parent_write, stored_parent) else None
    if due is not None:
        summary_set[due_attribute(due)] = chunk


def _parent_write(parent: ParentState | None, stored: tuple[ParentState, int] | None) -> ParentWrite | None:
    if parent is None:
        return None
    old, rev = stored or (None, None)
    merged, changed = merge_parent(old, parent)
    return (merged, rev) if changed else None


def _blocked_change(batch: LaunchBatch, children_advanced: bool) -> tuple[str | None, bool]:
    """A Queue Blocked reason applies until some child starts: (reason to set, whether to clear it)."""
    if batch.blocked and not batch.started:
        return batch.blocked, False
    return None, batch.started and children_advanced
