"""``batchlane routes``: how routing is shown (tables, JSON documents, warnings, changes). A rule's
scope is printed one way everywhere: ``str(rule.scope)`` (batchlane.routing.scope)."""

from __future__ import annotations

import time
from typing import Any

from batchlane.client.routing import SAMPLE_LAUNCH_ID
from batchlane.routing import RoutingTable, Rule, Scope
from batchlane.routing.engine import UNKNOWN, Queue
from batchlane.routing.scope import SCOPE_FIELDS

FLYTEADMIN = "flyteadmin"
MODES = ("documented", FLYTEADMIN)
# The kinds of an import plan, in the order they are shown.
PLAN_KINDS = ("added", "updated", "deleted", "unchanged", "kept")


def precedence(rule: Rule) -> tuple:
    """Sort key: the first rule in this order that applies to a launch is the one that wins."""
    return tuple(not s for s in rule.scope.specificity), rule.id


def queue_doc(queue: Queue) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": queue.name,
        "attributes": list(queue.attributes),
        "weight": queue.weight,
        "enabled": queue.enabled,
    }
    if queue.capabilities != UNKNOWN:
        doc["capabilities"] = queue.capabilities.as_dict()
    if queue.unhealthy_until is not None:
        doc.update(unhealthyUntil=queue.unhealthy_until, blockedReason=queue.blocked_reason)
    return doc


def rule_doc(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, **rule.scope.as_dict(), "tags": list(rule.tags)}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def describe_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What a write changes in an item, field by field."""
    if old is None:
        return "replaces a malformed item"
    order = [*SCOPE_FIELDS, "tags", "attributes", "weight", "enabled", "capabilities"]
    fields = [f for f in order if f in old or f in new]
    return ", ".join(f"{f} {_show(old.get(f))} -> {_show(new.get(f))}" for f in fields if old.get(f) != new.get(f))


def routing_warnings(table: RoutingTable) -> list[str]:
    """Things that are valid but probably not meant: rules that can never route anything."""
    warnings: list[str] = []
    for rule in sorted(table.rules, key=precedence):
        if not any(q.eligible and tag in q.attributes for tag in rule.tags for q in table.queues):
            warnings.append(
                f"rule {rule.id} ({rule.scope}): no enabled queue with weight > 0 carries any of its "
                f"tags [{', '.join(rule.tags)}]; launches it matches are rejected"
            )
    first: dict[Scope, str] = {}
    for rule in sorted(table.rules, key=lambda r: r.id):
        if rule.scope in first:
            warnings.append(
                f"rule {rule.id} has the same scope ({rule.scope}) as rule {first[rule.scope]}, "
                f"which wins the tie (its id sorts first): rule {rule.id} never applies"
            )
        else:
            first[rule.scope] = rule.id
    return warnings


def diff_lines(table: RoutingTable) -> list[str]:
    """``routes import --diff``: every rule whose launch the two modes route differently."""
    from batchlane.flyteadmin import mode_differences

    differences = mode_differences(table, SAMPLE_LAUNCH_ID)
    lines = [
        f"{len(differences)} of {len(table.rules)} rules route differently in FlyteAdmin's mode "
        "(domain only: the domain's last rule, else the last catch-all) "
        "than in batchlane's (most specific rule wins):"
    ]
    for d in differences:
        lines.append(f"  {d.rule.describe()}")
        lines.append(f"    launch {d.launch}")
        for mode, decision in (("documented", d.documented), (FLYTEADMIN, d.flyteadmin)):
            lines.append(f"    {mode:<10}  -> {decision.queue or 'no queue'} (tag {decision.tag or '-'})")
    return lines


def queue_rows(queues: tuple[Queue, ...]) -> list[list[str]]:
    """``routes list``: the queues as table rows, a header first."""
    now = time.time()
    rows = [["NAME", "ATTRIBUTES", "WEIGHT", "ENABLED", "CAPABILITIES", "HEALTH"]]
    rows += [
        [
            q.name,
            ",".join(q.attributes),
            str(q.weight),
            "yes" if q.enabled else "no",
            q.capabilities.describe() if q.capabilities != UNKNOWN else "unknown (assumed capable)",
            "healthy" if q.healthy(now) else f"blocked until {q.unhealthy_until}",
        ]
        for q in queues
    ]
    return rows


def rule_rows(rules: list[Rule]) -> list[list[str]]:
    """``routes list``: the rules as table rows, a header first."""
    return [["ID", "SCOPE", "TAGS"]] + [[r.id, str(r.scope), ",".join(r.tags)] for r in rules]


def plan_rows(plan: dict[str, list]) -> list[list[str]]:
    """``routes import``: one row per item the import adds, updates, deletes or keeps."""
    return [[kind, sk, note] for kind in ("added", "updated", "deleted", "kept") for sk, _, note in plan[kind]]


def plan_counts(plan: dict[str, list]) -> str:
    counts = ", ".join(f"{len(plan[k])} {k}" for k in PLAN_KINDS if plan[k])
    return counts.capitalize() + "." if counts else "Nothing to do: the file is empty and so is the table."
