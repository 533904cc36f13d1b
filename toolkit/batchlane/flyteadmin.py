"""Read FlyteAdmin's ``queues:`` configuration (the seed guide's format) into a routing table.

The block may be the whole file or nested anywhere inside a larger YAML document such as Helm
values (``configmap.adminServer.queues`` or ``configMaps.adminServer.queues``).

An ``executionQueues`` entry may also carry batchlane's optional ``weight`` (a whole number >= 0,
default 1), ``enabled`` (default true) and ``capabilities`` (the routing item's map), so that
``batchlane routes export`` output imports back unchanged. Flyte itself only reads ``dynamic`` and
``attributes``. Any other key is an error naming it: a dropped ``Domain:`` or ``workflow:`` would
silently widen a rule.

The text may hold several YAML documents (a Kubernetes manifest), and the config may be embedded
as a string (a ConfigMap's ``data: {adminServer.yaml: |...}``): both are searched.

Two modes read the same rules (docs/routing.md): batchlane's documented one (every field a rule
names must match, the most specific rule wins) and ``flyteadmin_table``, FlyteAdmin's own
allocator (it keeps only ``domain`` of a ``workflowConfigs`` entry: the domain's last entry wins,
the last catch-all only when the domain has none), expressed as an equivalent table for the same engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from batchlane.routing.engine import UNKNOWN, Decision, Queue, RoutingTable, Rule, decide
from batchlane.routing.items import MalformedItem, capabilities_from_item, queue_item, rule_ids
from batchlane.routing.scope import Scope


class FlyteConfigError(ValueError):
    pass


def _find_queues_block(node: Any) -> dict | None:
    if isinstance(node, str) and "queues" in node:  # a config embedded as a string (a ConfigMap's data)
        try:
            node = yaml.safe_load(node)
        except yaml.YAMLError:
            return None
    if isinstance(node, dict):
        block = node.get("queues")
        if isinstance(block, dict) and ("executionQueues" in block or "workflowConfigs" in block):
            return block
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_queues_block(child)
        if found is not None:
            return found
    return None


QUEUE_KEYS = ("dynamic", "attributes", "weight", "enabled", "capabilities")
# How FlyteAdmin spells each field of a rule's scope in a ``workflowConfigs`` entry.
FLYTE_SCOPE_KEYS = {"project": "project", "domain": "domain", "workflow": "workflowName"}
RULE_KEYS = (*FLYTE_SCOPE_KEYS.values(), "tags")


def _unknown_keys(entry: dict, allowed: tuple[str, ...], where: str, problems: list[str]) -> bool:
    unknown = [k for k in entry if k not in allowed]
    for key in unknown:
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")
    return bool(unknown)


def _names(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: must be a non-empty list of strings")
        return ()
    return tuple(value)


def _queue(entry: Any, where: str, problems: list[str]) -> Queue | None:
    """One ``executionQueues`` entry; None (with the problem noted) when it is not a usable queue."""
    if isinstance(entry, dict) and entry.get("dynamic") is not None and not isinstance(entry["dynamic"], str):
        problems.append(
            f"{where}.dynamic: the job queue name must be a string, got {entry['dynamic']!r} "
            "(quote it: YAML reads unquoted yes/no/on/off/true/false and numbers otherwise)"
        )
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("dynamic"), str) or not entry["dynamic"]:
        problems.append(f"{where}.dynamic: the job queue name is missing")
        return None
    if _unknown_keys(entry, QUEUE_KEYS, where, problems):
        return None
    attributes = _names(entry.get("attributes"), f"{where}.attributes", problems)
    weight, enabled = entry.get("weight", 1), entry.get("enabled", True)
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
        problems.append(f"{where}.weight: must be a whole number >= 0")
        return None
    if not isinstance(enabled, bool):
        problems.append(f"{where}.enabled: must be true or false")
        return None
    try:
        capabilities = capabilities_from_item(entry.get("capabilities"))
    except MalformedItem as exc:
        problems.append(f"{where}: {exc}")
        return None
    return Queue(entry["dynamic"], attributes, weight, enabled, capabilities) if attributes else None


def _scope(entry: dict, where: str, problems: list[str]) -> Scope:
    """The scope a ``workflowConfigs`` entry names; an empty field names nothing."""
    named: dict[str, str] = {}
    for ours, theirs in FLYTE_SCOPE_KEYS.items():
        value = entry.get(theirs)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            problems.append(f"{where}.{theirs}: must be a string")
            continue
        named[ours] = value
    return Scope.of(named)


def _rule(rule_id: str, entry: Any, where: str, problems: list[str]) -> Rule | None:
    """One ``workflowConfigs`` entry; None (with the problem noted) when it is not a usable rule."""
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    if _unknown_keys(entry, RULE_KEYS, where, problems):
        return None
    tags = _names(entry.get("tags"), f"{where}.tags", problems)
    scope = _scope(entry, where, problems)
    return Rule(rule_id, tags, scope) if tags else None


def _entries(block: dict, key: str, problems: list[str]) -> list:
    entries = block.get(key) or []
    if not isinstance(entries, list):
        problems.append(f"queues.{key}: must be a list")
        return []
    return entries


def parse_flyte_config(text: str, source: str = "config") -> RoutingTable:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise FlyteConfigError(f"{source}: not valid YAML: {exc}") from exc
    block = _find_queues_block(documents)
    if block is None:
        raise FlyteConfigError(f"{source}: no FlyteAdmin 'queues:' block with executionQueues/workflowConfigs found")
    problems: list[str] = []
    execution_queues = _entries(block, "executionQueues", problems)
    configs = _entries(block, "workflowConfigs", problems)
    queues = [
        queue
        for i, entry in enumerate(execution_queues)
        if (queue := _queue(entry, f"queues.executionQueues[{i}]", problems)) is not None
    ]
    rules = [
        rule
        for rule_id, (i, entry) in zip(rule_ids(len(configs)), enumerate(configs))
        if (rule := _rule(rule_id, entry, f"queues.workflowConfigs[{i}]", problems)) is not None
    ]
    names = [q.name for q in queues]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"queues.executionQueues: queue {dup!r} is listed twice")
    if problems:
        raise FlyteConfigError(f"{source}: " + "; ".join(problems))
    return RoutingTable(tuple(queues), tuple(rules))


def _execution_queue(queue: Queue) -> dict[str, Any]:
    """A queue as an ``executionQueues`` entry (what ``_queue`` reads back); defaults left out."""
    entry: dict[str, Any] = {"dynamic": queue.name, "attributes": list(queue.attributes)}
    if queue.weight != 1:
        entry["weight"] = queue.weight
    if not queue.enabled:
        entry["enabled"] = False
    if queue.capabilities != UNKNOWN:
        entry["capabilities"] = queue_item(queue)["capabilities"]
    return entry


def _workflow_config(rule: Rule) -> dict[str, Any]:
    """A rule as a ``workflowConfigs`` entry (what ``_rule`` reads back)."""
    return {FLYTE_SCOPE_KEYS[ours]: value for ours, value in rule.scope.named().items()} | {"tags": list(rule.tags)}


def flyte_yaml(table: RoutingTable, source: str) -> str:
    """The table as a FlyteAdmin ``queues:`` block that ``parse_flyte_config`` reads back."""
    queues = [_execution_queue(q) for q in table.queues]
    configs = [_workflow_config(r) for r in sorted(table.rules, key=lambda r: r.id)]  # file order = tie-break order
    header = (
        f"# FlyteAdmin queue configuration, exported by batchlane from {source}.\n"
        "# workflowConfigs are in rule-id order (the tie-break order); `weight` and `enabled` are\n"
        "# batchlane extensions (FlyteAdmin does not know them), written only when not the default.\n"
    )
    body = yaml.safe_dump(
        {"queues": {"executionQueues": queues, "workflowConfigs": configs}}, sort_keys=False, default_flow_style=False
    )
    return header + body


def flyteadmin_table(table: RoutingTable) -> RoutingTable:
    """The same queues with rules that make batchlane's engine decide as FlyteAdmin's allocator
    (flyteadmin/pkg/manager/impl/executions/queues.go ``GetQueue``) does: only ``domain`` is read;
    the last rule (in file order) *of the launch's domain* gives the tags, and the last rule of no
    domain (the catch-all) only when its domain has none, wherever the catch-all is written.

    Per domain a rule names, its rule is the last rule of that domain; for every other domain, the
    last rule of no domain. A domain rule is more specific than the catch-all, so the engine's
    most-specific choice gives exactly FlyteAdmin's answer."""
    ordered = sorted(table.rules, key=lambda r: r.id)

    def last(domain: str | None) -> Rule | None:
        own = [r for r in ordered if r.scope.domain == domain]
        catch_all = [r for r in ordered if r.scope.domain is None]
        chosen = own or catch_all
        return chosen[-1] if chosen else None

    domains = sorted({r.scope.domain for r in ordered if r.scope.domain is not None})
    chosen = [(d, last(d)) for d in domains] + [(None, last(None))]
    kept = [(domain, rule) for domain, rule in chosen if rule is not None]
    rules = tuple(
        Rule(rule_id, rule.tags, Scope(domain=domain)) for rule_id, (domain, rule) in zip(rule_ids(len(kept)), kept)
    )
    return RoutingTable(table.queues, rules)


ANY = "(any)"  # a field a rule does not name, in the launch that samples it


@dataclass(frozen=True)
class ModeDifference:
    """Where the two modes send the launch a rule is written for."""

    rule: Rule
    launch: Scope  # names all three fields
    documented: Decision
    flyteadmin: Decision


def mode_differences(table: RoutingTable, key: str) -> list[ModeDifference]:
    """For every rule, the launch it names (its own project/domain/workflow, ``(any)`` for the
    others), decided by both modes; the rules whose launch gets another queue or tag."""
    flyteadmin = flyteadmin_table(table)
    differences = []
    for rule in sorted(table.rules, key=lambda r: r.id):
        launch = rule.scope.sample_launch(ANY)
        ours, theirs = decide(table, *launch, key=key), decide(flyteadmin, *launch, key=key)
        if (ours.queue, ours.tag) != (theirs.queue, theirs.tag):
            differences.append(ModeDifference(rule, Scope(*launch), ours, theirs))
    return differences
