"""``batchlane routes``: reading routing (a FlyteAdmin file, an items export, the routing table) and
planning what a write changes. Item shapes come from ``batchlane.routing.items``."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from batchlane.cli.common import USAGE, CliError, Context
from batchlane.cli.routes_present import describe_changes
from batchlane.client.render import describe_item
from batchlane.routing import RoutingTable
from batchlane.routing.items import (
    KEY_ATTR,
    PARTITION,
    QUEUE_PREFIX,
    RULE_PREFIX,
    SORT_ATTR,
    MalformedItem,
    queue_from_item,
    queue_item,
    rule_from_item,
    rule_item,
    table_from_items,
)

if TYPE_CHECKING:
    from batchlane.client.routing import RoutingTableStore

QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")  # AWS Batch job queue names
RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# --- reading sources ---------------------------------------------------------------------------


def parse_routing_file(text: str, source: str, fmt: str = "auto") -> RoutingTable:
    """A FlyteAdmin config (``queues:`` anywhere in the document) or an ``export --format items`` list."""
    import yaml

    from batchlane.flyteadmin import FlyteConfigError, parse_flyte_config

    if fmt in ("auto", "items"):
        try:
            documents = [d for d in yaml.safe_load_all(text) if d is not None]  # a manifest may hold several
        except yaml.YAMLError as exc:
            raise CliError(f"{source}: not valid YAML or JSON: {' '.join(str(exc).split())}", USAGE) from None
        if len(documents) == 1 and isinstance(documents[0], list):
            return _table_from_item_list(documents[0], source)
        if fmt == "items":
            raise CliError(
                f"{source}: expected a list of routing items (batchlane routes export --format items)", USAGE
            )
    try:
        return parse_flyte_config(text, source)
    except FlyteConfigError as exc:
        raise CliError(" ".join(str(exc).split()), USAGE) from None


def _table_from_item_list(document: list, source: str) -> RoutingTable:
    items: dict[str, Any] = {}
    problems: list[str] = []
    for i, item in enumerate(document):
        if not isinstance(item, dict) or not isinstance(item.get(SORT_ATTR), str):
            problems.append(f"[{i}]: not a routing item (a mapping with {SORT_ATTR!r})")
        elif item.get(KEY_ATTR, PARTITION) != PARTITION:
            problems.append(f"[{i}]: {KEY_ATTR} must be {PARTITION!r}")
        elif item[SORT_ATTR] in items:
            problems.append(f"[{i}]: {item[SORT_ATTR]} is listed twice")
        else:
            items[item[SORT_ATTR]] = item
    table, malformed = table_from_items(items)
    problems += malformed
    if problems:
        raise CliError(f"{source}: " + "; ".join(problems), USAGE)
    return table


def routing_store(ctx: Context) -> RoutingTableStore:
    from batchlane.client.routing import RoutingTableStore

    return RoutingTableStore(ctx.resource("dynamodb"), ctx.table_name("routing"))


def read_table(ctx: Context, store: RoutingTableStore) -> tuple[RoutingTable, dict[str, dict[str, Any]]]:
    """The routing table as the launcher sees it; malformed items are warnings, never fatal."""
    items = store.items()
    table, problems = table_from_items(items)
    for problem in problems:
        ctx.warn(f"skipping malformed routing item {problem}")
    return table, items


# --- planning a write ----------------------------------------------------------------------------


def normalized_item(sk: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """An existing item in the codec's canonical form, or None when it is malformed."""
    try:
        if sk.startswith(QUEUE_PREFIX):
            return queue_item(queue_from_item(sk[len(QUEUE_PREFIX) :], item))
        if sk.startswith(RULE_PREFIX):
            return rule_item(rule_from_item(sk[len(RULE_PREFIX) :], item))
    except MalformedItem:
        return None
    return None


# Kept from the existing item on a write, and not a change by themselves.
NOT_COMPARED = ("description", "unhealthyUntil", "blockedReason")


def _keep_operator_fields(existing: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """What a file without them must not erase: the description, the aggregator's health mark, and
    capabilities (a FlyteAdmin file has none; the table's came from the deployment or an operator)."""
    kept = {k: existing[k] for k in NOT_COMPARED if k in existing}
    if item[SORT_ATTR].startswith(QUEUE_PREFIX) and "capabilities" not in item and "capabilities" in existing:
        kept["capabilities"] = existing["capabilities"]
    return {**item, **kept}


def plan_import(
    existing: dict[str, dict[str, Any]], wanted: dict[str, dict[str, Any]], replace: bool
) -> dict[str, list]:
    plan: dict[str, list] = {"added": [], "updated": [], "unchanged": [], "deleted": [], "kept": []}
    for sk, item in wanted.items():
        if sk not in existing:
            plan["added"].append((sk, item, describe_item(item)))
            continue
        old = normalized_item(sk, existing[sk])
        item = _keep_operator_fields(existing[sk], item)
        if old == {k: v for k, v in item.items() if k not in NOT_COMPARED}:
            plan["unchanged"].append((sk, existing[sk], ""))
            continue
        plan["updated"].append((sk, item, describe_changes(old, item)))
    for sk in sorted(set(existing) - set(wanted)):
        if replace:
            plan["deleted"].append((sk, None, "not in the file"))
        else:
            plan["kept"].append((sk, existing[sk], "not in the file; --replace deletes it"))
    return plan


def put_changed(
    store: RoutingTableStore, noun: str, name: str, item: dict[str, Any], existing: dict[str, Any] | None
) -> tuple[str, str]:
    """Write ``item`` (keeping the existing item's description) unless the table already holds it;
    the action (created, updated, unchanged) and the line that says it."""
    old = normalized_item(item[SORT_ATTR], existing) if existing is not None else None
    written = {**item, **{k: existing[k] for k in NOT_COMPARED if existing and k in existing}}
    if existing is None:
        action, message = "created", f"Created {noun} {name}: {describe_item(written)}"
    elif old == item:
        action, message = "unchanged", f"{noun.capitalize()} {name} unchanged: {describe_item(written)}"
    else:
        action, message = "updated", f"Updated {noun} {name}: {describe_changes(old, written)}"
    if action != "unchanged":
        store.put(written)
    return action, message


def check_queue_names(ctx: Context, names: Iterable[str], allow_unknown: bool) -> None:
    """Routing items may name only the queues the deployment has (or lists in extraJobQueueArns):
    a launch routed elsewhere would be refused by SubmitJob (the launcher may submit to no other).
    ``--allow-unknown-queues`` writes them anyway (e.g. before the config that adds them is deployed)."""
    if allow_unknown:
        return
    try:
        config = ctx.config()
    except CliError as exc:
        raise CliError(
            f"cannot check queue names against deployment {ctx.deployment!r} ({exc}); "
            "name the deployment with --deployment, or pass --allow-unknown-queues",
            USAGE,
        ) from None
    unknown = sorted(set(names) - config.routable_queue_names)
    if unknown:
        known = ", ".join(sorted(config.routable_queue_names))
        raise CliError(
            f"deployment {config.name} has no job queue named {', '.join(unknown)} (it has: {known}); "
            "rename them, add their ARNs to extraJobQueueArns, or pass --allow-unknown-queues",
            USAGE,
        )


# --- argument types ------------------------------------------------------------------------------


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def positive_whole(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number > 0, got {text!r}")
    return int(text)
