"""The DynamoDB item shape of routing, made for hand edits (console or ``aws dynamodb put-item``).

All routing lives in one partition of the routing table (``pk = "routing"``), so one Query
reads it all:

* a queue:  ``{"pk": "routing", "sk": "queue#<batch queue name>", "attributes": ["critical"],
  "weight": 1, "enabled": true}`` (``weight`` and ``enabled`` are optional)
* a rule:   ``{"pk": "routing", "sk": "rule#<id>", "project": "p", "domain": "d",
  "workflow": "w", "tags": ["critical", "default"]}`` (project/domain/workflow optional)

A malformed item is reported (and skipped by the caller), never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from batchlane.routing.engine import Queue, RoutingTable, Rule

PARTITION = "routing"
QUEUE_PREFIX = "queue#"
RULE_PREFIX = "rule#"
KEY_ATTR = "pk"
SORT_ATTR = "sk"
_QUEUE_FIELDS = {"attributes", "weight", "enabled", "description"}
_RULE_FIELDS = {"project", "domain", "workflow", "tags", "description"}


class MalformedItem(ValueError):
    pass


def _strings(value: Any, what: str, *, ordered: bool) -> tuple[str, ...]:
    if isinstance(value, (set, frozenset)):
        if ordered:
            raise MalformedItem(f"{what} must be a list (L), not a set: their order matters")
        value = sorted(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise MalformedItem(f"{what} must be a non-empty list of strings")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise MalformedItem(f"{what} must contain only non-empty strings")
    return tuple(value)


def _optional_name(item: Mapping[str, Any], field: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MalformedItem(f"{field} must be a non-empty string when present")
    return value


def _unknown(item: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(item) - allowed - {KEY_ATTR, SORT_ATTR})
    if extra:
        raise MalformedItem(f"unknown attributes {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def queue_from_item(name: str, item: Mapping[str, Any]) -> Queue:
    _unknown(item, _QUEUE_FIELDS)
    if not name:
        raise MalformedItem("the queue name after 'queue#' is empty")
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, Decimal)) or weight != int(weight) or weight < 0:
        raise MalformedItem("weight must be a whole number >= 0")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise MalformedItem("enabled must be a boolean (BOOL)")
    return Queue(name, _strings(item.get("attributes"), "attributes", ordered=False), int(weight), enabled)


def rule_from_item(rule_id: str, item: Mapping[str, Any]) -> Rule:
    _unknown(item, _RULE_FIELDS)
    if not rule_id:
        raise MalformedItem("the rule id after 'rule#' is empty")
    return Rule(
        rule_id,
        _strings(item.get("tags"), "tags", ordered=True),
        project=_optional_name(item, "project"),
        domain=_optional_name(item, "domain"),
        workflow=_optional_name(item, "workflow"),
    )


def table_from_items(items: Mapping[str, Mapping[str, Any]]) -> tuple[RoutingTable, list[str]]:
    """Build the routing table from ``{sk: item}``; returns it with one problem line per bad item."""
    queues: list[Queue] = []
    rules: list[Rule] = []
    problems: list[str] = []
    for sk in sorted(items):
        item = items[sk]
        try:
            if not isinstance(item, Mapping):
                raise MalformedItem("not a map")
            if sk.startswith(QUEUE_PREFIX):
                queues.append(queue_from_item(sk[len(QUEUE_PREFIX):], item))
            elif sk.startswith(RULE_PREFIX):
                rules.append(rule_from_item(sk[len(RULE_PREFIX):], item))
            else:
                raise MalformedItem(f"sk must start with {QUEUE_PREFIX!r} or {RULE_PREFIX!r}")
        except MalformedItem as exc:
            problems.append(f"{sk}: {exc}")
    return RoutingTable(tuple(queues), tuple(rules)), problems


def queue_item(queue: Queue) -> dict[str, Any]:
    return {KEY_ATTR: PARTITION, SORT_ATTR: QUEUE_PREFIX + queue.name, "attributes": list(queue.attributes),
            "weight": queue.weight, "enabled": queue.enabled}


def rule_item(rule: Rule) -> dict[str, Any]:
    item: dict[str, Any] = {KEY_ATTR: PARTITION, SORT_ATTR: RULE_PREFIX + rule.id, "tags": list(rule.tags)}
    for field in ("project", "domain", "workflow"):
        if getattr(rule, field) is not None:
            item[field] = getattr(rule, field)
    return item


def items_from_table(table: RoutingTable) -> list[dict[str, Any]]:
    return [queue_item(q) for q in table.queues] + [rule_item(r) for r in table.rules]


def rule_ids(count: int) -> Iterable[str]:
    """Ids for rules given as an ordered list (file order = tie-break order)."""
    width = max(4, len(str(count)))
    return (str(i + 1).zfill(width) for i in range(count))
