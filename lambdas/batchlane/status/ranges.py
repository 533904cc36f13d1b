"""A range of a launch's children in one item, and the counts derived from it (pure; no boto3).

One item per :data:`RANGE_CHILDREN` consecutive children (batchlane.common.executions): a Lambda
batch's events of neighbouring children become one write, and the states are stored compressed
(zlib over compact JSON: a few hundred bytes per child become a few dozen). The item also carries
its counts (``n_<STATUS>`` deltas relative to "every child SUBMITTED", ``n_failure:<class>``, the
attempts' run time ``n_runMs``), so
counts and states never disagree without a transaction. A shard's summary keeps each range's
counts as of its revision, the launch's summary the shards' totals (batchlane.status.commit):
every level is "newest revision wins", so a retry, a duplicate or an out-of-order write changes
nothing it should not.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.cost import RUN_MS, run_ms
from batchlane.common.executions import SHARD_CHILDREN, range_of
from batchlane.status.failures import failure_delta
from batchlane.status.observations import merge_child
from batchlane.status.phase import add_deltas, count_delta
from batchlane.status.states import ChildState

_DERIVED = "failureClass"  # re-derived on read: not stored


@dataclass
class ChildRange:
    """The stored states of range ``number``'s children (those with an event), by global index."""

    number: int
    states: dict[int, ChildState] = field(default_factory=dict)

    def merge(self, children: Iterable[ChildState]) -> tuple[ChildRange, bool]:
        """The join with newer observations of its children; whether anything changed."""
        states, changed = dict(self.states), False
        for child in children:
            if range_of(child.index) != self.number:
                raise ValueError(f"child {child.index} is not in range {self.number}")
            merged, moved = merge_child(states.get(child.index), child)
            if moved:
                states[child.index], changed = merged, True
        return ChildRange(self.number, states), changed

    def counts(self) -> dict[str, int]:
        """Count deltas of its children (relative to SUBMITTED) and their failed attempts per class."""
        total: dict[str, int] = {}
        for child in self.states.values():
            add_deltas(total, count_delta(None, child.status))
            add_deltas(total, failure_delta(None, child))
            add_deltas(total, {RUN_MS: run_ms(child.attempts)})
        return total

    def encode(self) -> bytes:
        items = [_compact(c.to_item()) for _, c in sorted(self.states.items())]
        return zlib.compress(json.dumps(items, separators=(",", ":")).encode(), 6)

    @classmethod
    def decode(cls, number: int, blob: bytes | None) -> ChildRange:
        items = json.loads(zlib.decompress(blob)) if blob else []
        return cls(number, {int(i["index"]): ChildState.from_item(i) for i in items})


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    item.pop(_DERIVED, None)
    for attempt in item.get("attempts", ()):
        attempt.pop(_DERIVED, None)
    return item


def ranges_of(children: Iterable[ChildState]) -> dict[int, list[ChildState]]:
    """Observed children grouped by range number."""
    grouped: dict[int, list[ChildState]] = {}
    for child in children:
        grouped.setdefault(range_of(child.index), []).append(child)
    return grouped


def range_attribute(number: int) -> str:
    """The shard summary's attribute holding a range's counts."""
    return f"r{number:05d}"


def shard_totals(shard_summary: Mapping[str, Any] | None) -> dict[str, int]:
    """A shard's counts: the sum of its ranges' counts as its summary holds them."""
    total: dict[str, int] = {}
    for k, v in (shard_summary or {}).items():
        if k.startswith("r") and isinstance(v, Mapping):
            add_deltas(total, {c: int(n) for c, n in (v.get("n") or {}).items()})
    return total


def launch_totals(shard_summaries: Iterable[Mapping[str, Any] | None]) -> tuple[dict[str, int], int]:
    """The launch's counts from its shards' summaries, and the sum of their versions (it only grows:
    a refresh that read older shards never overwrites one that read newer)."""
    total: dict[str, int] = {}
    version = 0
    for s in shard_summaries:
        add_deltas(total, shard_totals(s))
        version += int((s or {}).get("v") or 0)
    return total, version


def shard_final(shard_summary: Mapping[str, Any] | None, shard: int, size: int) -> bool:
    """Every child of the shard (of a launch of ``size``) is final in its summary."""
    first = shard * SHARD_CHILDREN
    children = max(0, min(size, first + SHARD_CHILDREN) - first)
    totals = shard_totals(shard_summary)
    return totals.get("SUCCEEDED", 0) + totals.get("FAILED", 0) >= children
