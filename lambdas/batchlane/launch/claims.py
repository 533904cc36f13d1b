"""Claims on a launch id: which request holds it, and what the ledger answers about a claim (checked to
be the kind of record the launcher asked for)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from batchlane.common.console import batch_job_url, partition_of
from batchlane.common.executions import SUBMITTED, ChunkRecord, LaunchRecord
from batchlane.common.open_launches import LAST_SEEN_ATTR, OPEN_SHARD_ATTR, open_shard
from batchlane.common.tenancy import Producer
from batchlane.launch.ports import SubmittedJob


def launch_record(record: LaunchRecord | ChunkRecord) -> LaunchRecord:
    """The ledger's answer about a launch item (``sk = "launch"``): its launch record."""
    if not isinstance(record, LaunchRecord):
        raise TypeError(f"launch {record.launch_id}: a chunk record where the launch record belongs")
    return record


def chunk_record(record: LaunchRecord | ChunkRecord) -> ChunkRecord:
    """The ledger's answer about a chunk item (``sk = "chunk#<c>"``): its chunk record."""
    if not isinstance(record, ChunkRecord):
        raise TypeError(f"launch {record.launch_id}: a launch record where a chunk record belongs")
    return record


def lease(claim: LaunchRecord | ChunkRecord) -> tuple[str, int]:
    """A claim's token and lease end: every claim this service makes has both."""
    if claim.lease_token is None or claim.lease_until is None:
        raise ValueError(f"launch {claim.launch_id}: a claim without its lease")
    return claim.lease_token, claim.lease_until


def submitted_job(record: ChunkRecord) -> SubmittedJob:
    if record.job_id is None or record.job_arn is None:
        raise ValueError(f"launch {record.launch_id}: chunk {record.chunk} is SUBMITTED without its job")
    return SubmittedJob(record.job_id, record.job_arn)


def request_fingerprint(detail: Any) -> str:
    """Of the detail as received, key order aside: two deliveries are the same request iff equal."""
    canonical = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def same_request(record: LaunchRecord, fingerprint: str, producer: Producer | None) -> bool:
    # Records written before fingerprints (or producers) were kept are taken to be of the same request.
    # The same detail from another producer is another request: it gets neither the job nor its answer.
    same_producer = record.producer is None or (
        producer is not None
        and (record.producer.source, record.producer.account) == (producer.source, producer.account)
    )
    return (record.request_fingerprint is None or record.request_fingerprint == fingerprint) and same_producer


def submitted_fields(
    claim: LaunchRecord, job: SubmittedJob, now_ms: int, definition: str | None = None
) -> dict[str, Any]:
    """What the record gains once its job exists (the job was submitted to the claim's queue)."""
    partition = partition_of(job.job_arn)
    _, _, _, region, account, _ = job.job_arn.split(":", 5)
    queue = claim.queue
    return {
        "state": SUBMITTED,
        "jobId": job.job_id,
        "jobArn": job.job_arn,
        "queue": queue,
        "queueArn": f"arn:{partition}:batch:{region}:{account}:job-queue/{queue}",
        "region": region,
        "submittedAt": now_ms,
        "jobDefinition": definition or claim.job_definition,
        "consoleUrl": batch_job_url(partition, region, job.job_id),
        # In the open-launches index until the status path sees it end (the reconciler's view).
        OPEN_SHARD_ATTR: open_shard(claim.key),
        LAST_SEEN_ATTR: now_ms,
    }
