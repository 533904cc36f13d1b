"""The executions table as the status path's StatusStore (DynamoDB): the launch's status items.

Status items live in the launch's partition of the executions table (docs/contracts.md), the
children's in its shards (batchlane.status.adapters.shards):

* ``sk = "parent"``: the array parent's state (``ParentState.to_item()`` + ``rev``); ``parent#<c:06d>``
  per chunk of a chunked map task (created with the chunk's first write: its "seen" mark; for a
  one-child chunk its child's status);
* ``sk = "status"``: the summary: ``phase``, ``reason``, the children's counts ``n_<STATUS>``
  relative to "every child SUBMITTED" (rolled up from the shards: status.rollup), the chunks'
  ``seen_<STATUS>``, ``parentStatus``, ``blocked``, ``outputs``, ``error``.

A parent's change is written by one small ``TransactWriteItems`` with the summary (a few per job);
the children's never are.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from botocore.exceptions import ClientError

from batchlane.common import aws
from batchlane.common.errors import TransientError
from batchlane.common.executions import (
    BY_JOB_ID_INDEX,
    CHUNK_PARENT_PREFIX,
    CHUNK_PREFIX,
    EXPIRES_AT,
    FINAL_PHASES,
    LAUNCH_SK,
    PARENT_SK,
    SUMMARY_SK,
    ChunkRecord,
    LaunchRecord,
    chunk_sk,
    fallback_sk,
    is_chunk_sk,
    sk_number,
)
from batchlane.common.open_launches import (
    LAST_SEEN_ATTR,
    OPEN_INDEX,
    OPEN_SHARD_ATTR,
    all_shards,
    open_shard,
)
from batchlane.status.ports import WriteConflict
from batchlane.status.rollup import ROLLED_UP_AT, ROLLUP_VERSION
from batchlane.status.states import ParentState

_low = aws.low_item
_high = aws.plain_item
MAX_TRANSACTION_ITEMS = 100
TRANSITION_TOKEN = "transitionToken"  # the summary's claim on a phase change (status.transitions)
TRANSITION_AT = "transitionAt"


def _key(launch_key: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": launch_key}, "sk": {"S": sk}}


class ExecutionsStatusStore:
    """The executions table as the status path's StatusStore (batchlane.status.ports): a launch's partition."""

    def __init__(self, table_name: str, *, retention_seconds: int = 0) -> None:
        self.table_name = table_name
        self.retention_seconds = retention_seconds  # expiresAt (the table's TTL) on every item written; 0: never
        self.write_requests = 0  # write requests issued (figures for tests and the bench)
        self.items_written = 0  # items those requests wrote (a transactional item costs 2 WCU)

    @property
    def _ddb(self):
        return aws.client("dynamodb")

    # ------------------------------------------------------------------ the launch record
    def _by_job_id(self, job_id: str) -> list[tuple[str, str]]:
        """``(pk, sk)`` of the items naming this Batch job (launch and chunk records)."""
        try:
            found = self._ddb.query(
                TableName=self.table_name,
                IndexName=BY_JOB_ID_INDEX,
                KeyConditionExpression="jobId = :j",
                ExpressionAttributeValues={":j": {"S": job_id}},
            )
        except ClientError as exc:
            aws.raise_if_transient(f"Query {BY_JOB_ID_INDEX}", exc)
            raise
        return [(k["pk"]["S"], k.get("sk", {}).get("S", "")) for k in found.get("Items", [])]

    def find_launch(self, job_id: str) -> LaunchRecord | None:
        for launch_key, sk in self._by_job_id(job_id):
            if sk == LAUNCH_SK:
                return self.get_launch(launch_key)
        return None

    def find_chunk(self, job_id: str) -> ChunkRecord | None:
        for launch_key, sk in self._by_job_id(job_id):
            if is_chunk_sk(sk):
                item = self._get(launch_key, sk)
                return ChunkRecord.from_item(item) if item else None
        return None

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None:
        item = self._get(launch_key, chunk_sk(chunk))
        return ChunkRecord.from_item(item) if item else None

    def get_fallback(self, launch_key: str, index: int) -> ChunkRecord | None:
        item = self._get(launch_key, fallback_sk(index))
        return ChunkRecord.from_item(item) if item else None

    def chunk_records(self, launch_key: str):
        for item in self._prefix(launch_key, CHUNK_PREFIX):
            yield ChunkRecord.from_item(item)

    def _prefix(self, launch_key: str, prefix: str):
        """The partition's items whose sk starts with ``prefix``, in key order, a page at a time."""
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self.table_name,
            ConsistentRead=True,
            KeyConditionExpression="pk = :l AND begins_with(sk, :c)",
            ExpressionAttributeValues={":l": {"S": launch_key}, ":c": {"S": prefix}},
        )
        try:
            for page in pages:
                for raw in page.get("Items", []):
                    yield _high(raw)
        except ClientError as exc:
            aws.raise_if_transient("Query", exc)
            raise

    def get_launch(self, launch_key: str) -> LaunchRecord | None:
        """The launch item by key (strongly consistent: no index lag)."""
        item = self._get(launch_key, LAUNCH_SK)
        return LaunchRecord.from_item(item) if item else None

    def _get(self, launch_key: str, sk: str) -> dict[str, Any] | None:
        try:
            item = self._ddb.get_item(TableName=self.table_name, ConsistentRead=True, Key=_key(launch_key, sk)).get(
                "Item"
            )
        except ClientError as exc:
            aws.raise_if_transient("GetItem", exc)
            raise
        return _high(item) if item else None

    # ------------------------------------------------------------------ state items
    def read_parent(self, launch_key: str, parent_sk: str = PARENT_SK) -> tuple[ParentState, int] | None:
        item = self._get(launch_key, parent_sk)
        return (ParentState.from_item(item), int(item["rev"])) if item else None

    def commit(self, launch_key: str, parent, summary: dict[str, Any], parent_sk: str = PARENT_SK) -> None:
        """One transaction: the parent's conditional put and the summary's update (``summary``:
        ``set`` attributes, ``deltas`` added to the attributes they name)."""
        items = [self._put(launch_key, parent_sk, parent[0].to_item(), parent[1])]
        items.append({"Update": self._summary_update(launch_key, summary)})
        try:
            self.write_requests += 1
            self.items_written += len(items)
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if aws.error_code(exc) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                    raise WriteConflict(str(reasons)) from exc
                if any(r in ("ThrottlingError", "ProvisionedThroughputExceeded") for r in reasons):
                    raise TransientError(f"TransactWriteItems: {reasons}") from exc
            aws.raise_if_transient("TransactWriteItems", exc)
            raise

    def _expiry(self) -> dict[str, int]:
        return {EXPIRES_AT: int(time.time()) + self.retention_seconds} if self.retention_seconds else {}

    def _put(self, launch_key: str, sk: str, state: dict[str, Any], rev: int | None) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": _low({"pk": launch_key, "sk": sk, **state, **self._expiry(), "rev": (rev or 0) + 1}),
        }
        if rev is None:
            put["ConditionExpression"] = "attribute_not_exists(sk)"
        else:
            put["ConditionExpression"] = "rev = :rev"
            put["ExpressionAttributeValues"] = {":rev": {"N": str(rev)}}
        return {"Put": put}

    def _summary_update(self, launch_key: str, summary: dict[str, Any]) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets, adds = [], []
        for i, (k, v) in enumerate({**summary.get("set", {}), **self._expiry()}.items()):
            names[f"#s{i}"] = k
            values[f":s{i}"] = _low({"x": v})["x"]
            sets.append(f"#s{i} = :s{i}")
        for i, (k, v) in enumerate(summary.get("deltas", {}).items()):
            names[f"#d{i}"] = k
            values[f":d{i}"] = {"N": str(v)}
            adds.append(f"#d{i} :d{i}")
        removes = []
        for i, k in enumerate(summary.get("remove", ())):
            names[f"#r{i}"] = k
            removes.append(f"#r{i}")
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(sets) if sets else "",
                "ADD " + ", ".join(adds) if adds else "",
                "REMOVE " + ", ".join(removes) if removes else "",
            )
            if part
        )
        update = {
            "TableName": self.table_name,
            "Key": _key(launch_key, SUMMARY_SK),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
        }
        if values:
            update["ExpressionAttributeValues"] = values
        return update

    # ------------------------------------------------------------------ the summary
    def refresh_summary(
        self,
        launch_key: str,
        fields: dict[str, Any],
        remove: tuple[str, ...],
        version: int,
        stale_before_ms: int | None,
    ) -> bool:
        fields = {**fields, ROLLUP_VERSION: version, **self._expiry()}
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":f{i}": _low({"x": v})["x"] for i, v in enumerate(fields.values())}
        names.update({f"#x{i}": k for i, k in enumerate(remove)})
        names.update({"#ver": ROLLUP_VERSION})
        values[":ver"] = {"N": str(version)}
        condition = "(attribute_not_exists(#ver) OR #ver <= :ver)"
        if stale_before_ms is not None:
            names["#at"] = ROLLED_UP_AT
            values[":stale"] = {"N": str(stale_before_ms)}
            condition += " AND (attribute_not_exists(#at) OR #at < :stale)"
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        if remove:
            expression += " REMOVE " + ", ".join(f"#x{i}" for i in range(len(remove)))
        # A retry of this very write after its answer was lost meets "version <= its own": it holds again.
        return self._conditional_update(launch_key, expression, condition, names, values)

    def summary(self, launch_key: str) -> dict[str, Any] | None:
        return self._get(launch_key, SUMMARY_SK)

    def mark_summary(self, launch_key: str, fields: dict[str, Any]) -> None:
        update = self._summary_update(launch_key, {"set": fields})
        try:
            self.write_requests += 1
            self._ddb.update_item(**update)
        except ClientError as exc:
            aws.raise_if_transient("UpdateItem", exc)
            raise

    def claim_transition(
        self, launch_key: str, old_phase: str | None, token: str, now_ms: int, stale_before_ms: int
    ) -> bool:
        phase_holds = "attribute_not_exists(phase)" if old_phase is None else "phase = :old"
        values: dict[str, Any] = {
            ":token": {"S": token},
            ":now": {"N": str(now_ms)},
            ":stale": {"N": str(stale_before_ms)},
        }
        if old_phase is not None:
            values[":old"] = {"S": old_phase}
        return self._conditional_update(
            launch_key,
            "SET #tok = :token, #at = :now",
            f"{phase_holds} AND (attribute_not_exists(#tok) OR #at < :stale)",
            {"#tok": TRANSITION_TOKEN, "#at": TRANSITION_AT},
            values,
            own=(TRANSITION_TOKEN, {"S": token}),
        )

    def finish_transition(
        self, launch_key: str, token: str, fields: dict[str, Any], remove: tuple[str, ...] = ()
    ) -> bool:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":f{i}": _low({"x": v})["x"] for i, v in enumerate(fields.values())}
        removed = (TRANSITION_TOKEN, TRANSITION_AT, *remove)
        names.update({f"#r{i}": k for i, k in enumerate(removed)})
        values[":token"] = {"S": token}
        expression = (
            "SET "
            + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
            + " REMOVE "
            + ", ".join(f"#r{i}" for i in range(len(removed)))
        )
        if "phase" not in fields:
            return self._conditional_update(launch_key, expression, "#r0 = :token", names, values)
        summary = {
            "TableName": self.table_name,
            "Key": _key(launch_key, SUMMARY_SK),
            "UpdateExpression": expression,
            "ConditionExpression": "#r0 = :token",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        listed = self._with_listed_phase(launch_key, summary, fields["phase"])
        if listed is None:  # no launch item any more (expired): the summary alone
            return self._conditional_update(launch_key, expression, "#r0 = :token", names, values)
        return listed

    def _with_listed_phase(self, launch_key: str, summary_update: dict[str, Any], phase: str) -> bool | None:
        """The summary's phase change and its copy on the launch item (the listing index's), in one
        transaction: a listing never shows a phase the summary does not have. False: the claim was
        lost; None: there is no launch item."""
        listed = {
            "TableName": self.table_name,
            "Key": _key(launch_key, LAUNCH_SK),
            "UpdateExpression": "SET #p = :p",
            "ConditionExpression": "attribute_exists(pk)",  # never a launch item of the phase alone
            "ExpressionAttributeNames": {"#p": "phase"},
            "ExpressionAttributeValues": {":p": {"S": phase}},
        }
        try:
            self.write_requests += 1
            self.items_written += 2
            self._ddb.transact_write_items(TransactItems=[{"Update": summary_update}, {"Update": listed}])
            return True
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if aws.error_code(exc) == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
                return False if reasons[0] == "ConditionalCheckFailed" else None
            aws.raise_if_transient("TransactWriteItems", exc)
            raise

    def release_transition(self, launch_key: str, token: str) -> None:
        # Best effort: a claim not given back goes stale and is taken over (claim_transition).
        with contextlib.suppress(Exception):
            self._conditional_update(
                launch_key,
                "REMOVE #tok, #at",
                "#tok = :token",
                {"#tok": TRANSITION_TOKEN, "#at": TRANSITION_AT},
                {":token": {"S": token}},
            )

    def _conditional_update(
        self,
        launch_key: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        own: tuple[str, dict[str, str]] | None = None,
    ) -> bool:
        """One conditional UpdateItem of the summary; False when the condition did not hold, unless
        the item holds ``own`` (attribute, low-level value): botocore retried this very write after
        its answer was lost, and the retry met the first attempt's success."""
        try:
            self.write_requests += 1
            self.items_written += 1
            self._ddb.update_item(
                TableName=self.table_name,
                Key=_key(launch_key, SUMMARY_SK),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return own is not None and (exc.response.get("Item") or {}).get(own[0]) == own[1]
            aws.raise_if_transient("UpdateItem", exc)
            raise

    def claim_progress(self, launch_key: str, previous: int | None, now_ms: int) -> bool:
        """Take the right to announce progress now: ``progressAt`` moves from ``previous`` to now."""
        values: dict[str, Any] = {":now": {"N": str(now_ms)}}
        if previous is None:
            condition = "attribute_not_exists(#p)"
        else:
            condition = "#p = :prev"
            values[":prev"] = {"N": str(previous)}
        return self._conditional_update(
            launch_key, "SET #p = :now", condition, {"#p": "progressAt"}, values, own=("progressAt", values[":now"])
        )

    # ------------------------------------------------------------------ the open-launches index
    def silent(self, cutoff_ms: int, limit: int) -> list[tuple[str, str]]:
        """``(pk, sk)`` of index entries not seen since ``cutoff_ms``, oldest first per shard."""
        found: list[tuple[str, str]] = []
        shards = all_shards()
        for n, shard in enumerate(shards):
            quota = len(found) + -(-(limit - len(found)) // (len(shards) - n))  # share what is left
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": OPEN_INDEX,
                "KeyConditionExpression": "#o = :o AND #t < :t",
                "ExpressionAttributeNames": {"#o": OPEN_SHARD_ATTR, "#t": LAST_SEEN_ATTR},
                "ExpressionAttributeValues": {":o": {"S": shard}, ":t": {"N": str(cutoff_ms)}},
            }
            while len(found) < quota:
                try:
                    page = self._ddb.query(**kwargs, Limit=min(1000, quota - len(found)))
                except ClientError as exc:
                    aws.raise_if_transient("Query openLaunches", exc)
                    raise
                found += [(i["pk"]["S"], i["sk"]["S"]) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def close(self, launch_key: str, sk: str) -> None:
        """Take one item out of the open-launches index."""
        self.write_requests += 1
        self._ddb.update_item(
            TableName=self.table_name,
            Key=_key(launch_key, sk),
            UpdateExpression="REMOVE #o",
            ExpressionAttributeNames={"#o": OPEN_SHARD_ATTR},
        )

    def touch(self, launch_key: str, now_ms: int) -> None:
        """The reconciler looked at the launch now: keep it in the index, quiet for another period
        (the summary is created if the launch never had an event). Never reopens a final launch."""
        self.write_requests += 1
        final = sorted(FINAL_PHASES)
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=_key(launch_key, SUMMARY_SK),
                UpdateExpression="SET #o = :o, #t = :t",
                ConditionExpression="attribute_not_exists(phase) OR NOT phase IN ("
                + ", ".join(f":p{i}" for i in range(len(final)))
                + ")",
                ExpressionAttributeNames={"#o": OPEN_SHARD_ATTR, "#t": LAST_SEEN_ATTR},
                ExpressionAttributeValues={
                    ":o": {"S": open_shard(launch_key)},
                    ":t": {"N": str(now_ms)},
                    **{f":p{i}": {"S": p} for i, p in enumerate(final)},
                },
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                aws.raise_if_transient("UpdateItem", exc)
                raise

    def final_chunk_parents(self, launch_key: str) -> set[int]:
        return {
            sk_number(item["sk"])
            for item in self._prefix(launch_key, CHUNK_PARENT_PREFIX)
            if ParentState.from_item(item).final
        }
