"""onReclaim "on-demand" in the status path (pure): a child whose last attempt a Spot reclaim ended
waits for its rerun instead of failing, and the rerun's events continue that child.

* A reclaimed child of a launch with a reclaim queue (its FAILED state, failure class
  ``spot-reclaimed``) is recorded RUNNABLE with :data:`AWAITING_RERUN` as its reason: the launch's
  phase waits for it. The write that first records it so marks the rerun due on the summary
  (``rerun_<i:06d>``), which status.transitions announces ("Task Chunk Due" with ``rerun``) and the
  launcher submits once (its ``rerun#<i>`` claim).
* The rerun's events (a plain job tagged ``batchlane:rerun``) are child i's later attempts: their
  attempt numbers follow the launch's ``attempts``, so they supersede the waiting state (the fold
  orders a child's states by attempts, then status). The rerun ends the child as it ends; a
  rerun that is reclaimed again fails the child (once more, not for ever).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from batchlane.status.failures import child_class
from batchlane.status.states import Attempt, ChildState

AWAITING_RERUN = "Spot reclaim ended its last attempt: runs once more on on-demand queue "
RERUN_DUE_PREFIX = "rerun_"  # summary attributes "rerun_<i:06d>": reruns due and not announced yet
RERUNS = "reruns"  # summary count delta (attribute "n_reruns"): children rerun on demand


def rerun_due_attribute(index: int) -> str:
    return f"{RERUN_DUE_PREFIX}{index:06d}"


def due_reruns(summary: Mapping[str, Any] | None) -> dict[str, int]:
    """``{attribute: child}`` of the reruns a summary holds as due and not yet announced."""
    return {k: int(k[len(RERUN_DUE_PREFIX) :]) for k in (summary or {}) if k.startswith(RERUN_DUE_PREFIX)}


def reruns_of(summary: Mapping[str, Any] | None) -> int:
    """Children of the launch rerun on demand after a Spot reclaim."""
    return int((summary or {}).get(f"n_{RERUNS}", 0))


def awaiting_rerun(child: ChildState) -> bool:
    return child.status == "RUNNABLE" and (child.status_reason or "").startswith(AWAITING_RERUN)


def reclaim_view(child: ChildState, queue: str, rerun_of: int | None, attempts: int) -> ChildState:
    """What a child's state means under onReclaim: a reclaimed end of the launch's own job waits for
    the rerun on ``queue``; a state of the rerun (``rerun_of``: the child it reruns) is that child's,
    after its ``attempts`` attempts."""
    if rerun_of is not None:
        return replace(child, n=child.n + attempts, attempts=(Attempt(),) * attempts + child.attempts)
    if child.status == "FAILED" and child_class(child) == "spot-reclaimed":
        return replace(child, status="RUNNABLE", status_reason=AWAITING_RERUN + queue)
    return child


def newly_awaiting(written: list[tuple[ChildState, ChildState | None]]) -> dict[str, int]:
    """The summary's rerun-due attributes of the children this write moved to awaiting their rerun
    (``(new, old)`` pairs): each once, whatever the duplicates of its reclaimed end."""
    return {
        rerun_due_attribute(new.index): 1
        for new, old in written
        if awaiting_rerun(new) and not (old is not None and awaiting_rerun(old))
    }
