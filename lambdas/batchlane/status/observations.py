"""Events -> observations (pure): what one "Batch Job State Change" says about one child or an
array's parent, and folding it into that state (:func:`merge_child`, :func:`merge_parent`).

Both return ``(new_state, changed)``: ``changed`` is False for a duplicate or stale event, so the
aggregator writes a child item only when it advances. No boto3 here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from batchlane.status.events import MAX_TEXT, BatchJobEvent, JobDetail, MalformedEvent, parse_event, truncate
from batchlane.status.states import ACTIVE, MAX_ATTEMPTS, RANK, TERMINAL, Attempt, ChildState, ParentState


def _text(s: str | None) -> str | None:
    return truncate(s, MAX_TEXT) if s else None  # parse_event has cut it already; "" means none


def _ms(v: int | None) -> int | None:
    return v if v else None  # Batch reports startedAt 0 for an attempt that never started


@dataclass(frozen=True, slots=True)
class Observation:
    """What one event says: about one child, or about the parent of an array job."""

    job_id: str  # the launch's Batch job id (a child's id without ":<index>")
    region: str
    partition: str
    child: ChildState | None = None
    parent: ParentState | None = None


def _attempt_from_detail(a) -> Attempt:
    c = a.container
    if c is None:
        return Attempt(status_reason=_text(a.status_reason), started_at=_ms(a.started_at), stopped_at=_ms(a.stopped_at))
    return Attempt(
        c.exit_code,
        _text(c.reason),
        _text(a.status_reason),
        c.log_stream_name or None,
        _ms(a.started_at),
        _ms(a.stopped_at),
    )


def child_from_detail(d: JobDetail, index: int, *, queue_blocked: bool = False) -> ChildState:
    """The state one event shows for one child (plain job: index 0)."""
    status = d.status
    if status not in RANK:
        raise MalformedEvent(f"unknown Batch job status {status!r}")
    finished = d.attempts
    n = min(len(finished), MAX_ATTEMPTS)
    attempts = [_attempt_from_detail(a) for a in finished[:MAX_ATTEMPTS]]
    c = d.container
    if status in ACTIVE and n < MAX_ATTEMPTS:
        # The attempt under way is not in `attempts` yet: its log stream is the container's
        # (unless that is a stale copy of an earlier attempt's stream).
        stream = (c.log_stream_name or None) if c is not None else None  # "": no stream, no link
        if stream and any(a.log_stream == stream for a in attempts):
            stream = None
        attempts.append(Attempt(log_stream=stream, started_at=_ms(d.started_at) if status == "RUNNING" else None))
    elif status in TERMINAL and c is not None and (c.log_stream_name or c.exit_code is not None or c.reason):
        # The container section repeats the last attempt: fill what the attempt record lacks.
        extra = Attempt(c.exit_code, _text(c.reason), None, c.log_stream_name or None)
        if attempts:
            last = attempts[-1]
            if extra.log_stream is None or last.log_stream in (None, extra.log_stream):
                attempts[-1] = Attempt(
                    last.exit_code if last.exit_code is not None else extra.exit_code,
                    last.reason or extra.reason,
                    last.status_reason,
                    last.log_stream or extra.log_stream,
                    last.started_at,
                    last.stopped_at,
                )
        else:
            attempts.append(replace(extra, started_at=_ms(d.started_at), stopped_at=_ms(d.stopped_at)))
    reason = _text(d.status_reason)
    return ChildState(
        index=index,
        status=status,
        n=n,
        status_reason=None if queue_blocked else reason,
        blocked=reason if queue_blocked else None,
        log_group=d.log_group,
        attempts=tuple(attempts),
    )


def parent_from_detail(d: JobDetail, *, queue_blocked: bool = False) -> ParentState:
    status = d.status
    if status not in RANK:
        raise MalformedEvent(f"unknown Batch job status {status!r}")
    ap = d.array_properties
    summary = tuple(sorted((ap.status_summary or {}).items())) if ap is not None else ()
    reason = _text(d.status_reason)
    return ParentState(
        status=status,
        status_reason=None if queue_blocked else reason,
        size=ap.size if ap is not None else None,
        status_summary=summary,
        summary_at=(ap.status_summary_last_updated_at or 0) if ap is not None else 0,
        blocked=reason if queue_blocked else None,
    )


def observe(event: BatchJobEvent | Mapping[str, Any] | str) -> Observation:
    """Classify one event: a child of an array (``arrayProperties.index``), the parent of an
    array (``arrayProperties.size``), or a plain job (child 0). Raises ForeignEvent/MalformedEvent."""
    if not isinstance(event, BatchJobEvent):
        event = parse_event(event)
    d = event.detail
    blocked = event.is_queue_blocked
    job = (d.parent_job_id, event.region, event.partition)
    index = d.child_index  # 0..MAX_INDEX: parse_event rejects any other
    if index is not None:
        return Observation(*job, child=child_from_detail(d, index, queue_blocked=blocked))
    if d.is_array_parent:
        return Observation(*job, parent=parent_from_detail(d, queue_blocked=blocked))
    return Observation(*job, child=child_from_detail(d, 0, queue_blocked=blocked))


def merge_child(
    old: ChildState | None, event: BatchJobEvent | Observation | ChildState | Mapping[str, Any]
) -> tuple[ChildState, bool]:
    """Fold one event into one child's state: ``(new_state, changed)``.

    ``changed`` is False exactly when the event adds nothing (duplicate or stale): the
    aggregator then issues no write. ``event`` may be a parsed event, an :class:`Observation`
    or a child state (e.g. built by the reconciler from DescribeJobs)."""
    if isinstance(event, ChildState):
        new = event
    else:
        obs = event if isinstance(event, Observation) else observe(event)
        if obs.child is None:
            raise ValueError("an array parent's event: use merge_parent")
        new = obs.child
    if old is None:
        return new, True
    joined = old.join(new)
    return joined, joined != old


def merge_parent(
    old: ParentState | None, event: BatchJobEvent | Observation | ParentState | Mapping[str, Any]
) -> tuple[ParentState, bool]:
    if isinstance(event, ParentState):
        new = event
    else:
        obs = event if isinstance(event, Observation) else observe(event)
        if obs.parent is None:
            raise ValueError("not an array parent's event: use merge_child")
        new = obs.parent
    if old is None:
        return new, True
    joined = old.join(new)
    return joined, joined != old
