"""Publishing batchlane's own events on its bus."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchlane.common import aws
from batchlane.common.event_types import EVENT_SOURCE
from batchlane.common.rate import backoff


class PublishError(Exception):
    pass


class EventBusAnnouncer:
    """One PutEvents attempt per publication (no SDK retry: after a lost answer a retry would
    publish the event twice); a throttled attempt, which published nothing, is made again here."""

    THROTTLE_ATTEMPTS = 4
    THROTTLE_BACKOFF = (0.05, 0.5)  # base, cap: seconds

    def __init__(self, bus_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.bus_name = bus_name
        self._sleep = sleep

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "EventBusName": self.bus_name,
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), default=str),
        }
        for attempt in range(1, self.THROTTLE_ATTEMPTS + 1):
            try:
                response = aws.single_attempt_client("events").put_events(Entries=[entry])
                break
            except ClientError as exc:
                if aws.is_throttle(exc) and attempt < self.THROTTLE_ATTEMPTS:
                    self._sleep(backoff(attempt, base=self.THROTTLE_BACKOFF[0], cap=self.THROTTLE_BACKOFF[1]))
                    continue
                aws.raise_if_transient("PutEvents", exc)
                raise
            except BotoCoreError as exc:
                aws.raise_if_transient("PutEvents", exc)
                raise
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            raise PublishError(
                f"PutEvents refused {detail_type}: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
