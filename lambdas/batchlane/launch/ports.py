"""What the launch service needs from the outside world (AWS adapters in adapters.py; in-memory fakes
in tests/support/launch_fakes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from batchlane.common.chunks import Chunks
from batchlane.common.errors import TransientError
from batchlane.common.executions import LAUNCH_SK, ChunkRecord, LaunchRecord
from batchlane.common.ports import SettingsSource  # noqa: F401 - shared with the status path; imported from here too
from batchlane.launch.planner import JobDefinitionSpec
from batchlane.routing import RoutingTable


class LaunchInProgress(TransientError):
    """Another delivery of the same launch holds the submission lease."""


class SubmitOutcomeUnknown(TransientError):
    """SubmitJob may or may not have created the job (timeout, 5xx, connection lost; not a 429:
    batchlane.common.rate.Throttled)."""


class PartlySubmitted(Exception):
    """Batch refused a chunk after earlier chunks of the same launch were submitted: the launch
    cannot be rejected any more (its jobs run), so the message is retried and then dead-lettered."""


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    job_arn: str


class RoutingSource(Protocol):
    def table(self, max_age: int) -> RoutingTable: ...


class JobDefinitions(Protocol):
    def ensure(self, spec: JobDefinitionSpec) -> str: ...


class InputStore(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


class Jobs(Protocol):
    def submit(self, request: dict[str, Any]) -> SubmittedJob:
        """One SubmitJob call: Refused when Batch refused it, SubmitOutcomeUnknown when the job
        may exist, TransientError only when it certainly does not."""

    def find(self, queue: str, job_name: str) -> SubmittedJob | None:
        """The job of that name on that queue (the first created, if there are several)."""


class Ledger(Protocol):
    """The launch record and a chunked launch's chunk records: a write-ahead claim before SubmitJob,
    completed after it (``sk``: the item, batchlane.common.executions)."""

    def claim(self, record: LaunchRecord | ChunkRecord) -> LaunchRecord | ChunkRecord | None:
        """Create the record; on conflict return the existing record instead."""

    def take_over(self, record: LaunchRecord | ChunkRecord, old_token: str | None) -> bool:
        """Replace a SUBMITTING claim still held with ``old_token``."""

    def complete(
        self, launch_key: str, token: str, fields: dict[str, Any], sk: str = LAUNCH_SK
    ) -> LaunchRecord | ChunkRecord:
        """Record the job (``fields``) if the claim is still ``token``'s."""

    def release(self, launch_key: str, token: str | None, sk: str = LAUNCH_SK) -> None: ...

    def get(self, launch_key: str) -> LaunchRecord | None: ...

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None: ...

    def phase(self, launch_key: str) -> str | None:
        """The launch's status summary phase (``sk = "status"``, the aggregator's; read-only here)."""

    def chunk_ended(self, launch_key: str, chunks: Chunks, chunk: int) -> bool:
        """Whether the aggregator holds the chunk's Batch job as ended (SUCCEEDED or FAILED)."""

    def note_rerun(self, launch_key: str, rerun_id: str) -> None:
        """Add ``rerun_id`` to the launch's ``reruns`` (idempotent): its status shows the chain."""

    def record_rejection(self, launch_key: str, problems: list[dict[str, str]]) -> None:
        """Keep the last rejection under ``launch_key`` (its own item: a later claim is not blocked)."""
