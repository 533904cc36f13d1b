"""In-memory fakes of the ports every service shares (batchlane.common.ports)."""

from __future__ import annotations

from typing import Any


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
        self.events.append((detail_type, detail))

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == detail_type]


class FakeCounter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, msg, *args, **kwargs) -> None:
        self.lines.append(msg)

    def exception(self, msg, *args, **kwargs) -> None:
        self.lines.append(msg)
