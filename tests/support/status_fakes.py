"""In-memory fakes of the status path's ports (batchlane.status.ports), with the conditions the
DynamoDB adapter puts on its writes and the limits AWS enforces on what they carry, so that the
aggregator's logic is tested without AWS and a value DynamoDB would refuse fails here too."""

from __future__ import annotations

import json
import threading
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from batchlane.common.chunks import Chunks
from batchlane.common.executions import (
    OPEN_TEAM,
    PARENT_SK,
    SUBMITTED,
    SUBMITTING,
    ChunkRecord,
    LaunchRecord,
    range_of,
    shard_of_range,
)
from batchlane.common.settings import Settings
from batchlane.common.tenancy import LaunchData, s3_uri
from batchlane.common.values import to_dynamo
from batchlane.status.ports import WriteConflict
from batchlane.status.ranges import ChildRange, range_attribute
from batchlane.status.rollup import ROLLED_UP_AT, ROLLUP_VERSION
from batchlane.status.service import StatusService
from batchlane.status.states import ChildState, ParentState
from port_fakes import FakeAnnouncer, FakeCounter, FakeLog, FakeSettings

DYNAMODB_ITEM_BYTES = 400 * 1024
DATA_BUCKET = "data"
_SERIALIZER = TypeSerializer()


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """An upper bound of the item's size as DynamoDB counts it (UTF-8 names and values); raises as
    boto3 does for a number DynamoDB cannot hold (more than 38 digits)."""
    low = {k: _SERIALIZER.serialize(v) for k, v in to_dynamo(item).items()}
    return len(json.dumps(low, ensure_ascii=False, default=_binary_as_its_length).encode())


