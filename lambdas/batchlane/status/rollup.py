"""The launch's summary rolled up from its shards' summaries, at a bounded rate (docs/status.md).

No item is written by every event of a launch: ranges are written per range, shard summaries per
shard, and the launch's summary (what clients and the phase keeper read) is recomputed from all the
shards' summaries (two BatchGetItems of 100 items for a million children) at most once per
``interval_seconds`` per launch, except when a write may decide the phase: a shard's children all
final, a new failure, a parent changed, a Queue Blocked reason, a launch of one shard, or the
reconciler asking. Each roll-up records the sum of the shard versions it read (``rollupVersion``,
only growing): a roll-up that read older shards never overwrites one that read newer ones, and a
deciding roll-up that lost to one reads again, so its change is never left out. Between roll-ups
the counts of a large launch may be up to one interval old.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.cost import RUN_MS
from batchlane.common.executions import LaunchRecord, shard_count, shard_of_range
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.status.failures import FAILURE_CLASSES, FAILURE_DELTA_PREFIX
from batchlane.status.ports import ShardStore, StatusStore
from batchlane.status.ranges import ChildRange, launch_totals, shard_final
from batchlane.status.states import STATUSES

REFRESH_SECONDS = 1.0
ROLLUP_VERSION = "rollupVersion"
ROLLED_UP_AT = "rolledUpAt"
DECIDING_RETRIES = 3


@dataclass
class Touched:
    """What one write did to a launch's ranges."""

    ranges: dict[int, tuple[int | None, dict[str, int]]] = field(default_factory=dict)  # number -> (rev, counts)
    shards: dict[int, dict[str, Any] | None] = field(default_factory=dict)  # range number -> its shard's summary
    advanced: bool = False  # some child's state moved on
    new_failures: bool = False  # some child became FAILED

    def add(self, number: int, rev: int | None, old: ChildRange, new: ChildRange, changed: bool) -> None:
        counts = new.counts()
        self.ranges[number] = (rev, counts)
        self.advanced |= changed
        self.new_failures |= counts.get("FAILED", 0) > old.counts().get("FAILED", 0)


class Rollup:
    def __init__(
        self,
        store: StatusStore,
        shards: ShardStore,
        clock: Callable[[], float] = time.time,
        interval_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.shards = shards
        self.clock = clock
        self.interval_seconds = interval_seconds

    def refresh(
        self,
        launch: LaunchRecord,
        touched: Touched,
        *,
        force: bool = False,
        blocked: str | None = None,
        unblocked: bool = False,
    ) -> bool:
        """Roll the launch's summary up from its shards when due; True when it was written."""
        if not force and not touched.advanced and not any(s is not None for s in touched.shards.values()):
            return False  # duplicates only, published before: nothing new to roll up
        shards = shard_count(launch.size)
        deciding = (
            force
            or touched.new_failures
            or shards == 1
            or any(shard_final(s, shard_of_range(n), launch.size) for n, s in touched.shards.items() if s is not None)
        )
        now_ms = int(self.clock() * 1000)
        stale_before = None if deciding else now_ms - int(self.interval_seconds * 1000)
        if (
            stale_before is not None
            and int((self.store.summary(launch.key) or {}).get(ROLLED_UP_AT) or 0) >= stale_before
        ):
            return False  # rolled up within the interval: the next event past it (or a deciding one) does it
        for _ in range(DECIDING_RETRIES):
            totals, version = launch_totals(self.shards.shard_summaries(launch.key, list(range(shards))).values())
            fields = _fields(launch, totals, now_ms)
            if blocked:
                fields["blocked"] = blocked
            remove = ("blocked",) if unblocked else ()
            if self.store.refresh_summary(launch.key, fields, remove, version, stale_before):
                return True
            if stale_before is not None:
                return False  # another roll-up within the interval, or a newer one
        return False


def _fields(launch: LaunchRecord, totals: dict[str, int], now_ms: int) -> dict[str, Any]:
    """The summary's attributes of a roll-up: the children's counts (every status and failure
    class, zeros included, so that a count that went back to zero is written), and the launch's
    place in the open-launches index (the reconciler's view)."""
    counts = {f"n_{s}": totals.get(s, 0) for s in STATUSES}
    counts.update(
        {f"n_{FAILURE_DELTA_PREFIX}{c}": totals.get(f"{FAILURE_DELTA_PREFIX}{c}", 0) for c in FAILURE_CLASSES}
    )
    counts[f"n_{RUN_MS}"] = totals.get(RUN_MS, 0)
    return {
        **counts,
        "jobId": launch.job_id,
        "queue": launch.queue,
        "size": launch.size,
        "updatedAt": now_ms,
        ROLLED_UP_AT: now_ms,
        OPEN_SHARD_ATTR: open_shard(launch.key),
        LAST_SEEN_ATTR: now_ms,
    }
