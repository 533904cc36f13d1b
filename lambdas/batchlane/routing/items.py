"""The DynamoDB item shape of routing, made for hand edits (console or ``aws dynamodb put-item``).

All routing lives in one partition of the routing table (``pk = "routing"``), so one Query
reads it all:

* a queue:  ``{"pk": "routing", "sk": "queue#<batch queue name>", "attributes": ["critical"],
  "weight": 1, "enabled": true, "capabilities": {"platform": "EC2", "vcpus": 96, "memory": 760000,
  "gpus": 0, "capacity": "on-demand"}}`` (``weight``, ``enabled`` and ``capabilities`` are optional,
  and so is every key of ``capabilities``: what is missing is unknown, assumed capable). The
  aggregator adds ``unhealthyUntil`` (epoch seconds) and ``blockedReason`` when the queue's jobs
  are reported blocked.
* a rule:   ``{"pk": "routing", "sk": "rule#<id>", "project": "p", "domain": "d",
  "workflow": "w", "tags": ["critical", "default"]}`` (project/domain/workflow optional)

A malformed item is reported (and skipped by the caller), never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from batchlane.routing.engine import (
    ARCHITECTURES,
    CAPACITY_TYPES,
    PLATFORMS,
    UNKNOWN,
    Capabilities,
    Instance,
    Queue,
    RoutingTable,
    Rule,
)
from batchlane.routing.scope import SCOPE_FIELDS, Scope

PARTITION = "routing"
QUEUE_PREFIX = "queue#"
RULE_PREFIX = "rule#"
KEY_ATTR = "pk"
SORT_ATTR = "sk"
_QUEUE_FIELDS = {"attributes", "weight", "enabled", "description", "capabilities", "unhealthyUntil", "blockedReason"}
CAPABILITY_FIELDS = ("platform", "vcpus", "memory", "gpus", "capacity", "architectures", "fairShare", "instances")
INSTANCE_FIELDS = ("name", "vcpus", "memory", "gpus")
_RULE_FIELDS = {*SCOPE_FIELDS, "tags", "description"}


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


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, Decimal)) and value == int(value)


def capabilities_from_item(value: Any) -> Capabilities:
    """The ``capabilities`` map of a queue item; every problem is named in one MalformedItem."""
    if value is None:
        return UNKNOWN
    if not isinstance(value, Mapping):
        raise MalformedItem("capabilities must be a map (M)")
    problems = [
        f"capabilities.{k} is not a capability (allowed: {', '.join(CAPABILITY_FIELDS)})"
        for k in sorted(set(value) - set(CAPABILITY_FIELDS))
    ]
    platform, vcpus, memory, gpus, capacity, architectures, fair_share, instances = (
        value.get(k) for k in CAPABILITY_FIELDS
    )
    if platform is not None and platform not in PLATFORMS:
        problems.append(f"capabilities.platform must be one of {', '.join(PLATFORMS)}")
    if vcpus is not None and (isinstance(vcpus, bool) or not isinstance(vcpus, (int, float, Decimal)) or vcpus <= 0):
        problems.append("capabilities.vcpus must be a number > 0")
    if memory is not None and not (_whole(memory) and memory > 0):
        problems.append("capabilities.memory must be a whole number of MiB > 0")
    if gpus is not None and not (_whole(gpus) and gpus >= 0):
        problems.append("capabilities.gpus must be a whole number >= 0")
    if capacity is not None and capacity not in CAPACITY_TYPES:
        problems.append(f"capabilities.capacity must be one of {', '.join(CAPACITY_TYPES)}")
    if architectures is not None and (
        not isinstance(architectures, (list, tuple, set)) or not all(a in ARCHITECTURES for a in architectures)
    ):
        problems.append(f"capabilities.architectures must be a list of {', '.join(ARCHITECTURES)}")
    if fair_share is not None and not isinstance(fair_share, bool):
        problems.append("capabilities.fairShare must be a boolean")
    problems += _instance_problems(instances)
    if problems:
        raise MalformedItem("; ".join(problems))
    return Capabilities(
        platform=platform,
        vcpus=None if vcpus is None else float(vcpus),
        memory=None if memory is None else int(memory),
        gpus=None if gpus is None else int(gpus),
        capacity=capacity,
        architectures=None if architectures is None else tuple(sorted(set(architectures))),
        fair_share=fair_share,
        instances=tuple(
            Instance(str(i["name"]), int(i["vcpus"]), int(i["memory"]), int(i["gpus"])) for i in instances or ()
        ),
    )


def _instance_problems(instances: Any) -> list[str]:
    """``capabilities.instances``: a list of maps {name, vcpus, memory, gpus} (whole numbers)."""
    if instances is None:
        return []
    if not isinstance(instances, list):
        return ["capabilities.instances must be a list (L) of maps"]
    problems = []
    for n, instance in enumerate(instances):
        where = f"capabilities.instances[{n}]"
        if not isinstance(instance, Mapping) or set(instance) != set(INSTANCE_FIELDS):
            problems.append(f"{where} must be a map with exactly {', '.join(INSTANCE_FIELDS)}")
        elif not isinstance(instance["name"], str) or not all(
            _whole(instance[k]) and instance[k] >= (0 if k == "gpus" else 1) for k in INSTANCE_FIELDS[1:]
        ):
            problems.append(f"{where}: name must be a string, vcpus and memory whole numbers > 0, gpus >= 0")
    return problems


def queue_from_item(name: str, item: Mapping[str, Any]) -> Queue:
    _unknown(item, _QUEUE_FIELDS)
    problems = []
    if not name:
        problems.append("the queue name after 'queue#' is empty")
    weight = item.get("weight", 1)
    if not (_whole(weight) and weight >= 0):
        problems.append("weight must be a whole number >= 0")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append("enabled must be a boolean (BOOL)")
    until = item.get("unhealthyUntil")
    if until is not None and not _whole(until):
        problems.append("unhealthyUntil must be a whole number (epoch seconds)")
    reason = item.get("blockedReason")
    if reason is not None and not isinstance(reason, str):
        problems.append("blockedReason must be a string")
    attributes: tuple[str, ...] = ()
    capabilities = UNKNOWN
    try:
        attributes = _strings(item.get("attributes"), "attributes", ordered=False)
    except MalformedItem as exc:
        problems.append(str(exc))
    try:
        capabilities = capabilities_from_item(item.get("capabilities"))
    except MalformedItem as exc:
        problems.append(str(exc))
    if problems:
        raise MalformedItem("; ".join(problems))
    return Queue(name, attributes, int(weight), enabled, capabilities, None if until is None else int(until), reason)


def rule_from_item(rule_id: str, item: Mapping[str, Any]) -> Rule:
    _unknown(item, _RULE_FIELDS)
    if not rule_id:
        raise MalformedItem("the rule id after 'rule#' is empty")
    scope = Scope(**{name: _optional_name(item, name) for name in SCOPE_FIELDS})
    return Rule(rule_id, _strings(item.get("tags"), "tags", ordered=True), scope)


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
                queues.append(queue_from_item(sk[len(QUEUE_PREFIX) :], item))
            elif sk.startswith(RULE_PREFIX):
                rules.append(rule_from_item(sk[len(RULE_PREFIX) :], item))
            else:
                raise MalformedItem(f"sk must start with {QUEUE_PREFIX!r} or {RULE_PREFIX!r}")
        except MalformedItem as exc:
            problems.append(f"{sk}: {exc}")
    return RoutingTable(tuple(queues), tuple(rules)), problems


def queue_item(queue: Queue) -> dict[str, Any]:
    """What an operator (or the seed) writes; health is the aggregator's and is not part of it."""
    item = {
        KEY_ATTR: PARTITION,
        SORT_ATTR: QUEUE_PREFIX + queue.name,
        "attributes": list(queue.attributes),
        "weight": queue.weight,
        "enabled": queue.enabled,
    }
    if queue.capabilities != UNKNOWN:
        item["capabilities"] = {
            k: (int(v) if isinstance(v, float) and v == int(v) else v) for k, v in queue.capabilities.as_dict().items()
        }
    return item


def rule_item(rule: Rule) -> dict[str, Any]:
    return {KEY_ATTR: PARTITION, SORT_ATTR: RULE_PREFIX + rule.id, "tags": list(rule.tags), **rule.scope.named()}


def items_from_table(table: RoutingTable) -> list[dict[str, Any]]:
    return [queue_item(q) for q in table.queues] + [rule_item(r) for r in table.rules]


def rule_ids(count: int) -> Iterable[str]:
    """Ids for rules given as an ordered list (file order = tie-break order)."""
    width = max(4, len(str(count)))
    return (str(i + 1).zfill(width) for i in range(count))
