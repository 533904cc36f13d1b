"""DynamoDB's limits, which moto does not enforce, metered on a real boto3 client (botocore's event
hooks) so that the scale bench sees them offline:

* item size: 400 KB (a write of a larger item is refused, as DynamoDB does);
* a transaction: at most 100 items (refused beyond);
* capacity: every write is metered in write request units per partition key (1 WRU per started
  1 KB of the item, 2 in a transaction) and every read in read request units (1 per started 4 KB,
  consistent; a query sums its items first), so the per-partition-key write rate (about 1,000 WRU/s,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html)
  and the items every transaction touches (the conflicts between concurrent invocations) can be
  checked against what the real handler writes (bench/scale_model.py).

Item sizes follow DynamoDB's rules: the attribute names' UTF-8 bytes plus each value's size.
"""

from __future__ import annotations

import base64
import copy
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

MAX_ITEM_BYTES = 400 * 1024
MAX_TRANSACTION_ITEMS = 100
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
_READS = ("GetItem", "BatchGetItem", "Query")


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1 + (1 if text.startswith("-") else 0)


def value_size(value: dict[str, Any]) -> int:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(str(Decimal(v)))
    if kind == "B":
        return len(base64.b64decode(v)) if isinstance(v, str) else len(v)  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(x.encode() if isinstance(x, str) else x) for x in v)
    if kind == "NS":
        return sum(_number_size(x) for x in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size in bytes as DynamoDB counts it (low-level form)."""
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def _refuse(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


@dataclass
class Write:
    """One write request: the items it wrote, ``(partition key, sort key, WRU)`` each."""

    operation: str
    transactional: bool
    items: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Batch:
    """What one Lambda batch cost: its write requests and the read units it spent."""

    children: set[int] = field(default_factory=set)
    events: int = 0
    writes: list[Write] = field(default_factory=list)
    read_units: float = 0.0
    read_requests: int = 0


class DynamoMeter:
    """Installed on a DynamoDB client: refuses what DynamoDB refuses, meters what it bills."""

    def __init__(self, client, table: str) -> None:
        self.batches: list[Batch] = [Batch()]
        self._sizes = _RawReader(client.meta.region_name, table)
        self.pk, self.sk = self._sizes.table.hash_key_attr, self._sizes.table.range_key_attr
        events = client.meta.events
        for op in _WRITES:
            events.register(f"before-parameter-build.dynamodb.{op}", self._before_write)
            events.register(f"after-call.dynamodb.{op}", self._after_write)
        for op in _READS:
            events.register(f"after-call.dynamodb.{op}", self._after_read)

    @property
    def batch(self) -> Batch:
        return self.batches[-1]

    def begin_batch(self, events: int, children: set[int]) -> None:
        self.batches.append(Batch(children=children, events=events))

    # -- writes
    def _before_write(self, params, model, context, **_):
        op = model.name
        if op == "TransactWriteItems" and len(params["TransactItems"]) > MAX_TRANSACTION_ITEMS:
            raise _refuse(op, f"Member must have length less than or equal to {MAX_TRANSACTION_ITEMS}")
        for item in _put_items(op, params):
            if item_size(item) > MAX_ITEM_BYTES:
                raise _refuse(op, "Item size has exceeded the maximum allowed size")
        context["batchlane_keys"] = _written_keys(op, params, (self.pk, self.sk))

    def _after_write(self, http_response, parsed, model, context, **_):
        if http_response.status_code != 200:
            return
        op = model.name
        write = Write(op, op == "TransactWriteItems")
        for key in context.get("batchlane_keys", []):
            stored = self._sizes.get(key)
            size = item_size(stored) if stored else 1
            units = math.ceil(size / WRITE_UNIT_BYTES) * (2 if write.transactional else 1)
            if stored and size > MAX_ITEM_BYTES:  # an update grew it past the limit: DynamoDB refuses that too
                raise _refuse(op, "Item size to update has exceeded the maximum allowed size")
            write.items.append((key[self.pk]["S"], key[self.sk]["S"], units))
        self.batch.writes.append(write)

    # -- reads
    def _after_read(self, http_response, parsed, model, context, **_):
        if http_response.status_code != 200:
            return
        op = model.name
        if op == "GetItem":
            items = [parsed["Item"]] if "Item" in parsed else []
            units = sum(max(1, math.ceil(item_size(i) / READ_UNIT_BYTES)) for i in items) or 1
        elif op == "BatchGetItem":
            items = [i for found in parsed.get("Responses", {}).values() for i in found]
            units = sum(max(1, math.ceil(item_size(i) / READ_UNIT_BYTES)) for i in items)
        else:
            units = max(1, math.ceil(sum(item_size(i) for i in parsed.get("Items", [])) / READ_UNIT_BYTES))
        self.batch.read_units += units
        self.batch.read_requests += 1

    # -- figures
    def totals(self) -> dict[str, float]:
        writes = [w for b in self.batches for w in b.writes]
        return {
            "write_units": sum(u for w in writes for *_, u in w.items),
            "write_requests": len(writes),
            "transactions": sum(w.transactional for w in writes),
            "read_units": sum(b.read_units for b in self.batches),
            "read_requests": sum(b.read_requests for b in self.batches),
        }

    def write_requests_on(self, pk: str) -> int:
        """Write requests that wrote partition key ``pk``."""
        return sum(1 for b in self.batches for w in b.writes if any(k == pk for k, _, _ in w.items))

    def key_loads(self) -> dict[str, tuple[int, int]]:
        """Per partition key: (WRU written, distinct children whose Lambda batches wrote it)."""
        units: Counter[str] = Counter()
        feeders: dict[str, set[int]] = defaultdict(set)
        for b in self.batches:
            for w in b.writes:
                for pk, _, u in w.items:
                    units[pk] += u
                    feeders[pk] |= b.children
        return {pk: (units[pk], len(feeders[pk])) for pk in units}

    def transaction_items(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Per item written in transactions: (transactions, distinct children feeding them)."""
        count: Counter[tuple[str, str]] = Counter()
        feeders: dict[tuple[str, str], set[int]] = defaultdict(set)
        for b in self.batches:
            for w in b.writes:
                if w.transactional:
                    for pk, sk, _ in w.items:
                        count[pk, sk] += 1
                        feeders[pk, sk] |= b.children
        return {k: (count[k], len(feeders[k])) for k in count}


def _put_items(op: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if op == "PutItem":
        return [params["Item"]]
    if op == "TransactWriteItems":
        return [t["Put"]["Item"] for t in params["TransactItems"] if "Put" in t]
    if op == "BatchWriteItem":
        return [r["PutRequest"]["Item"] for rs in params["RequestItems"].values() for r in rs if "PutRequest" in r]
    return []


def _written_keys(op: str, params: dict[str, Any], names: tuple[str, str]) -> list[dict[str, Any]]:
    def _key_of(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k in names}

    if op in ("UpdateItem", "DeleteItem"):
        return [params["Key"]]
    if op == "PutItem":
        return [_key_of(params["Item"])]
    if op == "TransactWriteItems":
        keys = []
        for t in params["TransactItems"]:
            kind, body = next(iter(t.items()))
            if kind != "ConditionCheck":
                keys.append(_key_of(body["Item"]) if kind == "Put" else body["Key"])
        return keys
    return [
        _key_of(r["PutRequest"]["Item"]) if "PutRequest" in r else r["DeleteRequest"]["Key"]
        for rs in params["RequestItems"].values()
        for r in rs
    ]


class _RawReader:
    """Reads an item's stored form from moto's backend (no request: nothing metered twice)."""

    def __init__(self, region: str, table: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table)

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        hash_key = next(v for k, v in key.items() if k == self.table.hash_key_attr)
        range_key = next((v for k, v in key.items() if k == self.table.range_key_attr), None)
        from moto.dynamodb.models.dynamo_type import DynamoType

        item = self.table.get_item(DynamoType(hash_key), DynamoType(range_key) if range_key else None)
        return copy.deepcopy(item.to_json()["Attributes"]) if item else None
