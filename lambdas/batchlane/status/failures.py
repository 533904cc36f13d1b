"""Why an attempt failed, from what AWS Batch reports about it (pure).

Each failed attempt gets one class (docs/status.md, "Failure classes"), decided from its
``statusReason``, its container ``reason`` and its exit code, first match wins:

=====================  ==========================================================================
``spot-reclaimed``     the host went away: ``Host EC2 (instance i-...) terminated.`` (a Spot reclaim
                       or a terminated instance), ``Your Spot Task was interrupted.`` (Fargate Spot)
``timeout``            ``Job attempt duration exceeded timeout`` (the attempt's timeout)
``image-pull-failed``  ``CannotPullContainerError`` (bad image reference, no registry access)
``out-of-memory``      an ``OutOfMemory`` reason (``OutOfMemoryError: Container killed due to memory
                       usage``, exit code 137). A 137 without that reason is any SIGKILL, so it is
                       an ``application-error``
``dependency-failed``  never ran: a launch it waits for (``after``) failed or was aborted, and Batch
                       failed it (``Dependent Job failed``)
``cancelled``          stopped by TerminateJob / CancelJob (batchlane's aborts and fail-fast stops
                       say ``batchlane: ...``), or a job state time limit action
``application-error``  the container exited with a non-zero code
``unknown``            it stopped and none of the above says why
=====================  ==========================================================================

``spot-reclaimed`` is the one *infrastructure* class: its reasons are batchlane.common.host_gone's,
the table retryOn "infrastructure" retries from (launch/planner.py, INFRASTRUCTURE_RETRY).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from batchlane.common.host_gone import HOST_GONE_PATTERN


# What is classified, as the status states (batchlane.status.states) show it: described here so that
# the states can put the class on their items without this module importing them back.
class Attempt(Protocol):
    @property
    def exit_code(self) -> int | None: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def status_reason(self) -> str | None: ...


class ChildState(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def status_reason(self) -> str | None: ...

    @property
    def attempts(self) -> Sequence[Attempt]: ...

    @property
    def last_attempt(self) -> Attempt | None: ...


SPOT_RECLAIMED = "spot-reclaimed"
TIMEOUT = "timeout"
IMAGE_PULL_FAILED = "image-pull-failed"
OUT_OF_MEMORY = "out-of-memory"
CANCELLED = "cancelled"
DEPENDENCY_FAILED = "dependency-failed"
APPLICATION_ERROR = "application-error"
UNKNOWN = "unknown"
FAILURE_CLASSES = (
    SPOT_RECLAIMED,
    TIMEOUT,
    IMAGE_PULL_FAILED,
    OUT_OF_MEMORY,
    DEPENDENCY_FAILED,
    CANCELLED,
    APPLICATION_ERROR,
    UNKNOWN,
)
INFRASTRUCTURE = frozenset({SPOT_RECLAIMED})

# (class, pattern on "statusReason | reason"), in the order they are tried.
_BY_REASON = (
    (SPOT_RECLAIMED, re.compile(HOST_GONE_PATTERN)),
    (TIMEOUT, re.compile(r"Job attempt duration exceeded timeout")),
    (IMAGE_PULL_FAILED, re.compile(r"CannotPullContainer")),
    (OUT_OF_MEMORY, re.compile(r"OutOfMemory")),
    (DEPENDENCY_FAILED, re.compile(r"\bdependent job\b.*\bfail", re.IGNORECASE)),
    (CANCELLED, re.compile(r"^batchlane: |\bcancel|\bterminated by|\bjob state time limit", re.IGNORECASE)),
)


def classify(status_reason: str | None, reason: str | None, exit_code: int | None) -> str | None:
    """The class of a stopped attempt; None when nothing says it stopped or it exited 0."""
    text = " | ".join(t for t in (status_reason, reason) if t)
    for name, pattern in _BY_REASON:
        if pattern.search(text):
            return name
    if exit_code is not None:
        return APPLICATION_ERROR if exit_code != 0 else None
    return UNKNOWN if text else None


def attempt_class(attempt: Attempt) -> str | None:
    return classify(attempt.status_reason, attempt.reason, attempt.exit_code)


def attempt_classes(child: ChildState) -> list[str | None]:
    """One entry per attempt: its class, None while it runs or when it succeeded."""
    return [attempt_class(a) for a in child.attempts]


def child_class(child: ChildState) -> str | None:
    """Why a FAILED child failed: its last attempt's class, or (no attempt ran: a cancel in the
    queue, a job state time limit) its own statusReason's. None for a child that has not failed."""
    return _failed_class(child) if child.status == "FAILED" else None


def _failed_class(child: ChildState) -> str:
    last = child.last_attempt
    found = attempt_class(last) if last is not None else None
    return found or classify(child.status_reason, None, None) or UNKNOWN


def failure_counts(children: Iterable[ChildState]) -> dict[str, int]:
    """Failed attempts per class over ``children`` (every attempt, retried ones included)."""
    counts = Counter(c for child in children for c in attempt_classes(child) if c is not None)
    counts.update(_failed_class(child) for child in children if child.status == "FAILED" and not child.attempts)
    return dict(counts)


FAILURE_DELTA_PREFIX = "failure:"  # summary count deltas (n_failure:<class>) beside n_<STATUS>


def failure_delta(old: ChildState | None, new: ChildState) -> dict[str, int]:
    """Change of the launch's failed attempts per class when one child goes from ``old`` to ``new``,
    as summary count deltas (keys ``failure:<class>``)."""
    before = failure_counts([old]) if old is not None else {}
    after = failure_counts([new])
    delta = {f"{FAILURE_DELTA_PREFIX}{k}": after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    return {k: v for k, v in delta.items() if v}


def failures_of(summary: dict | None) -> dict[str, int]:
    """Failed attempts per class from a summary's ``n_failure:<class>`` deltas."""
    prefix = "n_" + FAILURE_DELTA_PREFIX
    return {k[len(prefix) :]: int(v) for k, v in (summary or {}).items() if k.startswith(prefix) and int(v)}
