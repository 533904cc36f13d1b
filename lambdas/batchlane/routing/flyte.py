"""Read FlyteAdmin's ``queues:`` configuration (the seed guide's format) into a routing table.

The block may be the whole file or nested anywhere inside a larger YAML document such as Helm
values (``configmap.adminServer.queues`` or ``configMaps.adminServer.queues``).

An ``executionQueues`` entry may also carry batchlane's optional ``weight`` (a whole number
>= 0, default 1), ``enabled`` (default true) and ``capabilities`` (the routing item's map), so that ``batchlane routes export`` output
imports back unchanged. Flyte itself only reads ``dynamic`` and ``attributes``.
"""

from __future__ import annotations

from typing import Any

import yaml

from batchlane.routing.engine import Queue, RoutingTable, Rule
from batchlane.routing.items import MalformedItem, capabilities_from_item, rule_ids


class FlyteConfigError(ValueError):
    pass


def _find_queues_block(node: Any) -> dict | None:
    if isinstance(node, dict):
        block = node.get("queues")
        if isinstance(block, dict) and ("executionQueues" in block or "workflowConfigs" in block):
            return block
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_queues_block(child)
        if found is not None:
            return found
    return None


def _names(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: must be a non-empty list of strings")
        return ()
    return tuple(value)


def parse_flyte_config(text: str, source: str = "config") -> RoutingTable:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlyteConfigError(f"{source}: not valid YAML: {exc}") from exc
    block = _find_queues_block(document)
    if block is None:
        raise FlyteConfigError(f"{source}: no FlyteAdmin 'queues:' block with executionQueues/workflowConfigs found")
    problems: list[str] = []
    queues: list[Queue] = []
    lists = {}
    for key in ("executionQueues", "workflowConfigs"):
        lists[key] = block.get(key) or []
        if not isinstance(lists[key], list):
            problems.append(f"queues.{key}: must be a list")
            lists[key] = []
    for i, entry in enumerate(lists["executionQueues"]):
        where = f"queues.executionQueues[{i}]"
        if isinstance(entry, dict) and entry.get("dynamic") is not None and not isinstance(entry["dynamic"], str):
            problems.append(f"{where}.dynamic: the job queue name must be a string, got {entry['dynamic']!r} "
                            "(quote it: YAML reads unquoted yes/no/on/off/true/false and numbers otherwise)")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("dynamic"), str) or not entry["dynamic"]:
            problems.append(f"{where}.dynamic: the job queue name is missing")
            continue
        attributes = _names(entry.get("attributes"), f"{where}.attributes", problems)
        weight, enabled = entry.get("weight", 1), entry.get("enabled", True)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            problems.append(f"{where}.weight: must be a whole number >= 0")
            continue
        if not isinstance(enabled, bool):
            problems.append(f"{where}.enabled: must be true or false")
            continue
        try:
            capabilities = capabilities_from_item(entry.get("capabilities"))
        except MalformedItem as exc:
            problems.append(f"{where}: {exc}")
            continue
        if attributes:
            queues.append(Queue(entry["dynamic"], attributes, weight, enabled, capabilities))
    configs = lists["workflowConfigs"]
    rules: list[Rule] = []
    for rule_id, (i, entry) in zip(rule_ids(len(configs)), enumerate(configs)):
        where = f"queues.workflowConfigs[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        tags = _names(entry.get("tags"), f"{where}.tags", problems)
        fields = {}
        for ours, theirs in (("project", "project"), ("domain", "domain"), ("workflow", "workflowName")):
            value = entry.get(theirs)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                problems.append(f"{where}.{theirs}: must be a string")
                continue
            fields[ours] = value
        if tags:
            rules.append(Rule(rule_id, tags, **fields))
    names = [q.name for q in queues]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"queues.executionQueues: queue {dup!r} is listed twice")
    if problems:
        raise FlyteConfigError(f"{source}: " + "; ".join(problems))
    return RoutingTable(tuple(queues), tuple(rules))
