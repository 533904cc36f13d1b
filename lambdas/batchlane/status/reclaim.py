"""onReclaim "on-demand" in the status path (pure): a child whose last attempt a Spot reclaim ended
waits for its fallback instead of failing, and the fallback's events continue that child.

* A reclaimed child of a launch with a reclaim queue (its FAILED state, failure class
  ``spot-reclaimed``) is recorded RUNNABLE with :data:`AWAITING_FALLBACK` as its reason: the launch's
  phase waits for it. The write that first records it so marks the fallback due on the summary
  (``fallback_<i:06d>``), which status.transitions announces ("Task Chunk Due" with ``fallback``) and the
  launcher submits once (its ``fallback#<i>`` claim).
* The fallback's events (a plain job tagged ``batchlane:fallback``) are child i's later attempts: their
  attempt numbers follow the launch's ``attempts``, so they supersede the waiting state (the fold
  orders a child's states by attempts, then status). The fallback ends the child as it ends; a
  fallback that is reclaimed again fails the child (once more, not for ever).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from batchlane.status.failures import child_class
from batchlane.status.states import Attempt, ChildState

AWAITING_FALLBACK = "Spot reclaim ended its last attempt: runs once more on on-demand queue "
FALLBACK_DUE_PREFIX = "fallback_"  # summary attributes "fallback_<i:06d>": fallbacks due and not announced yet
FALLEN_BACK_PREFIX = "fallenBack_"  # summary attributes "fallenBack_<i:06d>", kept: the children that fell back


def fallback_due_attribute(index: int) -> str:
    return f"{FALLBACK_DUE_PREFIX}{index:06d}"


def due_fallbacks(summary: Mapping[str, Any] | None) -> dict[str, int]:
    """``{attribute: child}`` of the fallbacks a summary holds as due and not yet announced."""
    return {k: int(k[len(FALLBACK_DUE_PREFIX) :]) for k in (summary or {}) if k.startswith(FALLBACK_DUE_PREFIX)}


def fallbacks_of(summary: Mapping[str, Any] | None) -> int:
    """Children of the launch that fell back on demand after a Spot reclaim (each marked once: a SET,
    so a repeated mark after a lost race counts once)."""
    return sum(1 for k in (summary or {}) if k.startswith(FALLEN_BACK_PREFIX))


def awaiting_fallback(child: ChildState) -> bool:
    return child.status == "RUNNABLE" and (child.status_reason or "").startswith(AWAITING_FALLBACK)


def reclaim_view(child: ChildState, queue: str, fallback_of: int | None, attempts: int) -> ChildState:
    """What a child's state means under onReclaim: a reclaimed end of the launch's own job waits for
    the fallback on ``queue``; a state of the fallback (``fallback_of``: the child it stands in for) is that child's,
    after its ``attempts`` attempts."""
    if fallback_of is not None:
        return replace(child, n=child.n + attempts, attempts=(Attempt(),) * attempts + child.attempts)
    if child.status == "FAILED" and child_class(child) == "spot-reclaimed":
        return replace(child, status="RUNNABLE", status_reason=AWAITING_FALLBACK + queue)
    return child


def newly_awaiting(written: list[tuple[ChildState, ChildState | None]]) -> dict[str, int]:
    """The summary's fallback-due attributes of the children this write moved to awaiting their fallback
    (``(new, old)`` pairs): each once, whatever the duplicates of its reclaimed end."""
    moved = [new.index for new, old in written if awaiting_fallback(new) and not (old and awaiting_fallback(old))]
    return {name: 1 for i in moved for name in (fallback_due_attribute(i), f"{FALLEN_BACK_PREFIX}{i:06d}")}
