"""Ports every service shares: announcing on the bus, counting, logging, the settings (adapters in common/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from batchlane.common.settings import Settings


class SettingsSource(Protocol):
    """The deployment's settings, cached (``batchlane.common.settings_store.SsmSettingsSource``)."""

    def get(self) -> Settings: ...


class Announcer(Protocol):
    """Publishes one of batchlane's own events (``batchlane.common.events.EventBusAnnouncer``)."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Counter(Protocol):
    """Counts a metric, optionally with dimensions (``batchlane.common.observability.PowertoolsCounter``)."""

    def count(self, name: str, value: int = 1, **dimensions: str) -> None: ...


class Log(Protocol):
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
