"""In-memory fakes of the launch service's ports (batchlane.launch.ports; the announcer and counter: port_fakes.py),
with DynamoDB's conditional-write semantics and Batch's job names, so the service is tested without AWS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.errors import Refused, TransientError
from batchlane.common.executions import LAUNCH_SK, SORT_KEY, SUBMITTING, ChunkRecord, LaunchRecord
from batchlane.launch.ports import SubmitOutcomeUnknown, SubmittedJob
from port_fakes import FakeSettings  # noqa: F401 - the launch tests import it from here


class FakeRouting:
    def __init__(self, table) -> None:
        self.routing_table = table
        self.reads = 0

    def table(self, max_age: int):
        self.reads += 1
        return self.routing_table


class FakeDefinitions:
    def __init__(self) -> None:
        self.registered: dict[str, Any] = {}

    def ensure(self, spec) -> str:
        self.registered[spec.name] = spec
        return f"arn:aws:batch:us-east-1:123456789012:job-definition/{spec.name}:1"


class FakeInputs:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail: Exception | None = None

    def put(self, key: str, body: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.objects[key] = body


@dataclass
class FakeJobs:
    """Batch: jobs by name; ``outcome`` decides what the next SubmitJob does."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # "ok" | "lost" (created, answer lost) | "unknown" (not created, outcome unknown) | "refused" | "never-sent"
    outcomes: list[str] = field(default_factory=list)

    def submit(self, request: dict[str, Any]) -> SubmittedJob:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "refused":
            raise Refused("SubmitJob", "JobQueue is not in a valid state")
        if outcome == "never-sent":
            raise TransientError("SubmitJob: EndpointConnectionError")
        if outcome == "unknown":
            raise SubmitOutcomeUnknown("SubmitJob: InternalServerError")
        n = len(self.jobs)
        job = {
            "jobId": f"job-{n}",
            "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/job-{n}",
            "jobName": request["jobName"],
            "jobQueue": request["jobQueue"],
            "createdAt": n,
        }
        self.jobs.append(job)
        if outcome == "lost":
            raise SubmitOutcomeUnknown("SubmitJob: ReadTimeoutError")
        return SubmittedJob(job["jobId"], job["jobArn"])

    def find(self, queue: str, job_name: str) -> SubmittedJob | None:
        found = [j for j in self.jobs if j["jobName"] == job_name and j["jobQueue"] == queue]
        return SubmittedJob(found[0]["jobId"], found[0]["jobArn"]) if found else None

    def named(self, job_name: str) -> list[dict[str, Any]]:
        return [j for j in self.jobs if j["jobName"] == job_name]


class FakeLedger:
    """The launch items and chunk items, with the conditions ExecutionsLedger puts on its writes."""

    def __init__(self) -> None:
        self.records: dict[str, LaunchRecord] = {}
        self.chunks: dict[tuple[str, str], ChunkRecord] = {}  # (launch key, sk) -> the chunk#<c> items
        self.phases: dict[str, str] = {}  # the status summaries' phases (the aggregator's)
        self.ended_chunks: set[tuple[str, int]] = set()  # (launch key, chunk) the aggregator holds as ended
        self.reads = 0
        self.rejections: dict[str, list[dict[str, str]]] = {}  # the "rejection" items
        self.before_write: Callable[[str], None] = lambda operation: None  # fault injection

    def _store(self, sk: str) -> dict:
        return self.records if sk == LAUNCH_SK else self.chunks

    @staticmethod
    def _key(launch_key: str, sk: str):
        return launch_key if sk == LAUNCH_SK else (launch_key, sk)

    def claim(self, record):
        self.before_write("claim")
        sk = record.to_item()[SORT_KEY]
        store, k = self._store(sk), self._key(record.key, sk)
        existing = store.get(k)
        if existing is not None:
            return existing
        store[k] = record
        return None

    def take_over(self, record, old_token: str | None) -> bool:
        self.before_write("take_over")
        sk = record.to_item()[SORT_KEY]
        store, k = self._store(sk), self._key(record.key, sk)
        existing = store.get(k)
        if existing is None or existing.state != SUBMITTING or existing.lease_token != old_token:
            return False
        store[k] = record
        return True

    def complete(self, launch_key: str, token: str, fields: dict[str, Any], sk: str = LAUNCH_SK):
        self.before_write("complete")
        store, k = self._store(sk), self._key(launch_key, sk)
        existing = store[k]
        if existing.lease_token != token:
            raise TransientError("taken over")
        item = {**existing.to_item(), **fields}
        item.pop("leaseUntil", None)
        store[k] = type(existing).from_item(item)
        return store[k]

    def release(self, launch_key: str, token: str | None, sk: str = LAUNCH_SK) -> None:
        store, k = self._store(sk), self._key(launch_key, sk)
        existing = store.get(k)
        if existing is not None and existing.lease_token == token:
            del store[k]

    def get(self, launch_key: str) -> LaunchRecord | None:
        self.reads += 1
        return self.records.get(launch_key)

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None:
        return next((r for (lid, _), r in self.chunks.items() if lid == launch_key and r.chunk == chunk), None)

    def phase(self, launch_key: str) -> str | None:
        return self.phases.get(launch_key)

    def chunk_ended(self, launch_key: str, chunks, chunk: int) -> bool:
        return (launch_key, chunk) in self.ended_chunks

    def note_rerun(self, launch_key: str, rerun_id: str) -> None:
        record = self.records.get(launch_key)
        if record is not None:
            self.records[launch_key] = record.model_copy(update={"reruns": sorted({*(record.reruns or []), rerun_id})})

    def record_rejection(self, launch_key: str, problems: list[dict[str, str]]) -> None:
        self.before_write("record_rejection")
        self.rejections[launch_key] = problems
