"""In-memory fakes of the ports every service shares (batchlane.common.ports), with the limit
EventBridge puts on an entry, so that an event AWS would refuse fails here too."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

EVENTBRIDGE_ENTRY_BYTES = 256 * 1024


class FakeSettings:
    """The settings source, counting reads (``reads``)."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.reads = 0

    def get(self):
        self.reads += 1
        return self.settings


class FakeAnnouncer:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = json.dumps({"DetailType": detail_type, "Detail": json.dumps(detail)})
        if len(entry.encode()) > EVENTBRIDGE_ENTRY_BYTES:
            raise ValueError("PutEvents: the entry is larger than 256 KB")
        self.events.append((detail_type, detail))

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == detail_type]


class FakeCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()  # a metric never counted reads 0

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        self.counts[name] += value


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []  # (level, message, extra)

    def warning(self, msg: str, *args: Any, extra: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.lines.append(("warning", msg, extra or {}))

    def exception(self, msg: str, *args: Any, extra: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.lines.append(("exception", msg, extra or {}))

    def skipped(self) -> dict[str, str]:
        """messageId -> problem, of every record the aggregator skipped while reading its batch."""
        return {
            extra["messageId"]: extra["problem"] for _, msg, extra in self.lines if msg.startswith("skipping an event")
        }
