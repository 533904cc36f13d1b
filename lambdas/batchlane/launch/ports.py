"""What the launch service needs from the outside world (implemented in adapters.py, faked in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from batchlane.common.errors import TransientError
from batchlane.common.settings import Settings
from batchlane.launch.planner import JobDefinitionSpec
from batchlane.routing import RoutingTable


class LaunchInProgress(TransientError):
    """Another delivery of the same launch holds the submission lease."""


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    job_arn: str


class SettingsSource(Protocol):
    def get(self) -> Settings: ...


class RoutingSource(Protocol):
    def table(self, max_age: int) -> RoutingTable: ...


class JobDefinitions(Protocol):
    def ensure(self, spec: JobDefinitionSpec) -> str: ...


class InputStore(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


class Jobs(Protocol):
    def submit(self, request: dict[str, Any]) -> SubmittedJob: ...

    def find(self, queue: str, job_name: str) -> SubmittedJob | None: ...


class Ledger(Protocol):
    """The execution record: a write-ahead claim before SubmitJob, completed after it."""

    def claim(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Create the record; on conflict return the existing record instead."""

    def take_over(self, item: dict[str, Any], old_token: str) -> bool: ...

    def complete(self, launch_id: str, token: str, fields: dict[str, Any]) -> dict[str, Any]: ...

    def release(self, launch_id: str, token: str) -> None: ...

    def get(self, launch_id: str) -> dict[str, Any] | None: ...


class Announcer(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Counter(Protocol):
    def count(self, name: str, value: int = 1, **dimensions: str) -> None: ...
