"""Consistent reads of the executions table, for clients (docs/contracts.md: one partition per
launch). Items come back as plain Python values (``from_dynamo``), the launch item as a
:class:`~batchlane.common.executions.LaunchRecord`, the status as ``record_document``'s document
with the phase the aggregator stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchlane.client.view import record_document
from batchlane.common.executions import (
    BY_JOB_ID_INDEX,
    FINAL_PHASES,
    LAUNCH_SK,
    OPEN_TEAM,
    PARTITION_KEY,
    SORT_KEY,
    LaunchPartition,
    LaunchRecord,
    key,
    launch_key,
)
from batchlane.common.values import from_dynamo


@dataclass(frozen=True)
class StoredStatus:
    """A launch's status document (None: no such launch) and the phase the aggregator stored
    (None before its first event). Only the stored phase says a launch has ended."""

    document: dict[str, Any] | None
    phase: str | None

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES


class Executions:
    """The executions table through a low-level DynamoDB client (quicker to make than a resource),
    as one team sees it: a launch id names that team's launch (``launch_key``), never another's."""

    def __init__(self, dynamodb, table: str, team: str | None = None) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.team = team or OPEN_TEAM
        self._deserialize: Callable[[dict[str, Any]], Any] | None = None

    def key_of(self, launch_id: str) -> str:
        """The partition of this team's launch ``launch_id``."""
        return launch_key(self.team, launch_id)

    def plain(self, item: dict[str, Any]) -> dict[str, Any]:
        if self._deserialize is None:
            from boto3.dynamodb.types import TypeDeserializer

            self._deserialize = TypeDeserializer().deserialize
        return from_dynamo({k: self._deserialize(v) for k, v in item.items()})

    def items(self, launch_id: str, prefix: str | None = None) -> list[dict[str, Any]]:
        return self.items_at(self.key_of(launch_id), prefix)

    def items_at(self, pk: str, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every item of the partition ``pk`` (a paged, consistent Query); with ``prefix``, those
        whose sort key starts with it (a chunked launch's chunk records, not its million children)."""
        condition, values = f"{PARTITION_KEY} = :l", {":l": {"S": pk}}
        if prefix is not None:
            condition, values = f"{condition} AND begins_with({SORT_KEY}, :p)", {**values, ":p": {"S": prefix}}
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        return [self.plain(item) for page in pages for item in page["Items"]]

    def record(self, launch_id: str) -> LaunchRecord | None:
        return self.record_at(self.key_of(launch_id))

    def record_at(self, pk: str) -> LaunchRecord | None:
        """The launch record of partition ``pk`` (a consistent GetItem); None when there is none (yet)."""
        item = self.dynamodb.get_item(
            TableName=self.table, ConsistentRead=True, Key={k: {"S": v} for k, v in key(pk, LAUNCH_SK).items()}
        ).get("Item")
        return LaunchRecord.from_item(self.plain(item)) if item else None

    def launch_key_of_job(self, job_id: str) -> str | None:
        """The launch key of a Batch job (not a child: no ``:<index>``), from the ``byJobId`` index
        (the sandbox's; a team's client is not allowed the index)."""
        keys = self.dynamodb.query(
            TableName=self.table,
            IndexName=BY_JOB_ID_INDEX,
            KeyConditionExpression="jobId = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
        ).get("Items", [])
        return keys[0][PARTITION_KEY]["S"] if keys else None

    def status(self, launch_id: str) -> StoredStatus:
        from batchlane.client.status import stored_children

        part = LaunchPartition.of(items := self.items(launch_id))
        children = list(stored_children(self, part.record)) if part.record is not None else []
        return StoredStatus(record_document(items, children), part.phase)
