"""What the emulator changes in moto so that a big launch runs here at all (the sandbox only).

The costs of moto 5.2 that grow with the work, each replaced by a cache or a smaller copy that
answers exactly as moto does:

* **DynamoDB transactions.** moto's DynamoDB ``TransactWriteItems`` deep-copies every table a
transaction names, once per item, so that it can roll back a cancelled transaction: a cost
proportional to the table's size, paid up to 100 times per call. The aggregator writes one
transaction per launch per batch of events, so a 100,000-child launch slows the emulator to a
few events per second. Here, the rollback keeps a copy of the items the transaction touches
instead, and puts exactly those back. What DynamoDB answers (conditions, cancellation reasons,
the 100-item and one-operation-per-item rules) is still moto's own code; only the copy is
replaced.
* **The server's dispatch.** moto's server finds the service of every request under one global
  lock, listing its own package directory (a ``stat`` per moto module, ~200) each time: about a
  quarter of every request's time, and no request runs beside it. The list cannot change while
  the process runs; it is read once.
* **EventBridge targets.** For every event and every target, moto compiles the eight JSONPath
  expressions of the default input template with a fresh parser (a few milliseconds each). A
  compiled expression only reads the event it is given; each distinct one is compiled once.
* **SQS sends.** Each SendMessage asks its queue for every attribute to read one
  (``ContentBasedDeduplication``), and the approximate message counts among them scan every
  message in the queue: a send costs O(queue length), and a big launch's status queue holds
  thousands. While a message is sent, the queue answers that one attribute as moto would
  compute it, without counting.
* **SQS receives.** For each message it returns, ReceiveMessage checks the message's retention
  by asking the queue for ``MessageRetentionPeriod`` through GetQueueAttributes, which builds
  every attribute, counts included, three times: a receive of ten costs thirty scans of the
  queue. The retention is read from the queue itself, as moto stores it. And a receive lists
  every visible message before it takes ten, reading the clock twice per message (moto converts
  datetimes for each: a backlog of 8,000 messages cost ~50 ms per receive): here the visible
  messages are found as the receive asks for them, with one clock reading.
* **SQS deletes.** A delete looks for its receipt handle twice through every message of the
  queue (each message building the list of its handles), ten times for a batch of ten: here, the
  handles moto gives are remembered with their message, and a delete finds it at once.

Installed once per process (``install()``); ``installed()`` says whether it is.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
import weakref
from typing import Any

_lock = threading.Lock()
_installed = False


def installed() -> bool:
    return _installed


def install() -> None:
    """Idempotent: the first call patches moto's DynamoDB backend, later calls do nothing."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb import models
        from moto.dynamodb.models.table import Table

        # moto's module reads ``copy.deepcopy`` for its table snapshots: a table is "copied" as itself
        # (its rollback becomes a no-op), anything else as before.
        def deepcopy(value: Any, memo: dict | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)  # type: ignore[assignment]  # a stand-in module
        original = models.DynamoDBBackend.transact_write_items

        @functools.wraps(original)
        def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
            saved = _touched(self, transact_items)
            try:
                original(self, transact_items)
            except BaseException:
                _restore(saved)
                raise

        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]  # moto's class, patched in place
        _cache_module_list()
        _cache_jsonpath()
        _uncounted_sends()
        _direct_retention()
        _one_clock_reading()
        _indexed_deletes()
        _installed = True


def _cache_module_list() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def _cache_jsonpath() -> None:
    # moto.events.utils imports ``parse`` from jsonpath_ng.ext at each call: the cached one is found.
    from jsonpath_ng import ext

    ext.parse = functools.lru_cache(maxsize=1024)(ext.parse)


_sending = threading.local()


