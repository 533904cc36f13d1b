"""A child's CloudWatch log stream, read as the console reads it (``batchlane logs``, ``status``).

The group and stream are the ones the status record holds (what Batch's events named: the job's own
``awslogs-group``, each attempt's ``logStreamName``), so the same reads work against AWS and the
sandbox, whose simulated Batch writes its children's lines to the emulator's CloudWatch Logs.

``GetLogEvents`` pages forward with ``nextForwardToken``; the end of the stream is a page whose token
is the one sent (CloudWatch's own rule), which is also where ``--follow`` waits for more lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batchlane.client.links import DEFAULT_LOG_GROUP
from batchlane.status.states import ChildState

PAGE_EVENTS = 10_000  # GetLogEvents' own maximum per call


@dataclass(frozen=True)
class AttemptLog:
    """Where one attempt of one child writes: its log group and stream."""

    index: int
    attempt: int  # 0-based, as the log links number attempts
    group: str
    stream: str

    def as_json(self) -> dict[str, Any]:
        return {"child": self.index, "attempt": self.attempt, "logGroup": self.group, "logStream": self.stream}


class NoLogStream(LookupError):
    """The attempt asked for has no log stream (yet): it has not started, or the index is beyond it."""


def attempt_log(child: ChildState, attempt: int | None, default_group: str | None) -> AttemptLog:
    """The log of ``attempt`` of ``child`` (None: its latest attempt with a stream)."""
    streams = [(k, a.log_stream) for k, a in enumerate(child.attempts) if a.log_stream]
    if attempt is not None:
        streams = [(k, s) for k, s in streams if k == attempt]
    if not streams:
        which = "no attempt" if attempt is None else f"attempt {attempt}"
        started = len(child.attempts)
        raise NoLogStream(
            f"child {child.index} has {which} with a log stream yet ({started} attempt(s) known, status {child.status})"
        )
    k, stream = streams[-1]
    return AttemptLog(child.index, k, child.log_group or default_group or DEFAULT_LOG_GROUP, str(stream))


@dataclass(frozen=True)
class LogPage:
    events: list[dict[str, Any]]  # {timestamp (epoch ms), message}
    token: str | None  # where the next read starts (None: from the stream's head)


def read_page(logs, where: AttemptLog, token: str | None = None, limit: int = PAGE_EVENTS) -> LogPage:
    """One GetLogEvents page forward from ``token`` (None: the head of the stream)."""
    request: dict[str, Any] = {
        "logGroupName": where.group,
        "logStreamName": where.stream,
        "startFromHead": True,
        "limit": limit,
    }
    if token:
        request["nextToken"] = token
    response = logs.get_log_events(**request)
    events = [{"timestamp": e.get("timestamp"), "message": e.get("message", "")} for e in response.get("events", [])]
    return LogPage(events, response.get("nextForwardToken") or token)


def read_forward(logs, where: AttemptLog, token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Every event from ``token`` to the end of the stream now, and the token to go on from."""
    events: list[dict[str, Any]] = []
    for page in pages(logs, where, token):
        events += page.events
        token = page.token
    return events, token


def pages(logs, where: AttemptLog, token: str | None = None) -> Iterator[LogPage]:
    """Pages forward until one comes back with the token it was asked with (the stream's end now)."""
    while True:
        page = read_page(logs, where, token)
        yield page
        if not page.events or page.token == token:
            return
        token = page.token


def tail(logs, where: AttemptLog, lines: int) -> list[str]:
    """The last ``lines`` messages of the stream (one backward read from its end)."""
    response = logs.get_log_events(
        logGroupName=where.group, logStreamName=where.stream, startFromHead=False, limit=max(1, lines)
    )
    return [e.get("message", "") for e in response.get("events", [])][-lines:]
