"""What the emulator changes in moto so that a big launch runs here at all (the sandbox only).

Three costs of moto 5.2 that grow with the work, each replaced by a cache or a smaller copy that
answers exactly as moto does:

* **DynamoDB transactions.** moto's DynamoDB ``TransactWriteItems`` deep-copies every table a transaction names, once per
item, so that it can roll back a cancelled transaction: a cost proportional to the table's size,
paid up to 100 times per call. The aggregator writes one transaction per launch per batch of
events, so a 100,000-child launch slows the emulator to a few events per second. Here, the
rollback keeps a copy of the items the transaction touches instead, and puts exactly those back.
What DynamoDB answers (conditions, cancellation reasons, the 100-item and one-operation-per-item
rules) is still moto's own code; only the copy is replaced.
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

Installed once per process (``install()``); ``installed()`` says whether it is.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
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

        models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
        original = models.DynamoDBBackend.transact_write_items

        @functools.wraps(original)
        def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
            saved = _touched(self, transact_items)
            try:
                original(self, transact_items)
            except BaseException:
                _restore(saved)
                raise

        models.DynamoDBBackend.transact_write_items = transact_write_items
        _cache_module_list()
        _cache_jsonpath()
        _uncounted_sends()
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

    every_attribute = models.Queue.attributes.fget

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

    models.Queue.attributes = property(attributes)
    models.SQSBackend.send_message = sending(models.SQSBackend.send_message)
    models.SQSBackend.send_message_batch = sending(models.SQSBackend.send_message_batch)


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
        except Exception:  # noqa: BLE001 - moto's own validation answers for this item
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
