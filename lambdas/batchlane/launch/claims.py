"""What the ledger answers about a claim, checked to be the kind of record the launcher asked for."""

from __future__ import annotations

from batchlane.common.executions import ChunkRecord, LaunchRecord
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
