"""The launch's counts and phase (pure): per-status counts kept with atomic adds, and Flyte's
map-task rule deciding the phase from them.

* ``min_successes = ceil(min_success_ratio * size)``; succeed when every child is final and
  successes >= min_successes; fail as soon as successes + non-final < min_successes, and report
  the non-final children so the caller can stop them.
* Counts per Batch status always sum to ``size``: a child without any event yet counts as
  SUBMITTED (Batch sends no SUBMITTED event). :func:`count_delta` gives the change of the counts
  for one child transition, so a per-launch summary can be kept with atomic adds.
* A SUCCEEDED array parent proves every child SUCCEEDED, so children whose events were missed
  count as succeeded; a FAILED parent with children not final in the record asks for reconciliation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from batchlane.common.executions import Phase
from batchlane.status.states import STATUSES

# Not a Batch status: children of a chunked map task's chunks that are not submitted yet (waiting
# for a slot under maxConcurrency). Counted in a chunked launch's counts only; never final.
WAITING = "WAITING"
# Summary count deltas a chunk's first write adds (``seen_WAITING``, ``seen_SUBMITTED``: status.commit),
# beside the children's counts ``n_<STATUS>`` that status.rollup sets from the shards.
SEEN_PREFIX = "seen_"


def count_delta(old_status: str | None, new_status: str) -> dict[str, int]:
    """Change of the per-status counts when one child goes from ``old_status`` (None: no event
    seen yet, counted as SUBMITTED) to ``new_status``. Empty when the status did not change."""
    old = old_status or "SUBMITTED"
    if old == new_status:
        return {}
    return {old: -1, new_status: 1}


def add_deltas(total: dict[str, int], delta: Mapping[str, int]) -> dict[str, int]:
    """Accumulate deltas in place (one summary update per Lambda batch); zeros are dropped."""
    for k, v in delta.items():
        s = total.get(k, 0) + v
        if s:
            total[k] = s
        else:
            total.pop(k, None)
    return total


def initial_counts(size: int, waiting: int | None = None) -> dict[str, int]:
    """Counts before any event: every child SUBMITTED; with ``waiting`` (a chunked map task) that
    many WAITING instead (the chunks not submitted at launch) and a WAITING count even when 0."""
    counts = {s: (size - (waiting or 0) if s == "SUBMITTED" else 0) for s in STATUSES}
    if waiting is not None:
        counts[WAITING] = waiting
    return counts


def min_successes(size: int, ratio: Any = 1) -> int:
    """Flyte's ``ceil(min_success_ratio * size)``, computed in decimal (0.7 * 10 is 7, not 8).
    The ratio is clamped to [0, 1]; None means 1."""
    r = Decimal(1) if ratio is None else ratio if isinstance(ratio, Decimal) else Decimal(str(ratio))
    if not r.is_finite():
        raise ValueError(f"minSuccessRatio must be a number, not {ratio!r}")
    r = min(max(r, Decimal(0)), Decimal(1))
    return int((r * size).to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class PhaseDecision:
    phase: Phase
    reason: str
    succeeded: int  # counted successes, inferred ones (SUCCEEDED parent) included
    failed: int
    non_final: int
    needs_reconcile: bool = False  # the parent is final but some children are not, in the record

    @property
    def terminate(self) -> bool:
        """The launch has failed while children still run or wait: stop them (TerminateJob)."""
        return self.phase == "failed" and self.non_final > 0


def decide_phase(
    size: int,
    min_succ: int,
    counts: Mapping[str, int],
    *,
    parent_status: str | None = None,
    aborted: bool = False,
    multi_node: bool = False,
) -> PhaseDecision:
    """Launch phase from the per-status counts (which sum to ``size``); Flyte's map-task rule, or
    for a multi-node job (``multi_node``: its nodes are the children) Batch's: the job ends as its
    main node does, which the job's own event says (``parent_status``)."""
    succeeded = int(counts.get("SUCCEEDED", 0))
    failed = int(counts.get("FAILED", 0))
    non_final = size - succeeded - failed
    if multi_node:
        return _multi_node_phase(size, counts, parent_status, aborted)
    reconcile = False
    if parent_status == "SUCCEEDED" and non_final > 0:
        # A SUCCEEDED array parent proves every child SUCCEEDED: their events were missed.
        succeeded += non_final
        non_final = 0
        reconcile = True
    elif parent_status == "FAILED" and non_final > 0:
        reconcile = True  # every child is final in Batch; the record lacks some outcomes

    def d(phase: Phase, reason: str) -> PhaseDecision:
        return PhaseDecision(phase, reason, succeeded, failed, non_final, reconcile)

    if non_final == 0 and succeeded >= min_succ:
        return d("succeeded", f"{succeeded} of {size} succeeded ({min_succ} needed)")
    if aborted:
        return d("aborted", "aborted on request")
    if succeeded + non_final < min_succ:
        return d("failed", f"{failed} of {size} failed: at most {succeeded + non_final} can succeed, {min_succ} needed")
    if int(counts.get("RUNNING", 0)) > 0 or succeeded + failed > 0:
        return d("running", f"{int(counts.get('RUNNING', 0))} running, {succeeded + failed} of {size} final")
    waiting = int(counts.get(WAITING, 0))
    return d("queued", f"{size} waiting to run" + (f" ({waiting} waiting for a slot)" if waiting else ""))


def _multi_node_phase(size: int, counts: Mapping[str, int], parent_status: str | None, aborted: bool) -> PhaseDecision:
    """A worker node that ends decides nothing (Batch stops the others only when the main node ends)."""
    succeeded, failed = int(counts.get("SUCCEEDED", 0)), int(counts.get("FAILED", 0))
    non_final = size - succeeded - failed

    def d(phase: Phase, reason: str) -> PhaseDecision:
        return PhaseDecision(phase, reason, succeeded, failed, non_final)

    nodes = f"{succeeded} of {size} nodes succeeded, {failed} failed"
    if parent_status == "SUCCEEDED":
        return d("succeeded", f"the main node succeeded ({nodes})")
    if parent_status == "FAILED":
        return d("failed", f"the main node failed ({nodes})")
    if aborted:
        return d("aborted", "aborted on request")
    running = int(counts.get("RUNNING", 0))
    if running or succeeded + failed:
        return d("running", f"{running} of {size} nodes running, {succeeded + failed} ended")
    return d("queued", f"{size} nodes waiting to run")
