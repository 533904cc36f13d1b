"""The executions table, owned here: its keys, its item kinds, the phases, and the launch record.

One partition per launch, keyed by its *launch key* (pk ``pk``, sk ``sk``; docs/contracts.md):
``<team>#<launchId percent-encoded>`` (:func:`launch_key`): a launch id is unique within the team
of its producer, never across teams, and every partition of a team begins with ``"<team>#"`` so
that ``dynamodb:LeadingKeys`` limits a client to its team's launches (docs/security.md).

* ``sk = "launch"``: the launch record (:class:`LaunchRecord`), written by the launcher;
* ``sk = "status"``: the status summary, written by the aggregator (phase, counts, outputs);
* ``sk = "parent"``: an array job's parent state (``"parent#<chunk:06d>"``: one per chunk of a
  chunked map task, batchlane.common.chunks; a one-child chunk's holds its child's status);
* the children's states are not in the launch's partition but in its *shards*
  (:func:`shard_key`: ``<launch key>#s<shard:04d>``, :data:`SHARD_CHILDREN` children each, so one
  launch's writes spread over many partition keys): ``sk = "range#<range:05d>"`` holds the states of
  :data:`RANGE_CHILDREN` consecutive children in one item (batchlane.status.ranges), and
  ``sk = "shard"`` the shard's summary: each range's counts as of its revision (``r<range>``);
* ``sk = "chunk#<chunk:06d>"``: one per chunk of a chunked map task (:class:`ChunkRecord`), written
  by the launcher with the launch record's claim protocol: the chunk's Batch job;
* ``sk = "rejection"``: the last rejection of a request under this id (``problems``, bounded as in
  "Task Launch Rejected", ``rejectedAt``), written by the launcher so that clients can read why
  without the answers queue. It never blocks a claim (the claim is on ``sk = "launch"``).

Everything that reads or writes these items takes the keys, the phase sets and the record's shape
from this module; nothing here imports boto3 (the offline CLI and the sandbox use it too).

One vocabulary: the table is "executions"; its adapters are named after it and the port they serve
(``ExecutionsLedger``: the launcher's ``Ledger``, batchlane.launch.adapters; ``ExecutionsStatusStore``:
the aggregator's ``StatusStore``, batchlane.status.adapters.executions; ``Executions``: the clients' consistent
reads, batchlane.client.records); an item kind is a ``...Record`` (:class:`LaunchRecord`,
:class:`ChunkRecord`), one launch's items sorted by kind a :class:`LaunchPartition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeGuard
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from batchlane.common.chunks import Chunks
from batchlane.common.phases import FINAL_PHASES, PHASES, Phase  # noqa: F401 - the table's phases, named here too
from batchlane.common.tenancy import Producer
from batchlane.common.values import from_dynamo

PARTITION_KEY = "pk"
SORT_KEY = "sk"
LAUNCH_SK = "launch"
EXPIRES_AT = "expiresAt"  # the table's TTL attribute (epoch seconds), written by the launcher and the aggregator
SUMMARY_SK = "status"
PARENT_SK = "parent"
CHILD_PREFIX = "child#"
RANGE_PREFIX = "range#"
SHARD_SUMMARY_SK = "shard"
RANGE_CHILDREN = 100  # children per range item: one write carries a Lambda batch's neighbours
SHARD_CHILDREN = 5_000  # children per shard: a million-child map has 200 (a roll-up reads them in two BatchGetItems)
REJECTION_SK = "rejection"
CHUNK_PREFIX = "chunk#"
BY_JOB_ID_INDEX = "byJobId"  # GSI: jobId -> the launch item's key (keys only)
# GSI: a team's launch items, newest first (``batchlane launches``). Its partition key is the
# team's key prefix, so ``dynamodb:LeadingKeys`` ``<team>#*`` holds on the index as on the table
# (IAM takes the leading key of a Query from its key condition: the index's partition key). One
# partition per team: launches are paced under Batch's 50 SubmitJob per second per account, a few
# index writes each, far below a partition's 1,000 writes per second.
BY_TEAM_INDEX = "launchesByTeam"
TEAM_LAUNCHES = "teamLaunches"  # the index's partition key: team_prefix(team), launch items only
REQUESTED_AT = "requestedAt"  # its sort key: epoch ms the launcher claimed the request
# What a listing shows, copied into the index (one Query, no reads of the items themselves).
# ``phase`` is the status summary's, copied onto the launch item with each phase change.
LISTED_ATTRIBUTES = ("launchId", "project", "domain", "workflow", "task", "size", "queue", "state", "phase")

# The launcher tags every Batch job with its launch id and its team (propagateTags: the children
# too): together they are the launch key (a tag value cannot hold the key's "#" or "%").
LAUNCH_TAG = "batchlane:launchId"
TEAM_TAG = "batchlane:team"
# The team of every launch of a deployment without teams (no team name can be it: names begin
# with a letter or digit).
OPEN_TEAM = "_"
# ... and each job of a chunked map task with its chunk number (batchlane.common.chunks).
CHUNK_TAG = "batchlane:chunk"
# ... and a child's on-demand fallback after a Spot reclaim (onReclaim) with that child's index.
FALLBACK_TAG = "batchlane:fallback"
FALLBACK_PREFIX = "fallback#"

# The launch item's ``state``: claimed (a submission is under way) or submitted (it has a job).
SUBMITTING = "SUBMITTING"
SUBMITTED = "SUBMITTED"

# A Batch job's (or child's) statuses after which it changes no more.
JOB_FINAL_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED"})


def launch_key(team: str | None, launch_id: str) -> str:
    """The partition of a team's launch: the team first, then the id, encoded so that it holds
    neither "#" nor "/" (an id cannot reach into another team's keys, nor imitate a suffix)."""
    return f"{team or OPEN_TEAM}#{quote(launch_id, safe='')}"


def split_launch_key(pk: str) -> tuple[str, str]:
    """``(team, launchId)`` of a launch key (the inverse of :func:`launch_key`)."""
    team, _, encoded = pk.partition("#")
    return team, unquote(encoded)


def launch_key_of_tags(tags: Mapping[str, str]) -> str | None:
    """The launch key a Batch job's tags name (None: not a launch's job); a job without the team
    tag is taken to be of a deployment without teams."""
    launch_id = tags.get(LAUNCH_TAG)
    return launch_key(tags.get(TEAM_TAG), launch_id) if launch_id else None


def team_prefix(team: str | None) -> str:
    """What every partition key of the team's launches begins with (dynamodb:LeadingKeys)."""
    return f"{team or OPEN_TEAM}#"


def key(launch_key_: str, sk: str) -> dict[str, str]:
    """An item's key in the DynamoDB document form (the launch key, the item's kind)."""
    return {PARTITION_KEY: launch_key_, SORT_KEY: sk}


def child_sk(index: int) -> str:
    return f"{CHILD_PREFIX}{index:06d}"


def shard_key(launch_key_: str, shard: int) -> str:
    """The partition of one shard of a launch's children: it begins with the launch key
    (dynamodb:LeadingKeys ``<team>#*`` covers it), which holds one "#" only, so no launch key is
    another launch's shard key."""
    return f"{launch_key_}#s{shard:04d}"


def shard_of(index: int) -> int:
    return index // SHARD_CHILDREN


def range_of(index: int) -> int:
    return index // RANGE_CHILDREN


def range_sk(number: int) -> str:
    return f"{RANGE_PREFIX}{number:05d}"


def shard_of_range(number: int) -> int:
    return number * RANGE_CHILDREN // SHARD_CHILDREN


def shard_count(size: int) -> int:
    return max(1, -(-size // SHARD_CHILDREN))


def is_child_sk(sk: Any) -> TypeGuard[str]:
    return isinstance(sk, str) and sk.startswith(CHILD_PREFIX)


def chunk_sk(chunk: int) -> str:
    return f"{CHUNK_PREFIX}{chunk:06d}"


def fallback_sk(index: int) -> str:
    return f"{FALLBACK_PREFIX}{index:06d}"


def is_fallback_sk(sk: Any) -> TypeGuard[str]:
    return isinstance(sk, str) and sk.startswith(FALLBACK_PREFIX)


def chunk_parent_sk(chunk: int) -> str:
    return f"{PARENT_SK}#{chunk:06d}"


CHUNK_PARENT_PREFIX = f"{PARENT_SK}#"


def chunk_state_sk(chunks: Chunks, chunk: int) -> str:
    """The item whose ``status`` is the state of a chunk's Batch job (the aggregator's): its array
    parent's, or for a chunk of one child (a plain Batch job) the marker holding that child's status."""
    return chunk_parent_sk(chunk)


def is_chunk_sk(sk: Any) -> TypeGuard[str]:
    return isinstance(sk, str) and sk.startswith(CHUNK_PREFIX)


def is_chunk_parent_sk(sk: Any) -> TypeGuard[str]:
    return isinstance(sk, str) and sk.startswith(CHUNK_PARENT_PREFIX)


def sk_number(sk: str) -> int:
    """The number in ``child#<n>``, ``chunk#<n>``, ``parent#<n>``."""
    return int(sk.rsplit("#", 1)[1])


class Rerun(BaseModel):
    """What a rerun (``batchlane relaunch --failed``) reruns: children of the launch ``launch_id`` of
    its team. Its outputs are in the index space of the chain's first launch (``size`` children)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    launch_id: str
    indexes: list[int]  # child i reruns index indexes[i] of the outputs
    size: int


class LaunchRecord(BaseModel):
    """The ``launch`` item: what was asked, where it went, and (once submitted) its Batch job.

    Attribute names on the item are the camelCase forms of the field names. Records written by
    earlier versions (without ``isMapTask``, ``producer``) read back with the defaults documented here."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    launch_id: str  # the client's id: unique within the team
    team: str = OPEN_TEAM  # the producer's team (OPEN_TEAM: a deployment without teams)
    state: Literal["SUBMITTING", "SUBMITTED"]
    job_name: str
    queue: str
    size: int = 1
    is_array: bool = False
    is_map_task: bool | None = None  # None on old records: follows is_array
    attempts: int = 1
    min_success_ratio: float = 1.0
    inputs_uri: str | None = None
    outputs_uri: str | None = None  # prefix ending "/": child i writes "<outputsUri><i>/outputs.json"
    project: str | None = None
    domain: str | None = None
    workflow: str | None = None
    task: str | None = None
    # Who launched it (the event's source and account, and its team): None on records made before tenancy.
    producer: Producer | None = None
    log_group: str | None = None
    routing: dict[str, Any] | None = None  # the RoutingExplanation of "Task Launched"
    # Of the launch detail as received (batchlane.launch.claims.request_fingerprint): one request per launchId.
    request_fingerprint: str | None = None
    requested_at: int | None = None  # epoch ms: when the launcher claimed it (None on older records)
    # The detail as received, less its launch id and inputs: what a rerun launches again (None on older records).
    request: dict[str, Any] | None = None
    rerun_of: Rerun | None = None
    reruns: list[str] | None = None  # the reruns of this launch's children (their launch ids)
    # The write-ahead claim (while SUBMITTING).
    lease_token: str | None = None
    lease_until: int | None = None  # epoch seconds
    # Once SUBMITTED.
    job_id: str | None = None
    job_arn: str | None = None
    queue_arn: str | None = None
    region: str | None = None
    submitted_at: int | None = None  # epoch ms
    job_definition: str | None = None
    console_url: str | None = None
    # In the open-launches index (batchlane.common.open_launches) until the status path sees it end.
    open_shard: str | None = None
    last_seen_at: int | None = None
    # A chunked map task (batchlane.common.chunks): None on every other launch. Its job_* are chunk 0's.
    chunk_size: int | None = None
    chunk_count: int | None = None
    chunk_window: int | None = None
    max_concurrency: int | None = None
    # The SubmitJob request its chunks and fallbacks are made from (batchlane.launch.planner.chunk_request,
    # fallback_request): the launcher submits a chunk that becomes due later, or a child's on-demand fallback,
    # from it. Only on a chunked launch or one with a reclaim queue, once SUBMITTED.
    chunk_template: dict[str, Any] | None = None
    # onReclaim "on-demand": the on-demand queue of its routing decision where a child whose last attempt
    # a Spot reclaim ended runs once more (batchlane.status.reclaim).
    reclaim_queue: str | None = None
    # A multi-node job: its nodes are its children (size = nodes); the main node's end decides it.
    nodes: int | None = None
    main_node: int | None = None

    @property
    def chunks(self) -> Chunks:
        if self.chunk_size is None or self.chunk_window is None:
            return Chunks.single(self.size)
        return Chunks(size=self.size, chunk_size=self.chunk_size, window=self.chunk_window)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        """From an item in the document form (numbers as Decimal or int)."""
        return cls.model_validate(from_dynamo(dict(item)))

    @property
    def key(self) -> str:
        """The launch key: its partition of the executions table."""
        return launch_key(self.team, self.launch_id)

    def to_item(self) -> dict[str, Any]:
        """The item in the document form, key included (and the team's listing index key once it
        has a ``requestedAt``); absent values are left out."""
        listed = {TEAM_LAUNCHES: team_prefix(self.team)} if self.requested_at is not None else {}
        return {
            **self.model_dump(by_alias=True, exclude_none=True),
            **listed,
            PARTITION_KEY: self.key,
            SORT_KEY: LAUNCH_SK,
        }

    @property
    def submitted(self) -> bool:
        return self.state == SUBMITTED and bool(self.job_id)

    @property
    def map_task(self) -> bool:
        """Outputs stay lists (Flyte's map-task shape) even for a map task of one input."""
        return self.is_array if self.is_map_task is None else self.is_map_task

    def as_status_launch(self) -> dict[str, Any]:
        """The fields the status fold reads (``batchlane.status.fold.summarize``)."""
        return {
            "launchId": self.launch_id,
            "jobId": self.job_id,
            "queue": self.queue,
            "size": self.size,
            "isArray": self.is_array,
            "minSuccessRatio": self.min_success_ratio,
            **({"nodes": self.nodes, "mainNode": self.main_node or 0} if self.nodes is not None else {}),
        }


class ChunkRecord(BaseModel):
    """A ``chunk#<c>`` item: one chunk of a chunked map task and (once submitted) its Batch job; or
    (``fallback``) a ``fallback#<i>`` item: child i's on-demand fallback after a Spot reclaim, a plain job.
    Claimed, leased and taken over exactly as the launch record is (docs/exactly-once.md)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    launch_id: str
    team: str = OPEN_TEAM
    chunk: int
    offset: int  # the global index of its first child
    size: int  # its children (1: a plain Batch job)
    state: Literal["SUBMITTING", "SUBMITTED"]
    job_name: str
    queue: str
    lease_token: str | None = None
    lease_until: int | None = None  # epoch seconds
    job_id: str | None = None
    job_arn: str | None = None
    submitted_at: int | None = None  # epoch ms
    fallback: bool | None = None  # a fallback: ``chunk`` and ``offset`` are the child's index (None: a chunk)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        return cls.model_validate(from_dynamo(dict(item)))

    @property
    def key(self) -> str:
        return launch_key(self.team, self.launch_id)

    @property
    def sk(self) -> str:
        return fallback_sk(self.chunk) if self.fallback else chunk_sk(self.chunk)

    def to_item(self) -> dict[str, Any]:
        return {**self.model_dump(by_alias=True, exclude_none=True), PARTITION_KEY: self.key, SORT_KEY: self.sk}

    @property
    def submitted(self) -> bool:
        return self.state == SUBMITTED and bool(self.job_id)


@dataclass
class LaunchPartition:
    """The items of one launch's partition of the executions table, sorted by kind (plain Python values)."""

    launch: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] | None = None
    # A chunked map task: its chunks' parent items and its chunk records, by chunk number.
    chunk_parents: dict[int, dict[str, Any]] = field(default_factory=dict)
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    fallbacks: dict[int, dict[str, Any]] = field(default_factory=dict)  # onReclaim: fallback records by child

    @classmethod
    def of(cls, items: Iterable[Mapping[str, Any]]) -> LaunchPartition:
        part = cls()
        for item in items:
            sk = item.get(SORT_KEY)
            if sk == LAUNCH_SK:
                part.launch = dict(item)
            elif sk == SUMMARY_SK:
                part.summary = dict(item)
            elif sk == PARENT_SK:
                part.parent = dict(item)
            elif is_chunk_parent_sk(sk):
                part.chunk_parents[sk_number(sk)] = dict(item)
            elif is_chunk_sk(sk):
                part.chunks[sk_number(sk)] = dict(item)
            elif is_fallback_sk(sk):
                part.fallbacks[sk_number(sk)] = dict(item)
        return part

    @property
    def record(self) -> LaunchRecord | None:
        return LaunchRecord.from_item(self.launch) if self.launch is not None else None

    @property
    def phase(self) -> str | None:
        return self.summary.get("phase")
