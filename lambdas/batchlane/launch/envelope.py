"""Reading the EventBridge event out of an SQS message body (pydantic, the envelope of common.eventbridge)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from batchlane.common.errors import UnprocessableEvent
from batchlane.common.event_types import CHUNK_DUE, LAUNCH_REQUESTED
from batchlane.common.eventbridge import EventBridgeEvent
from batchlane.common.tenancy import Producer

LAUNCHER_DETAIL_TYPES = (LAUNCH_REQUESTED, CHUNK_DUE)


class LaunchEnvelope(EventBridgeEvent):
    detail: Any


def launch_event(body: str) -> tuple[Any, Producer]:
    """The detail of a "Task Launch Requested" event and who put it on the bus (its ``source`` and
    ``account``: the producer, docs/security.md); anything else cannot be processed."""
    detail_type, detail, producer = launcher_event(body)
    if detail_type != LAUNCH_REQUESTED:
        raise UnprocessableEvent(f"unexpected detail-type {detail_type!r} (expected {LAUNCH_REQUESTED!r})")
    return detail, producer


def launcher_event(body: str) -> tuple[str, Any, Producer]:
    """The detail-type, detail and producer of an event for the launcher: a launch request or a
    "Task Chunk Due" (docs/chunked-maps.md); anything else cannot be processed."""
    try:
        # Python's JSON reader first: pydantic's stops at 200 levels, and a detail nested deeper is
        # still a launch to answer (validation rejects it with its reason).
        envelope = LaunchEnvelope.model_validate(json.loads(body) if isinstance(body, (str, bytes)) else body)
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        raise UnprocessableEvent(f"not an EventBridge event: {str(exc)[:300]}") from exc
    if envelope.detail_type not in LAUNCHER_DETAIL_TYPES:
        raise UnprocessableEvent(
            f"unexpected detail-type {envelope.detail_type!r} (expected {LAUNCH_REQUESTED!r} or {CHUNK_DUE!r})"
        )
    return envelope.detail_type, envelope.detail, Producer(source=envelope.source, account=envelope.account or None)
