"""What the status path needs from the outside world (AWS adapters in adapters.py; in-memory fakes in
tests/support/status_fakes.py), and the errors its parts raise."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from batchlane.common.errors import TransientError
from batchlane.common.executions import PARENT_SK, ChunkRecord, LaunchRecord
from batchlane.status.ranges import ChildRange
from batchlane.status.states import ChildState, ParentState

ParentWrite = tuple[ParentState, "int | None"]  # the new state and the revision it replaces (None: new item)


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

    def read_parent(self, launch_key: str, parent_sk: str = PARENT_SK) -> tuple[ParentState, int] | None:
        """The parent item (``parent#<c>`` for a chunk) and its revision; None when there is none."""

    def commit(self, launch_key: str, parent: ParentWrite, summary: dict[str, Any], parent_sk: str = PARENT_SK) -> None:
        """One transaction: the parent's conditional put and the summary's update (``summary``:
        ``set`` attributes, ``deltas`` added). Raises WriteConflict when the parent's revision changed."""

    def refresh_summary(
        self,
        launch_key: str,
        fields: dict[str, Any],
        remove: tuple[str, ...],
        version: int,
        stale_before_ms: int | None,
    ) -> bool:
        """Set the rolled-up attributes unless a roll-up of newer shards (a larger ``version``) is
        there or, with ``stale_before_ms``, one was made since then; True when written."""

    def summary(self, launch_key: str) -> dict[str, Any] | None: ...

    def mark_summary(self, launch_key: str, fields: dict[str, Any]) -> None:
        """SET ``fields`` on the summary (idempotent: markers, never counts)."""

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

    def final_chunk_parents(self, launch_key: str) -> set[int]:
        """The chunks whose parent item (``parent#<c>``) is final."""


class ShardStore(Protocol):
    """The launch's shards of the executions table: its children's ranges and the shards' summaries."""

    def read_ranges(
        self, launch_key: str, numbers: list[int]
    ) -> tuple[dict[int, tuple[ChildRange, int]], dict[int, dict[str, Any]]]:
        """The stored ranges (absent ones left out) with their revisions, and their shards' summaries
        (by shard; absent ones left out), in one read."""

    def put_range(self, launch_key: str, child_range: ChildRange, rev: int | None) -> int:
        """Put a range conditioned on the revision read (None: not there); its new revision.
        Raises WriteConflict when another writer put it first."""

    def publish_range(self, launch_key: str, number: int, rev: int, counts: dict[str, int]) -> dict[str, Any] | None:
        """Record a range's counts at ``rev`` in its shard's summary unless a newer revision is there;
        the shard's summary after the write (None: a newer one was there, nothing written)."""

    def shard_summaries(self, launch_key: str, shards: list[int]) -> dict[int, dict[str, Any]]:
        """The shards' summaries (absent ones left out)."""

    def iter_children(self, launch_key: str, size: int) -> Iterator[ChildState]:
        """The children with a state of a launch of ``size``, by global index, range by range (a
        million never in memory)."""


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
