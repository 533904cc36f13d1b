"""The executions table's shard items (DynamoDB): ranges of children and the shards' summaries.

In the launch's shards (``<launch key>#s<shard:04d>``, batchlane.common.executions):

* ``sk = "range#<range:05d>"``: ``states`` (binary: status.ranges' compressed states), ``n`` (its
  counts), ``rev``; put whole, conditioned on the revision read (no transaction);
* ``sk = "shard"``: ``r<range:05d>`` = ``{"v": rev, "n": counts}`` per range, and ``v``, the shard's
  version (one more per update): a range's counts are set only over an older revision.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from batchlane.common import aws
from batchlane.common.executions import (
    EXPIRES_AT,
    RANGE_PREFIX,
    SHARD_SUMMARY_SK,
    range_sk,
    shard_count,
    shard_key,
    shard_of_range,
    sk_number,
)
from batchlane.status.ports import WriteConflict
from batchlane.status.ranges import ChildRange, range_attribute
from batchlane.status.states import ChildState

BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit


class ExecutionsShards:
    """The executions table's shard items as the status path's ShardStore (batchlane.status.ports)."""

    def __init__(self, table_name: str, *, retention_seconds: int = 0) -> None:
        self.table_name = table_name
        self.retention_seconds = retention_seconds  # expiresAt (the table's TTL) on every item written; 0: never
        self.write_requests = 0

    @property
    def _ddb(self):
        return aws.client("dynamodb")

    def _expiry(self) -> dict[str, int]:
        return {EXPIRES_AT: int(time.time()) + self.retention_seconds} if self.retention_seconds else {}

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            pending = {self.table_name: {"ConsistentRead": True, "Keys": keys[start : start + BATCH_GET_KEYS]}}
            while pending:
                try:
                    response = self._ddb.batch_get_item(RequestItems=pending)
                except ClientError as exc:
                    aws.raise_if_transient("BatchGetItem", exc)
                    raise
                found += [_high(i) for i in response.get("Responses", {}).get(self.table_name, [])]
                pending = response.get("UnprocessedKeys") or {}
        return found

    def read_ranges(
        self, launch_key: str, numbers: list[int]
    ) -> tuple[dict[int, tuple[ChildRange, int]], dict[int, dict[str, Any]]]:
        shards = sorted({shard_of_range(n) for n in numbers})
        keys = [_key(shard_key(launch_key, shard_of_range(n)), range_sk(n)) for n in numbers]
        keys += [_key(shard_key(launch_key, s), SHARD_SUMMARY_SK) for s in shards]
        ranges, summaries = {}, {}
        for item in self._batch_get(keys):
            if item["sk"] == SHARD_SUMMARY_SK:
                summaries[_shard_number(item["pk"])] = item
            else:
                ranges[sk_number(item["sk"])] = (_decode(item), int(item["rev"]))
        return ranges, summaries

    def put_range(self, launch_key: str, child_range: ChildRange, rev: int | None) -> int:
        item = {
            "pk": shard_key(launch_key, shard_of_range(child_range.number)),
            "sk": range_sk(child_range.number),
            "states": child_range.encode(),
            "n": child_range.counts(),
            "rev": (rev or 0) + 1,
            **self._expiry(),
        }
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        if rev is not None:
            condition = {"ConditionExpression": "rev = :rev", "ExpressionAttributeValues": {":rev": {"N": str(rev)}}}
        try:
            self.write_requests += 1
            self._ddb.put_item(TableName=self.table_name, Item=_low(item), **condition)
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                raise WriteConflict(f"range {child_range.number}") from exc
            aws.raise_if_transient("PutItem", exc)
            raise
        return (rev or 0) + 1

    def publish_range(self, launch_key: str, number: int, rev: int, counts: dict[str, int]) -> dict[str, Any] | None:
        expiry = self._expiry()
        sets = ["#r = :r"] + (["#e = :e"] if expiry else [])
        values: dict[str, Any] = {":r": _low({"x": {"v": rev, "n": counts}})["x"], ":rev": {"N": str(rev)}}
        names = {"#r": range_attribute(number), "#v": "v"}
        if expiry:
            names["#e"], values[":e"] = next(iter(expiry)), {"N": str(next(iter(expiry.values())))}
        values[":one"] = {"N": "1"}
        try:
            self.write_requests += 1
            response = self._ddb.update_item(
                TableName=self.table_name,
                Key=_key(shard_key(launch_key, shard_of_range(number)), SHARD_SUMMARY_SK),
                UpdateExpression="SET " + ", ".join(sets) + " ADD #v :one",
                ConditionExpression="attribute_not_exists(#r) OR #r.v < :rev",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return None
            aws.raise_if_transient("UpdateItem", exc)
            raise
        return _high(response.get("Attributes") or {})

    def shard_summaries(self, launch_key: str, shards: list[int]) -> dict[int, dict[str, Any]]:
        keys = [_key(shard_key(launch_key, s), SHARD_SUMMARY_SK) for s in shards]
        return {_shard_number(item["pk"]): item for item in self._batch_get(keys)}

    # ------------------------------------------------------------------ reading every child
    def iter_children(self, launch_key: str, size: int) -> Iterator[ChildState]:
        """Every child with a state, by index: each shard's ranges a page at a time."""
        for shard in range(shard_count(size)):
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self.table_name,
                ConsistentRead=True,
                KeyConditionExpression="pk = :l AND begins_with(sk, :r)",
                ExpressionAttributeValues={":l": {"S": shard_key(launch_key, shard)}, ":r": {"S": RANGE_PREFIX}},
            )
            try:
                for page in pages:
                    for raw in page.get("Items", []):
                        yield from (c for _, c in sorted(_decode(_high(raw)).states.items()))
            except ClientError as exc:
                aws.raise_if_transient("Query", exc)
                raise


_low = aws.low_item
_high = aws.plain_item


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _shard_number(pk: str) -> int:
    return int(pk.rsplit("#s", 1)[1])


def _decode(item: dict[str, Any]) -> ChildRange:
    blob = item.get("states")
    return ChildRange.decode(sk_number(item["sk"]), bytes(blob) if blob is not None else None)
