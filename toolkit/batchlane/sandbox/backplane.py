"""What AWS does inside itself for a simulated Batch job, done straight in the emulator.

Batch's scheduler finding the jobs in its queues, a container's log driver, its output upload and
Batch's own state-change events are not calls any batchlane code makes: AWS makes them. The
emulator runs in this process (emulator.py), so the simulated Batch writes them into moto's stores
directly, with moto's own backend methods (the same code the API requests reach: event rules and
targets, log streams, objects with their bucket's encryption), instead of an HTTP request each
through botocore, the server and moto's dispatch: about 5 ms of the one core the sandbox has per
request, and a child makes four or five of them. Everything batchlane's own code does (handlers,
CLI, clients) still goes through the API.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


class Backplane:
    """moto's stores for one account and region, as the simulated Batch writes to them."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    @classmethod
    def of(cls, session) -> Backplane:
        """The emulator's account and region, as the session's clients see them."""
        return cls(session.client("sts").get_caller_identity()["Account"], session.region_name)

    def queued_job_ids(self, queue_arn: str, start: int = 0) -> list[str]:
        """The IDs of the jobs submitted to the queue, in order, from the ``start``-th on (array
        children included, as ``parent:index``)."""
        from moto.batch.models import batch_backends

        queue = batch_backends[self.account_id][self.region].get_job_queue(queue_arn)
        return [job.job_id for job in queue.jobs[start:]] if queue is not None else []

    def put_events(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """PutEvents' answer for ``entries`` (PutEvents' own shape; ``Time`` a datetime)."""
        from moto.events.models import events_backends

        events = [
            {**entry, "Time": entry["Time"].timestamp()} if isinstance(entry.get("Time"), datetime) else entry
            for entry in entries
        ]
        answered = events_backends[self.account_id][self.region].put_events(events)
        return {"FailedEntryCount": sum(1 for e in answered if "ErrorCode" in e), "Entries": answered}

    def ensure_log_stream(self, group: str, stream: str) -> None:
        from moto.logs.models import logs_backends

        logs = logs_backends[self.account_id][self.region]
        if group not in logs.groups:
            logs.create_log_group(group, tags={})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        from moto.logs.models import logs_backends

        logs_backends[self.account_id][self.region].put_log_events(group, stream, events)

    def put_json(self, bucket: str, key: str, document: Any) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        written = s3_backends[self.account_id][get_partition(self.region)].put_object(
            bucket, key, json.dumps(document).encode()
        )
        written.set_metadata({"Content-Type": "application/json"})
