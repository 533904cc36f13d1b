"""A child's on-demand fallback after a Spot reclaim (onReclaim "on-demand", pure): which notices the
launcher may act on, and the ``fallback#<i>`` record it claims before it submits the fallback (once)."""

from __future__ import annotations

import uuid

from batchlane.common.errors import UnprocessableEvent
from batchlane.common.executions import SUBMITTED, SUBMITTING, ChunkRecord, LaunchRecord
from batchlane.launch.answers import TaskChunkDue
from batchlane.launch.planner import fallback_job_name
from batchlane.launch.ports import LaunchInProgress


def fallback_claim(record: LaunchRecord, due: TaskChunkDue, lease_until: int) -> ChunkRecord:
    """The claim on child ``due.fallback``'s fallback, on the launch's reclaim queue. A notice for a launch
    without one, or for a child it does not have, cannot be acted on (UnprocessableEvent)."""
    index = due.fallback
    assert index is not None
    if record.reclaim_queue is None:
        raise UnprocessableEvent(f"Task Chunk Due: launch {due.launch_id} has no fallback (no onReclaim)")
    if not 0 <= index < record.size:
        raise UnprocessableEvent(f"Task Chunk Due: launch {due.launch_id} has no child {index} to fallback")
    if due.job_id is not None and due.job_id != record.job_id:
        raise UnprocessableEvent(f"Task Chunk Due: fallback {index} is for another submission of {due.launch_id}")
    if record.state != SUBMITTED or record.chunk_template is None:
        raise LaunchInProgress(f"launch {due.launch_id} is still being submitted: fallback {index} waits for it")
    return ChunkRecord(
        launch_id=record.launch_id,
        team=record.team,
        chunk=index,
        offset=index,
        size=1,
        state=SUBMITTING,
        job_name=fallback_job_name(record.job_name, index),
        queue=record.reclaim_queue,
        lease_token=uuid.uuid4().hex,
        lease_until=lease_until,
        fallback=True,
    )
