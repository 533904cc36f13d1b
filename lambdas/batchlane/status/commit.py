"""Writing one launch's observations of one Lambda batch: read, join, one transaction per chunk.

Per Lambda batch and launch: one read of the touched children (BatchGetItem), the events folded in
memory (``merge_child``: a join, so order and duplicates do not matter), then **one** transaction
that writes only the children whose state advanced (conditioned on the revision read) and adds
their count deltas to the summary. A batch of duplicates or stale events writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.executions import LaunchRecord
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.status.failures import failure_delta
from batchlane.status.fold import RANK, ChildState, Observation, ParentState, add_deltas, count_delta, merge_child, merge_parent
from batchlane.status.ports import ChildWrite, Contention, ParentWrite, StatusStore, WriteConflict

CONTENTION_RETRIES = 5
CHILDREN_PER_TRANSACTION = 98  # + the parent + the summary = DynamoDB's 100 items


@dataclass
class LaunchBatch:
    """The observations of one launch (one Batch job) in one Lambda batch."""

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


class StatusWriter:
    def __init__(self, store: StatusStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def write(self, launch: LaunchRecord, batch: LaunchBatch) -> None:
        """Every child of the batch (``0 <= index < size``: the caller drops the others), in
        transactions of at most CHILDREN_PER_TRANSACTION children; the parent and the summary's
        queue-blocked reason go with the first."""
        indexes = sorted(batch.children)
        chunks = [indexes[k:k + CHILDREN_PER_TRANSACTION] for k in range(0, len(indexes), CHILDREN_PER_TRANSACTION)]
        for n, chunk in enumerate(chunks or [[]]):
            first = n == 0
            self._commit(launch, {i: batch.children[i] for i in chunk}, batch.parent if first else None,
                         batch if first else None)

    def _commit(self, launch: LaunchRecord, children: dict[int, ChildState], parent: ParentState | None,
                batch: LaunchBatch | None) -> None:
        for _ in range(CONTENTION_RETRIES):
            stored, stored_parent = self.store.read_states(launch.launch_id, list(children), parent is not None)
            writes, deltas = _child_writes(children, stored)
            parent_write = _parent_write(parent, stored_parent)
            summary_set, remove = _blocked_change(batch, bool(writes))
            if parent_write is not None:
                summary_set["parentStatus"] = parent_write[0].status
            if not writes and parent_write is None and "blocked" not in summary_set:
                return  # duplicates and stale events only: no write at all
            now_ms = int(self.clock() * 1000)
            # openShard/lastSeenAt: the launch is in the open-launches index (the reconciler's view).
            summary_set.update({"jobId": launch.job_id, "queue": launch.queue, "size": launch.size,
                                "updatedAt": now_ms, OPEN_SHARD_ATTR: open_shard(launch.launch_id),
                                LAST_SEEN_ATTR: now_ms})
            try:
                self.store.commit(launch.launch_id, writes, parent_write,
                                  {"set": summary_set, "deltas": deltas, "remove": remove})
                return
            except WriteConflict:
                continue
        raise Contention(f"launch {launch.launch_id}: {CONTENTION_RETRIES} write conflicts in a row")


def _child_writes(children: dict[int, ChildState], stored: dict[int, tuple[ChildState, int]]
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
