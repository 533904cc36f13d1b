"""What the status path needs from the outside world (AWS adapters in adapters.py; in-memory fakes in
tests/support/status_fakes.py), and the errors its parts raise."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from batchlane.common.errors import TransientError
from batchlane.common.executions import PARENT_SK, ChunkRecord, LaunchRecord
from batchlane.status.states import ChildState, ParentState

ChildWrite = tuple[ChildState, "int | None"]  # the new state and the revision it replaces (None: new item)
ParentWrite = tuple[ParentState, "int | None"]


class LaunchNotFound(TransientError):
    """No launch record names this Batch job (yet): retried, then dead-lettered."""


class ForeignJob(Exception):
    """A Batch job in batchlane's queues that batchlane did not launch: logged, counted, acknowledged."""


class WriteConflict(Exception):
    """A conditional write lost a race with another writer: read, merge and write again."""


class Contention(TransientError):
    """Other writers kept winning: the message is retried later."""


class StatusStore(Protocol):
    """The launch's partition of the executions table (batchlane.common.executions)."""

    def find_launch(self, job_id: str) -> LaunchRecord | None:
        """The launch whose job this is (by job id, eventually consistent index)."""

    def get_launch(self, launch_key: str) -> LaunchRecord | None: ...

    def find_chunk(self, job_id: str) -> ChunkRecord | None:
        """The chunk record whose job this is (by job id, eventually consistent index)."""

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None: ...

    def get_fallback(self, launch_key: str, index: int) -> ChunkRecord | None:
        """Child ``index``'s on-demand fallback record (``fallback#<i>``), strongly consistent."""

    def chunk_records(self, launch_key: str) -> Iterator[ChunkRecord]:
        """Every chunk record of a launch, by chunk number (paged: never all in memory)."""

    def read_states(
        self, launch_key: str, indexes: list[int], parent: bool, parent_sk: str = PARENT_SK
    ) -> tuple[dict[int, tuple[ChildState, int]], tuple[ParentState, int] | None]: ...

    def commit(
        self,
        launch_key: str,
        children: list[ChildWrite],
        parent: ParentWrite | None,
        summary: dict[str, Any],
        parent_sk: str = PARENT_SK,
    ) -> None:
        """One transaction; raises WriteConflict when a revision changed since it was read.
        ``parent_sk``: the parent item's key (``parent#<c>`` for a chunk of a chunked map task)."""

    def summary(self, launch_key: str) -> dict[str, Any] | None: ...

    def claim_transition(
        self, launch_key: str, old_phase: str | None, token: str, now_ms: int, stale_before_ms: int
    ) -> bool:
        """Take the right to move the phase on from ``old_phase``: one writer wins. A claim left
        by a writer that died (taken before ``stale_before_ms``) may be taken over."""

    def finish_transition(
        self, launch_key: str, token: str, fields: dict[str, Any], remove: tuple[str, ...] = ()
    ) -> bool:
        """Write the new phase and what goes with it, releasing the claim ``token``."""

    def release_transition(self, launch_key: str, token: str) -> None:
        """Give the claim back (its holder failed before making the change); best effort."""

    def claim_progress(self, launch_key: str, previous: int | None, now_ms: int) -> bool:
        """Take the right to announce progress now: ``progressAt`` moves from ``previous`` to now."""

    def all_children(self, launch_key: str) -> list[ChildState]: ...

    def final_chunk_parents(self, launch_key: str) -> set[int]:
        """The chunks whose parent item (``parent#<c>``) is final."""

    def iter_children(self, launch_key: str) -> Iterator[ChildState]:
        """The children with an item, by global index, page by page (a million never in memory)."""


class QueueHealth(Protocol):
    def mark_unhealthy(self, queue: str, reason: str, until: int) -> bool:
        """Mark a routing queue unhealthy until ``until`` (epoch seconds); False when the routing
        table has no such queue (nothing is created) or it is marked for longer already."""


class Terminator(Protocol):
    def terminate(self, job_id: str, reason: str) -> None: ...


class OutputStore(Protocol):
    def read_many(self, uris: dict[int, str]) -> dict[int, dict[str, Any] | None]: ...

    def write(self, uri: str, value: Any) -> None: ...

    def read_bytes(self, uri: str) -> bytes | None:
        """An object as it is stored; None when there is none."""

    def write_bytes(self, uri: str, body: bytes) -> None: ...

    def write_stream(self, uri: str, parts: Iterable[bytes]) -> None:
        """One JSON object written from its parts (a multipart upload when large)."""
