"""Waiting on batchlane, as a client: the answer to a launch, a launch followed to its end, the
outcome of an abort. Everything is read from what every deployment has, the executions table (the
launch record, and the ``rejection`` item a refused launch leaves); an answers queue, where a
deployment adds one, is only a second source (abort rejections leave no item).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from batchlane.client.api import BatchlaneClient
from batchlane.client.records import StoredStatus
from batchlane.client.render import Progress
from batchlane.common.event_types import ABORT_REJECTED, LAUNCH_REJECTED
from batchlane.common.executions import SUBMITTED, LaunchRecord

SETTLE_SECONDS = 10  # after TerminateJob: how long to wait for the stopped children's events
REJECTION_GRACE_SECONDS = 5  # an abort of an ended launch: how long to wait for batchlane's own rejection
# How far batchlane's clock (which stamps a rejection) may be behind this machine's.
CLOCK_SKEW_SECONDS = 5
STOPPING = "the remaining children are being stopped (TerminateJob)"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Answer:
    """batchlane's answer to a launch: ``launched`` (``record``), ``rejected`` (``problems``) or
    ``none`` within the time given (``answers_queue``: the queue's URL, None without one)."""

    kind: Literal["launched", "rejected", "none"]
    record: LaunchRecord | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    answers_queue: str | None = None


def record_of_launched(detail: dict[str, Any]) -> LaunchRecord:
    """A "Task Launched" detail read as the launch record it announces (when the record itself
    could not be read)."""
    size = int(detail.get("arraySize") or 0)
    return LaunchRecord.model_validate({**detail, "state": SUBMITTED, "size": size or 1, "isArray": size > 0})


def wait_for_answer(
    client: BatchlaneClient, launch_id: str, timeout: float, poll: float = 0.3, *, sent_at: float | None = None
) -> Answer:
    """Until the launch is recorded SUBMITTED or rejected (after ``sent_at``, the time the launch was
    put: an older rejection under the id answered an earlier request), or ``timeout``."""
    deadline = time.monotonic() + timeout
    since_ms = ((sent_at if sent_at is not None else time.time()) - CLOCK_SKEW_SECONDS) * 1000
    while True:
        summary = client.summary(launch_id)  # one BatchGetItem: launch record and rejection item
        if summary.record is not None and summary.record.state == SUBMITTED:
            return Answer("launched", summary.record)
        if summary.phase == "rejected" and (summary.rejected_at_ms or 0) >= since_ms:
            return Answer("rejected", problems=summary.problems)
        event = client.answers.find(launch_id, team=client.team)
        if event is not None:
            if event["detail-type"] == LAUNCH_REJECTED:
                return Answer("rejected", problems=event["detail"].get("problems") or [])
            # Launched: the record says the same (and more); it is written before the answer.
            return Answer("launched", client.executions.record(launch_id) or record_of_launched(event["detail"]))
        if time.monotonic() >= deadline:
            return Answer("none", answers_queue=client.answers.url)
        time.sleep(poll)


def settled(doc: dict[str, Any]) -> bool:
    """Every child has ended (its SUCCEEDED or FAILED event was folded)."""
    counts = doc.get("counts") or {}
    return int(counts.get("SUCCEEDED", 0)) + int(counts.get("FAILED", 0)) >= int(doc.get("size") or 1)


def settle(
    client: BatchlaneClient,
    launch_id: str,
    doc: dict[str, Any],
    *,
    poll: float,
    say: Say,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A launch that ended with TerminateJob sent (failed fast, aborted): wait up to SETTLE_SECONDS
    for the stopped children's FAILED events, so that the final document shows them."""
    if not doc.get("terminated") or settled(doc):
        return doc
    if progress:
        progress.note(STOPPING, time.monotonic())
    else:
        say(f"  {STOPPING}")
    until = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < until and not settled(doc):
        time.sleep(poll)
        fresh = client.executions.status(launch_id)
        if fresh.document is not None:
            doc = fresh.document
            if progress:
                progress.show(doc, fresh.phase, time.monotonic())
    return doc


def follow(client: BatchlaneClient, launch_id: str, *, timeout: float | None, poll: float, say: Say) -> StoredStatus:
    """Poll the launch's status until its stored phase is final; ``say`` gets a line per phase change
    and per change of the counts. The phase is None when ``timeout`` passed first (the document is
    the last one read, None when there was none)."""
    t0 = time.monotonic()
    progress = Progress(say, t0)
    while True:
        status = client.executions.status(launch_id)
        progress.show(status.document, status.phase, time.monotonic())
        if status.final:
            doc = status.document
            if doc is not None:
                doc = settle(client, launch_id, doc, poll=poll, say=say, progress=progress)
            return StoredStatus(doc, status.phase)
        if timeout and time.monotonic() - t0 > timeout:
            return StoredStatus(status.document, None)
        time.sleep(poll)


@dataclass(frozen=True)
class AbortOutcome:
    """``aborted`` (``document``), ``rejected`` (``reason``, ``phase``: batchlane's Task Abort
    Rejected), ``ended`` (``phase``, ``document``: the launch had ended before the request, read from
    the table) or ``none`` within the time given (``known``: the launch exists)."""

    kind: Literal["aborted", "rejected", "ended", "none"]
    document: dict[str, Any] | None = None
    reason: str | None = None
    phase: str | None = None
    known: bool = False
    answers_queue: str | None = None


def wait_for_abort(
    client: BatchlaneClient, launch_id: str, *, timeout: float, poll: float, phase_before: str | None = None
) -> AbortOutcome:
    """The outcome of an abort request. ``phase_before``: the stored phase before the request (a
    launch aborted earlier has ended, it is not aborted by this request)."""
    answers = client.answers
    deadline = time.monotonic() + timeout
    ended_at: float | None = None
    while True:
        rejection = answers.find(launch_id, (ABORT_REJECTED,), client.team)
        if rejection is not None:
            detail = rejection["detail"]
            return AbortOutcome("rejected", reason=detail.get("reason") or "rejected", phase=detail.get("phase"))
        status = client.executions.status(launch_id)
        if status.phase == "aborted" and phase_before != "aborted":
            return AbortOutcome("aborted", document=status.document or {})
        if status.final:
            # Already ended: batchlane rejects the abort; take its answer when there is a queue for it.
            ended_at = ended_at or time.monotonic()
            if answers.url is None or time.monotonic() - ended_at > REJECTION_GRACE_SECONDS:
                return AbortOutcome("ended", document=status.document, phase=status.phase)
        if time.monotonic() >= deadline:
            known = status.document is not None or client.executions.record(launch_id) is not None
            return AbortOutcome("none", known=known, answers_queue=answers.url)
        time.sleep(poll)
