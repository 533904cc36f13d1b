"""Publishing batchlane's own events on its bus."""

from __future__ import annotations

import json
from typing import Any

from batchlane.common import aws
from batchlane.common.event_types import EVENT_SOURCE


class PublishError(Exception):
    pass


class EventBusAnnouncer:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        try:
            response = aws.client("events").put_events(
                Entries=[
                    {
                        "EventBusName": self.bus_name,
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, separators=(",", ":"), default=str),
                    }
                ]
            )
        except Exception as exc:
            aws.raise_if_transient("PutEvents", exc)
            raise
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise PublishError(f"PutEvents refused {detail_type}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