def _binary_as_its_length(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "." * len(value)  # DynamoDB counts a binary value's bytes
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value")


def _check_item(item: dict[str, Any]) -> None:
    if dynamodb_item_bytes(item) > DYNAMODB_ITEM_BYTES:
        raise ValueError("ValidationException: Item size has exceeded the maximum allowed size")


def launch_record(launch_id: str, job_id: str, size: int, **fields: Any) -> LaunchRecord:
    """A submitted launch of ``size`` children (a map task when size > 1)."""
    values = {"team": OPEN_TEAM, "project": "p", "domain": "d", **fields}
    data = LaunchData(values["team"], values["project"], values["domain"], launch_id)
    return LaunchRecord(
        **{
            "launch_id": launch_id,
            "state": SUBMITTED,
            "job_name": f"t-{launch_id}",
            "queue": "q",
            "size": size,
            "is_array": size > 1,
            "is_map_task": size > 1,
            "job_id": job_id,
            "outputs_uri": s3_uri(DATA_BUCKET, data.children_prefix),  # its own (the launcher's)
            "region": "us-east-1",
            **values,
        }
    )


def chunk_job_id(launch_id: str, chunk: int) -> str:
    return f"{launch_id}-job-c{chunk}"


def chunked_launch(launch_id: str, size: int, *, chunk_size: int, window: int, **fields: Any) -> LaunchRecord:
    """A chunked map task's launch record as the launcher writes it (docs/contracts.md): its job is chunk 0's."""
    chunks = Chunks(size=size, chunk_size=chunk_size, window=window)
    return launch_record(
        launch_id,
        chunk_job_id(launch_id, 0),
        size,
        chunk_size=chunk_size,
        chunk_count=chunks.count,
        chunk_window=window,
        **fields,
    )


def chunk_record(launch: LaunchRecord, chunk: int, *, submitted: bool = True) -> ChunkRecord:
    """Chunk ``chunk``'s record: SUBMITTED with its job, or still SUBMITTING (claimed, no job yet)."""
    chunks = launch.chunks
    return ChunkRecord(
        launch_id=launch.launch_id,
        team=launch.team,
        chunk=chunk,
        offset=chunks.offset(chunk),
        size=chunks.chunk_len(chunk),
        state=SUBMITTED if submitted else SUBMITTING,
        job_name=f"{launch.job_name}-c{chunk}",
        queue=launch.queue,
        job_id=chunk_job_id(launch.launch_id, chunk) if submitted else None,
        lease_token=None if submitted else "t",
        lease_until=None if submitted else 2_000_000_000,
    )


class FakeStatusStore:
    """The status items of a few launches. ``broken``: launch ids whose partition cannot be read."""

    def __init__(self, *launches: LaunchRecord, broken: tuple[str, ...] = ()) -> None:
        self.launches = {r.key: r for r in launches}
        self.chunks: dict[tuple[str, int], ChunkRecord] = {}  # (launchId, chunk) -> its chunk record
        self.fallbacks: dict[tuple[str, int], ChunkRecord] = {}  # (launchId, child) -> its fallback record (onReclaim)
        self.broken = set(broken)
        self.states: dict[tuple[str, str], tuple[ParentState, int]] = {}  # (launch key, parent sk) -> (state, rev)
        self.ranges: dict[tuple[str, int], tuple[ChildRange, int]] = {}  # (launch key, range) -> (range, rev)
        self.shards: dict[tuple[str, int], dict[str, Any]] = {}  # (launch key, shard) -> its summary
        self.summaries: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.lock = threading.Lock()  # one DynamoDB: every conditional write is atomic

    def find_launch(self, job_id: str) -> LaunchRecord | None:
        return next((r for r in self.launches.values() if r.job_id == job_id), None)

    def get_launch(self, launch_key: str) -> LaunchRecord | None:
        return self.launches.get(launch_key)

    def add_chunk(self, record: ChunkRecord) -> None:
        self.chunks[(record.key, record.chunk)] = record

    def add_fallback(self, record: ChunkRecord) -> None:
        self.fallbacks[(record.key, record.chunk)] = record

    def get_fallback(self, launch_key: str, index: int) -> ChunkRecord | None:
        return self.fallbacks.get((launch_key, index))

    def find_chunk(self, job_id: str) -> ChunkRecord | None:
        return next((c for c in self.chunks.values() if c.job_id == job_id), None)

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None:
        return self.chunks.get((launch_key, chunk))

    def chunk_records(self, launch_key: str):
        return iter(sorted((c for (lid, _), c in self.chunks.items() if lid == launch_key), key=lambda c: c.chunk))

    def read_parent(self, launch_key: str, parent_sk: str = PARENT_SK) -> tuple[ParentState, int] | None:
        self._readable(launch_key)
        return self.states.get((launch_key, parent_sk))

    def _readable(self, launch_key: str) -> None:
        if launch_key in self.broken:
            raise ConnectionError(f"the partition of {launch_key} cannot be read")

    def commit(self, launch_key: str, parent: Any, summary: dict[str, Any], parent_sk: str = PARENT_SK) -> None:
        state, rev = parent
        with self.lock:  # a transaction: every check before any write
            if self.states.get((launch_key, parent_sk), (None, None))[1] != rev:
                raise WriteConflict(parent_sk)
            _check_item(state.to_item())
            current = self.summaries.setdefault(launch_key, {})
            _check_item({**current, **summary["set"]})
            self.states[(launch_key, parent_sk)] = (state, (rev or 0) + 1)
            current.update(summary["set"])
            for name, delta in summary["deltas"].items():
                current[name] = current.get(name, 0) + delta
            self.writes += 1

    def read_ranges(self, launch_key: str, numbers: list[int]) -> tuple[dict, dict[int, dict[str, Any]]]:
        self._readable(launch_key)
        ranges = {n: self.ranges[(launch_key, n)] for n in numbers if (launch_key, n) in self.ranges}
        return ranges, self.shard_summaries(launch_key, sorted({shard_of_range(n) for n in numbers}))

    def put_range(self, launch_key: str, child_range: ChildRange, rev: int | None) -> int:
        with self.lock:
            if self.ranges.get((launch_key, child_range.number), (None, None))[1] != rev:
                raise WriteConflict(f"range {child_range.number}")
            _check_item({"states": child_range.encode(), "n": child_range.counts()})
            self.ranges[(launch_key, child_range.number)] = (child_range, (rev or 0) + 1)
            self.writes += 1
            return (rev or 0) + 1

    def publish_range(self, launch_key: str, number: int, rev: int, counts: dict[str, int]) -> dict[str, Any] | None:
        with self.lock:
            shard = self.shards.setdefault((launch_key, shard_of_range(number)), {})
            if range_attribute(number) in shard and shard[range_attribute(number)]["v"] >= rev:
                return None
            shard[range_attribute(number)] = {"v": rev, "n": dict(counts)}
            shard["v"] = shard.get("v", 0) + 1
            self.writes += 1
            return dict(shard)

    def shard_summaries(self, launch_key: str, shards: list[int]) -> dict[int, dict[str, Any]]:
        return {s: dict(self.shards[(launch_key, s)]) for s in shards if (launch_key, s) in self.shards}

    def mark_summary(self, launch_key: str, fields: dict[str, Any]) -> None:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            _check_item({**current, **fields})
            current.update(fields)
            self.writes += 1

    def refresh_summary(
        self,
        launch_key: str,
        fields: dict[str, Any],
        remove: tuple[str, ...],
        version: int,
        stale_before_ms: int | None,
    ) -> bool:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            if current.get(ROLLUP_VERSION, 0) > version:
                return False
            if stale_before_ms is not None and current.get(ROLLED_UP_AT, 0) >= stale_before_ms:
                return False
            _check_item({**current, **fields})
            current.update(fields, **{ROLLUP_VERSION: version})
            for name in remove:
                current.pop(name, None)
            self.writes += 1
            return True

    def summary(self, launch_key: str) -> dict[str, Any] | None:
        found = self.summaries.get(launch_key)
        return dict(found) if found is not None else None

    def claim_transition(
        self, launch_key: str, old_phase: str | None, token: str, now_ms: int, stale_before_ms: int
    ) -> bool:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            claimed = "transitionToken" in current and current["transitionAt"] >= stale_before_ms
            if current.get("phase") != old_phase or claimed:
                return False
            current.update(transitionToken=token, transitionAt=now_ms)
            self.writes += 1
            return True

    def finish_transition(
        self, launch_key: str, token: str, fields: dict[str, Any], remove: tuple[str, ...] = ()
    ) -> bool:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            if current.get("transitionToken") != token:
                return False
            _check_item({**current, **fields})
            current.update(fields)
            for name in ("transitionToken", "transitionAt", *remove):
                current.pop(name, None)
            self.writes += 1
            return True

    def release_transition(self, launch_key: str, token: str) -> None:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            if current.get("transitionToken") == token:
                current.pop("transitionToken")
                current.pop("transitionAt", None)

    def claim_progress(self, launch_key: str, previous: int | None, now_ms: int) -> bool:
        with self.lock:
            current = self.summaries.setdefault(launch_key, {})
            if current.get("progressAt") != previous:
                return False
            current["progressAt"] = now_ms
            return True

    def all_children(self, launch_key: str) -> list[ChildState]:
        return list(self.iter_children(launch_key))

    def final_chunk_parents(self, launch_key: str) -> set[int]:
        return {
            int(key.rsplit("#", 1)[1])
            for (lid, key), (state, _) in self.states.items()
            if lid == launch_key and key.startswith("parent#") and state.final
        }

    def iter_children(self, launch_key: str, size: int | None = None):
        found = [r.states for (lid, _), (r, _) in self.ranges.items() if lid == launch_key]
        return iter(sorted((c for states in found for c in states.values()), key=lambda c: c.index))

    def child(self, launch_key: str, index: int) -> ChildState | None:
        found = self.ranges.get((launch_key, range_of(index)))
        return found[0].states.get(index) if found else None

    def parent(self, launch_key: str, sk: str = PARENT_SK) -> ParentState | None:
        return self.states.get((launch_key, sk), (None, None))[0]


class FakeTerminator:
    def __init__(self) -> None:
        self.terminated: list[tuple[str, str]] = []

    def terminate(self, job_id: str, reason: str) -> None:
        self.terminated.append((job_id, reason))


class FakeOutputs:
    """Children's outputs by URI (absent: the child wrote none); what was assembled, in order."""

    def __init__(self, objects: dict[str, dict] | None = None) -> None:
        self.objects = dict(objects or {})
        self.written: list[tuple[str, Any]] = []
        self.blobs: dict[str, bytes] = {}  # read_bytes / write_bytes
        self.reads = 0  # children's outputs read

    def read_many(self, uris: dict[int, str]) -> dict[int, dict[str, Any] | None]:
        self.reads += len(uris)
        return {i: self.objects.get(uri) for i, uri in uris.items()}

    def read_bytes(self, uri: str) -> bytes | None:
        return self.blobs.get(uri)

    def write_bytes(self, uri: str, body: bytes) -> None:
        self.blobs[uri] = body

    def write(self, uri: str, value: Any) -> None:
        self.written.append((uri, value))

    def write_stream(self, uri: str, parts) -> None:
        self.written.append((uri, json.loads(b"".join(parts))))


def service(
    store: FakeStatusStore,
    *,
    outputs: FakeOutputs | None = None,
    announcer: FakeAnnouncer | None = None,
    settings: Settings | None = None,
    clock=lambda: 1_800_000_000.0,
) -> StatusService:
    """The aggregator over these fakes; the data bucket is the one ``launch_record`` names."""
    return StatusService(
        store=store,
        shards=store,  # one fake holds the launch's partition and its shards
        jobs=FakeTerminator(),
        outputs=outputs or FakeOutputs(),
        announcer=announcer or FakeAnnouncer(),
        metrics=FakeCounter(),
        log=FakeLog(),
        settings=FakeSettings(settings or Settings()),
        data_bucket=DATA_BUCKET,
        clock=clock,
    )


def data_uris(launch_id: str, team: str = OPEN_TEAM, project: str = "p", domain: str = "d") -> LaunchData:
    """Where ``launch_record``'s launch keeps its data (keys: prefix them with ``s3://<DATA_BUCKET>/``)."""
    return LaunchData(team, project, domain, launch_id)


def child_uri(launch_id: str, index: int, **where: str) -> str:
    return s3_uri(DATA_BUCKET, f"{data_uris(launch_id, **where).children_prefix}{index}/outputs.json")


def assembled_uri(launch_id: str, **where: str) -> str:
    return s3_uri(DATA_BUCKET, data_uris(launch_id, **where).assembled_key)


def part_uri(launch_id: str, chunk: int, **where: str) -> str:
    return s3_uri(DATA_BUCKET, data_uris(launch_id, **where).part_key(chunk))