def _uncounted_sends() -> None:
    from moto.sqs import models

    # moto declares a property; read on its class it is the property object, which mypy does not see.
    every_attribute = models.Queue.attributes.fget  # type: ignore[attr-defined]

    def attributes(queue) -> dict[str, Any]:
        if not getattr(_sending, "depth", 0):
            return every_attribute(queue)
        if not queue.fifo_queue:
            return {}  # moto lists ContentBasedDeduplication for FIFO queues only
        value = queue.content_based_deduplication
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    def sending(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            _sending.depth = getattr(_sending, "depth", 0) + 1
            try:
                return method(*args, **kwargs)
            finally:
                _sending.depth -= 1

        return wrapper

    # moto's classes, patched in place
    models.Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    models.SQSBackend.send_message = sending(models.SQSBackend.send_message)  # type: ignore[method-assign]
    models.SQSBackend.send_message_batch = sending(models.SQSBackend.send_message_batch)  # type: ignore[method-assign]


def _touched(backend, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, a copy of the item or None) for every item a transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items[:100]:  # more: moto refuses the call before it writes anything
        if len(entry) != 1:
            continue  # refused by moto before any write
        op = next(iter(entry.values()))
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        key = op.get("Key") or op.get("Item") or {}
        if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue  # a malformed key: moto refuses that item without writing it
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        try:
            current = table.get_item(hash_key, range_key)
        except Exception:
            continue
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    """Every touched item as it was, in reverse order (an item named twice ends as first seen)."""
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is not None:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item


def _direct_retention() -> None:
    from moto.core.utils import unix_time
    from moto.sqs import models

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention = self.get_queue(queue_name).message_retention_period
        return int(retention) + message.sent_timestamp / 1000 > unix_time()

    # moto's class, patched in place
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


class _Visible:
    """A queue's visible messages (moto's ``Queue.messages``), found as they are asked for: a
    receive stops at the ten it returns instead of listing a backlog of 100,000 first; ``len``
    and truth (the counts, long polling) still scan, with one clock reading."""

    def __init__(self, queue) -> None:
        from moto.core.utils import unix_time_millis

        self._queue, self._now = queue, unix_time_millis()

    def __iter__(self):
        now = self._now  # Message.visible and Message.delayed, each at this instant
        return (m for m in self._queue._messages if now > m.visible_at and not now < m.delayed_until)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)


def _one_clock_reading() -> None:
    from moto.sqs import models

    models.Queue.messages = property(_Visible)  # type: ignore[method-assign,assignment]  # moto's class, patched in place


# Every receipt handle moto has given, to the message it was given for (while that message lives).
_received: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _indexed_deletes() -> None:
    from moto.sqs import models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    mark_received = models.Message.mark_received

    @functools.wraps(mark_received)
    def indexed_mark_received(message, *args, **kwargs) -> None:
        mark_received(message, *args, **kwargs)
        _received[message.receipt_handle] = message

    def delete_messages(queue, receipt_handles: list[str]) -> set[str]:
        """Deletes what the handles name; returns the invalid ones (no message of this queue)."""
        invalid = set()
        for handle in receipt_handles:
            if handle in queue.deleted_messages:
                continue  # again: accepted, as moto
            message = _received.get(handle)
            if message is None:  # never given, or its message is gone
                invalid.add(handle)
                continue
            try:
                queue._messages.remove(message)  # identity (moto's Message has no __eq__); oldest first
            except ValueError:
                invalid.add(handle)
                continue
            queue.pending_messages.discard(message)  # regardless of pending state, as moto
            queue.deleted_messages.update(message.all_receipt_handles)
        return invalid

    def delete_message(queue, receipt_handle: str) -> None:
        if delete_messages(queue, [receipt_handle]):
            raise ReceiptHandleIsInvalid()

    def delete_message_batch(self, queue_name: str, receipts: list[dict[str, Any]]):
        invalid = delete_messages(self.get_queue(queue_name), [r["ReceiptHandle"] for r in receipts])
        success = [r["Id"] for r in receipts if r["ReceiptHandle"] not in invalid]
        errors = [
            {
                "Id": r["Id"],
                "SenderFault": True,
                "Code": "ReceiptHandleIsInvalid",
                "Message": f'The input receipt handle "{r["ReceiptHandle"]}" is not a valid receipt handle.',
            }
            for r in receipts
            if r["ReceiptHandle"] in invalid
        ]
        return success, errors

    # moto's classes, patched in place
    models.Message.mark_received = indexed_mark_received  # type: ignore[method-assign,assignment]
    models.Queue.delete_message = delete_message  # type: ignore[method-assign,assignment]
    models.SQSBackend.delete_message_batch = delete_message_batch  # type: ignore[method-assign]
