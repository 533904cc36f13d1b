"""``batchlane routes``: see, check and edit queue routing (the routing table, or a FlyteAdmin file).

Routing decisions come from ``batchlane.routing.decide``, the same function the launcher runs;
item shapes from ``batchlane.routing.items``. Exit codes: ``batchlane.cli.common``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from batchlane.cli.common import (
    NOT_FOUND,
    OK,
    USAGE,
    CliError,
    Context,
    add_command,
    add_group,
    csv_list,
    non_negative_int,
    read_text,
)
from batchlane.client.render import decision_lines, describe_item, table_text
from batchlane.client.routing import SAMPLE_LAUNCH_ID
from batchlane.routing import Needs, RoutingTable, Rule, decide
from batchlane.routing.engine import ANY_JOB, PLATFORMS, UNKNOWN, Queue
from batchlane.routing.items import (
    KEY_ATTR,
    PARTITION,
    QUEUE_PREFIX,
    RULE_PREFIX,
    SORT_ATTR,
    MalformedItem,
    capabilities_from_item,
    items_from_table,
    queue_from_item,
    queue_item,
    rule_from_item,
    rule_item,
    table_from_items,
)

QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")  # AWS Batch job queue names
RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# --- reading sources ---------------------------------------------------------------------------


def parse_routing_file(text: str, source: str, fmt: str = "auto") -> RoutingTable:
    """A FlyteAdmin config (``queues:`` anywhere in the document) or an ``export --format items`` list."""
    import yaml

    from batchlane.flyteadmin import FlyteConfigError, parse_flyte_config

    if fmt in ("auto", "items"):
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"{source}: not valid YAML or JSON: {' '.join(str(exc).split())}", USAGE) from None
        if isinstance(document, list):
            return _table_from_item_list(document, source)
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


def _store(ctx: Context):
    from batchlane.client.routing import RoutingTableStore

    return RoutingTableStore(ctx.resource("dynamodb"), ctx.table_name("routing"))


def _read_table(ctx: Context, store) -> tuple[RoutingTable, dict[str, dict[str, Any]]]:
    """The routing table as the launcher sees it; malformed items are warnings, never fatal."""
    items = store.items()
    table, problems = table_from_items(items)
    for problem in problems:
        ctx.warn(f"skipping malformed routing item {problem}")
    return table, items


# --- presenting ----------------------------------------------------------------------------------


def _scope(rule: Rule) -> str:
    named = [f"{f}={getattr(rule, f)}" for f in ("project", "domain", "workflow") if getattr(rule, f) is not None]
    return " ".join(named) or "(any launch)"


def _precedence(rule: Rule) -> tuple:
    """Sort key: the first rule in this order that applies to a launch is the one that wins."""
    return tuple(not s for s in rule.specificity), rule.id


def _queue_doc(queue: Queue) -> dict[str, Any]:
    doc = {"name": queue.name, "attributes": list(queue.attributes), "weight": queue.weight, "enabled": queue.enabled}
    if queue.capabilities != UNKNOWN:
        doc["capabilities"] = queue.capabilities.as_dict()
    if queue.unhealthy_until is not None:
        doc.update(unhealthyUntil=queue.unhealthy_until, blockedReason=queue.blocked_reason)
    return doc


def _rule_doc(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "project": rule.project,
        "domain": rule.domain,
        "workflow": rule.workflow,
        "tags": list(rule.tags),
    }


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def routing_warnings(table: RoutingTable) -> list[str]:
    """Things that are valid but probably not meant: rules that can never route anything."""
    warnings: list[str] = []
    for rule in sorted(table.rules, key=_precedence):
        if not any(q.eligible and tag in q.attributes for tag in rule.tags for q in table.queues):
            warnings.append(
                f"rule {rule.id} ({_scope(rule)}): no enabled queue with weight > 0 carries any of its "
                f"tags [{', '.join(rule.tags)}]; launches it matches are rejected"
            )
    scopes: dict[tuple, str] = {}
    for rule in sorted(table.rules, key=lambda r: r.id):
        scope = (rule.project, rule.domain, rule.workflow)
        if scope in scopes:
            warnings.append(
                f"rule {rule.id} names the same {_scope(rule)} as rule {scopes[scope]}, "
                f"which wins the tie (its id sorts first): rule {rule.id} never applies"
            )
        else:
            scopes[scope] = rule.id
    return warnings


def _warn_all(ctx: Context, table: RoutingTable) -> list[str]:
    warnings = routing_warnings(table)
    for warning in warnings:
        ctx.warn(warning)
    return warnings


# --- explain -----------------------------------------------------------------------------------------

FLYTEADMIN = "flyteadmin"
MODES = ("documented", FLYTEADMIN)


def in_mode(table: RoutingTable, mode: str) -> RoutingTable:
    """``flyteadmin``: the rules as FlyteAdmin's allocator reads them (domain only, last wins)."""
    from batchlane.flyteadmin import flyteadmin_table

    return flyteadmin_table(table) if mode == FLYTEADMIN else table


def cmd_explain(args: argparse.Namespace, ctx: Context) -> int:
    if args.config:
        table = parse_routing_file(read_text(args.config), args.config)  # offline: no AWS at all
        source = f"config {args.config} (offline)"
    else:
        store = _store(ctx)
        table, items = _read_table(ctx, store)
        source = f"table {store.name} ({ctx.where})"
        if not items:
            ctx.warn(f"table {store.name} has no routing items (load some with: batchlane routes import FILE)")
    table = in_mode(table, args.mode)
    source += f", {args.mode} mode" if args.mode == FLYTEADMIN else ""
    key = args.launch_id or SAMPLE_LAUNCH_ID
    needs = Needs(
        platform=args.platform,
        vcpu=args.vcpu if args.vcpu is not None else ANY_JOB.vcpu,
        memory=args.memory if args.memory is not None else ANY_JOB.memory,
        gpu=args.gpu or 0,
    )
    # Health (queues marked unhealthy by Queue Blocked events) as the launcher sees it now.
    decision = decide(table, args.project, args.domain, args.workflow, key, needs=needs, now=time.time())
    queue, hint_reason = decision.with_hint(args.queue_hint)  # what the launcher would do with the hint
    if args.json:
        document = decision.as_dict()
        document["launch"] = {
            "project": args.project,
            "domain": args.domain,
            "workflow": args.workflow,
            "launchId": key,
            "sampleLaunchId": args.launch_id is None,
        }
        if args.queue_hint:
            document["queueHint"] = {"hint": args.queue_hint, "queue": queue, "reason": hint_reason}
        document["source"] = source
        ctx.emit_json(document)
    else:
        ctx.lines(
            decision_lines(
                decision,
                project=args.project,
                domain=args.domain,
                workflow=args.workflow,
                launch_id=key,
                sample=args.launch_id is None,
                source=source,
            )
        )
        if hint_reason:
            ctx.out(f"Queue hint: {hint_reason}; the launch goes to {queue or 'no queue'}")
    return OK if decision.matched else NOT_FOUND


# --- import / export -------------------------------------------------------------------------------


def _normalized(sk: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """An existing item in the codec's canonical form, or None when it is malformed."""
    try:
        if sk.startswith(QUEUE_PREFIX):
            return queue_item(queue_from_item(sk[len(QUEUE_PREFIX) :], item))
        if sk.startswith(RULE_PREFIX):
            return rule_item(rule_from_item(sk[len(RULE_PREFIX) :], item))
    except MalformedItem:
        return None
    return None


def _changes(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "replaces a malformed item"
    order = ["project", "domain", "workflow", "tags", "attributes", "weight", "enabled", "capabilities"]
    fields = [f for f in order if f in old or f in new]
    return ", ".join(f"{f} {_show(old.get(f))} -> {_show(new.get(f))}" for f in fields if old.get(f) != new.get(f))


# Kept from the existing item on a write, and not a change by themselves.
_NOT_COMPARED = ("description", "unhealthyUntil", "blockedReason")


def _keep_operator_fields(existing: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """What a file without them must not erase: the description, the aggregator's health mark, and
    capabilities (a FlyteAdmin file has none; the table's came from the deployment or an operator)."""
    kept = {k: existing[k] for k in _NOT_COMPARED if k in existing}
    if item[SORT_ATTR].startswith(QUEUE_PREFIX) and "capabilities" not in item and "capabilities" in existing:
        kept["capabilities"] = existing["capabilities"]
    return {**item, **kept}


def _plan(existing: dict[str, dict[str, Any]], wanted: dict[str, dict[str, Any]], replace: bool) -> dict[str, list]:
    plan: dict[str, list] = {"added": [], "updated": [], "unchanged": [], "deleted": [], "kept": []}
    for sk, item in wanted.items():
        if sk not in existing:
            plan["added"].append((sk, item, describe_item(item)))
            continue
        old = _normalized(sk, existing[sk])
        item = _keep_operator_fields(existing[sk], item)
        if old == {k: v for k, v in item.items() if k not in _NOT_COMPARED}:
            plan["unchanged"].append((sk, existing[sk], ""))
            continue
        plan["updated"].append((sk, item, _changes(old, item)))
    for sk in sorted(set(existing) - set(wanted)):
        if replace:
            plan["deleted"].append((sk, None, "not in the file"))
        else:
            plan["kept"].append((sk, existing[sk], "not in the file; --replace deletes it"))
    return plan


def diff_lines(table: RoutingTable) -> list[str]:
    """``routes import --diff``: every rule whose launch the two modes route differently."""
    from batchlane.flyteadmin import mode_differences

    differences = mode_differences(table, SAMPLE_LAUNCH_ID)
    lines = [
        f"{len(differences)} of {len(table.rules)} rules route differently in FlyteAdmin's mode "
        "(domain only, last matching rule wins) than in batchlane's (most specific rule wins):"
    ]
    for d in differences:
        lines.append(f"  {d.rule.describe()}")
        lines.append(f"    launch project={d.launch[0]} domain={d.launch[1]} workflow={d.launch[2]}")
        for mode, decision in (("documented", d.documented), (FLYTEADMIN, d.flyteadmin)):
            lines.append(f"    {mode:<10}  -> {decision.queue or 'no queue'} (tag {decision.tag or '-'})")
    return lines


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


def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    parsed = parse_routing_file(read_text(args.file), args.file, args.format)
    if args.diff:  # shows, writes nothing
        ctx.lines(diff_lines(parsed))
        return OK
    imported = in_mode(parsed, args.mode)
    check_queue_names(ctx, [q.name for q in imported.queues], args.allow_unknown_queues)
    wanted = {item[SORT_ATTR]: item for item in items_from_table(imported)}
    store = _store(ctx)
    existing = store.items()
    plan = _plan(existing, wanted, args.replace)
    if not args.dry_run:
        store.write(
            puts=[item for _, item, _ in plan["added"] + plan["updated"]], deletes=[sk for sk, _, _ in plan["deleted"]]
        )
    final = {sk: item for kind in ("added", "updated", "unchanged", "kept") for sk, item, _ in plan[kind]}
    result, problems = table_from_items(final)
    for problem in problems:
        ctx.warn(f"malformed routing item kept in the table (not in the file): {problem}")
    warnings = routing_warnings(result)
    if args.json:
        document = {"table": store.name, "file": args.file, "dryRun": args.dry_run, "replace": args.replace}
        document.update({kind: [sk for sk, _, _ in entries] for kind, entries in plan.items()})
        document["warnings"] = warnings + problems
        ctx.emit_json(document)
        for warning in warnings:
            ctx.warn(warning)
        return OK
    verb = "Would import" if args.dry_run else "Imported"
    ctx.out(
        f"{verb} {args.file} into table {store.name} ({ctx.where}): "
        f"{_count(len(imported.queues), 'queue')}, {_count(len(imported.rules), 'rule')}"
    )
    rows = [[kind, sk, note] for kind in ("added", "updated", "deleted", "kept") for sk, _, note in plan[kind]]
    if rows:
        for line in table_text(rows):
            ctx.out(line)
    counts = ", ".join(f"{len(plan[k])} {k}" for k in ("added", "updated", "deleted", "unchanged", "kept") if plan[k])
    ctx.out(counts.capitalize() + "." if counts else "Nothing to do: the file is empty and so is the table.")
    if args.dry_run:
        ctx.out("Dry run: nothing was written.")
    _warn_all(ctx, result)
    return OK


def flyte_yaml(table: RoutingTable, source: str) -> str:
    import yaml

    queues = []
    for q in table.queues:
        entry: dict[str, Any] = {"dynamic": q.name, "attributes": list(q.attributes)}
        if q.weight != 1:
            entry["weight"] = q.weight
        if not q.enabled:
            entry["enabled"] = False
        if q.capabilities != UNKNOWN:
            entry["capabilities"] = queue_item(q)["capabilities"]
        queues.append(entry)
    configs = []
    for rule in sorted(table.rules, key=lambda r: r.id):  # file order = tie-break order on import
        entry = {
            theirs: getattr(rule, ours)
            for ours, theirs in (("project", "project"), ("domain", "domain"), ("workflow", "workflowName"))
            if getattr(rule, ours) is not None
        }
        entry["tags"] = list(rule.tags)
        configs.append(entry)
    header = (
        f"# FlyteAdmin queue configuration, exported by batchlane from {source}.\n"
        "# workflowConfigs are in rule-id order (the tie-break order); `weight` and `enabled` are\n"
        "# batchlane extensions (FlyteAdmin does not know them), written only when not the default.\n"
    )
    body = yaml.safe_dump(
        {"queues": {"executionQueues": queues, "workflowConfigs": configs}}, sort_keys=False, default_flow_style=False
    )
    return header + body


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    store = _store(ctx)
    table, _ = _read_table(ctx, store)
    if args.format == "items":
        sys.stdout.write(json.dumps(items_from_table(table), indent=2) + "\n")
    else:
        sys.stdout.write(flyte_yaml(table, f"table {store.name}"))
    return OK


# --- list / set / delete ---------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    store = _store(ctx)
    items = store.items()
    table, problems = table_from_items(items)
    rules = sorted(table.rules, key=_precedence)
    warnings = routing_warnings(table)
    if args.json:
        ctx.emit_json(
            {
                "table": store.name,
                "queues": [_queue_doc(q) for q in table.queues],
                "rules": [_rule_doc(r) for r in rules],
                "problems": problems,
                "warnings": warnings,
            }
        )
        return OK
    ctx.out(f"Table {store.name} ({ctx.where})")
    ctx.out(f"Queues ({len(table.queues)}):")
    if table.queues:
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
            for q in table.queues
        ]
        for line in table_text(rows):
            ctx.out(line)
    ctx.out(f"Rules ({len(rules)}, most specific first: the first one that applies to a launch decides):")
    if rules:
        rows = [["ID", "PROJECT", "DOMAIN", "WORKFLOW", "TAGS"]]
        rows += [[r.id, r.project or "*", r.domain or "*", r.workflow or "*", ",".join(r.tags)] for r in rules]
        for line in table_text(rows):
            ctx.out(line)
    if not any(r.specificity == (False, False, False) for r in rules):
        ctx.out("No rule matches every launch: launches no rule applies to are rejected.")
    for problem in problems:
        ctx.warn(f"skipping malformed routing item {problem}")
    for warning in warnings:
        ctx.warn(warning)
    return OK


def _after_write(ctx: Context, store, json_out: bool, document: dict[str, Any], message: str) -> int:
    table, _ = table_from_items(store.items())
    warnings = routing_warnings(table)
    if json_out:
        document["warnings"] = warnings
        ctx.emit_json(document)
    else:
        ctx.out(message)
    for warning in warnings:
        ctx.warn(warning)
    return OK


def _put_changed(store, noun: str, name: str, item: dict[str, Any], existing: dict[str, Any] | None) -> tuple[str, str]:
    """Write ``item`` (keeping the existing item's description) unless the table already holds it;
    the action (created, updated, unchanged) and the line that says it."""
    old = _normalized(item[SORT_ATTR], existing) if existing is not None else None
    written = {**item, **{k: existing[k] for k in _NOT_COMPARED if existing and k in existing}}
    if existing is None:
        action, message = "created", f"Created {noun} {name}: {describe_item(written)}"
    elif old == item:
        action, message = "unchanged", f"{noun.capitalize()} {name} unchanged: {describe_item(written)}"
    else:
        action, message = "updated", f"Updated {noun} {name}: {_changes(old, written)}"
    if action != "unchanged":
        store.put(written)
    return action, message


def cmd_set_queue(args: argparse.Namespace, ctx: Context) -> int:
    if not QUEUE_NAME_RE.match(args.name):
        raise CliError(
            f"queue name {args.name!r} is not an AWS Batch job queue name "
            "(letters, digits, - and _, at most 128, starting with a letter or digit)",
            USAGE,
        )
    store = _store(ctx)
    sk = QUEUE_PREFIX + args.name
    existing = store.items().get(sk)
    old = _normalized(sk, existing) if existing is not None else None
    if old is None and args.attributes is None:
        state = "is malformed" if existing is not None else "does not exist yet"
        raise CliError(f"queue {args.name} {state}: give --attributes", USAGE)
    base = old or {"attributes": [], "weight": 1, "enabled": True}
    check_queue_names(ctx, [args.name], args.allow_unknown_queues)
    queue = Queue(
        args.name,
        tuple(args.attributes) if args.attributes is not None else tuple(base["attributes"]),
        args.weight if args.weight is not None else base["weight"],
        args.enabled if args.enabled is not None else base["enabled"],
        capabilities_from_item(base.get("capabilities")),
    )
    action, message = _put_changed(store, "queue", args.name, queue_item(queue), existing)
    return _after_write(ctx, store, args.json, {"action": action, "queue": _queue_doc(queue)}, message)


def cmd_set_rule(args: argparse.Namespace, ctx: Context) -> int:
    if not RULE_ID_RE.match(args.id):
        raise CliError(
            f"rule id {args.id!r}: use letters, digits, '.', '-' and '_' (at most 64); "
            "ids also break ties between equally specific rules (the lowest sorts first)",
            USAGE,
        )
    for field in ("project", "domain", "workflow"):
        if getattr(args, field) is not None and not getattr(args, field).strip():
            raise CliError(f"--{field} must not be empty (leave it out to match any {field})", USAGE)
    store = _store(ctx)
    sk = RULE_PREFIX + args.id
    existing = store.items().get(sk)
    rule = Rule(args.id, tuple(args.tags), project=args.project, domain=args.domain, workflow=args.workflow)
    action, message = _put_changed(store, "rule", args.id, rule_item(rule), existing)
    return _after_write(ctx, store, args.json, {"action": action, "rule": _rule_doc(rule)}, message)


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    store = _store(ctx)
    sk = (QUEUE_PREFIX if args.kind == "queue" else RULE_PREFIX) + args.name
    if not store.delete(sk):
        raise CliError(f"no {args.kind} {args.name!r} in table {store.name}", NOT_FOUND)
    return _after_write(
        ctx,
        store,
        args.json,
        {"action": "deleted", "kind": args.kind, "name": args.name},
        f"Deleted {args.kind} {args.name}",
    )


# --- registration ------------------------------------------------------------------------------------


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _positive_whole(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number > 0, got {text!r}")
    return int(text)


EXPLAIN_HELP = """\
Shows the rule that applies (the most specific: workflow > project > domain; ties go to the
lowest rule id, i.e. file order for imported configs), the tag chosen (the first one an enabled
queue carries), the candidate queues with their shares, and the queue. When several queues carry
the tag, the choice depends on the launch id (weighted, repeatable): without --launch-id a fixed
sample id is used. --platform, --vcpu, --memory and --gpu give what the job needs: queues whose
capabilities cannot run it are passed over (with the reason), as are disabled ones; queues marked
unhealthy (Queue Blocked) are avoided while a healthy one shares the tag.
Exit code 1 when no queue matches (the launch would be rejected).
"""


def register(subparsers) -> None:
    routes = add_group(
        subparsers,
        "routes",
        help="see, check and edit queue routing",
        description="Queue routing: which AWS Batch job queue a launch goes to.",
    )

    p = add_command(
        routes,
        "explain",
        cmd_explain,
        help="show which queue a launch goes to, and why",
        description="Explain the routing decision for one launch.\n\n" + EXPLAIN_HELP,
    )
    p.add_argument("--project", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--workflow", required=True)
    p.add_argument("--launch-id", metavar="ID", help=f"the launch id (default: the sample id {SAMPLE_LAUNCH_ID!r})")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="evaluate this FlyteAdmin config (or items export) offline, without AWS, instead of the table",
    )
    p.add_argument("--platform", choices=PLATFORMS, help="the job's platform (default: its queue's)")
    p.add_argument("--vcpu", type=_positive_number, metavar="N", help=f"vCPUs per job (default {ANY_JOB.vcpu:g})")
    p.add_argument("--memory", type=_positive_whole, metavar="MIB", help=f"MiB per job (default {ANY_JOB.memory})")
    p.add_argument("--gpu", type=non_negative_int, metavar="N", help="GPUs per job (default 0)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="documented",
        help="documented (default: most specific rule wins) or flyteadmin (FlyteAdmin's allocator: "
        "domain only, last matching rule wins)",
    )
    p.add_argument(
        "--queue-hint",
        metavar="QUEUE",
        help="the launch's queueHint (e.g. FlyteAdmin's child_queue): show whether routing honours it",
    )

    p = add_command(
        routes,
        "import",
        cmd_import,
        help="load a FlyteAdmin queues config into the routing table",
        description="Load a FlyteAdmin config's `queues:` block (top level or nested, e.g. in Helm values),\n"
        "or an `export --format items` file, into the routing table. Rules from a FlyteAdmin\n"
        "file get ids 0001, 0002, ... in file order (the tie-break order).",
    )
    p.add_argument("file", metavar="FILE", help="YAML file, or - for standard input")
    p.add_argument("--replace", action="store_true", help="delete routing items that are not in the file")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument(
        "--format",
        choices=("auto", "flyte", "items"),
        default="auto",
        help="input format (default: auto, an items list or a FlyteAdmin config)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default="documented",
        help="flyteadmin: import rules that decide as FlyteAdmin's allocator does (domain only, last wins)",
    )
    p.add_argument(
        "--diff",
        action="store_true",
        help="print, for every rule, where the flyteadmin and documented modes disagree; write nothing",
    )
    p.add_argument(
        "--allow-unknown-queues",
        action="store_true",
        help="write queue names the deployment does not have (its jobQueues and extraJobQueueArns)",
    )

    p = add_command(
        routes,
        "export",
        cmd_export,
        help="print the routing table as a FlyteAdmin config or items",
        description="Print the routing table: `flyte` (default) is a FlyteAdmin `queues:` block that\n"
        "`routes import` reads back (rules renumbered in tie-break order); `items` is the\n"
        "DynamoDB items as JSON, rule ids kept.",
        json_output=False,
    )
    p.add_argument("--format", choices=("flyte", "items"), default="flyte")

    add_command(routes, "list", cmd_list, help="list queues and rules (rules in precedence order)")

    setter = add_group(
        routes,
        "set",
        help="create or change a queue or a rule",
        description="batchlane routes set queue NAME ... | set rule ID ...",
    )
    p = add_command(
        setter,
        "queue",
        cmd_set_queue,
        help="create or change a queue",
        description="Create a queue (--attributes required) or change the options given.\n"
        "Weight 0 drains a queue; --disabled takes it out of routing.",
    )
    p.add_argument("name", metavar="NAME", help="the AWS Batch job queue name")
    p.add_argument("--attributes", type=csv_list, metavar="A,B", help="the tags this queue carries")
    p.add_argument(
        "--weight", type=non_negative_int, metavar="N", help="share of launches among queues with the same tag"
    )
    state = p.add_mutually_exclusive_group()
    state.add_argument("--enabled", dest="enabled", action="store_const", const=True, default=None)
    state.add_argument("--disabled", dest="enabled", action="store_const", const=False)
    p.add_argument(
        "--allow-unknown-queues",
        action="store_true",
        help="write queue names the deployment does not have (its jobQueues and extraJobQueueArns)",
    )

    p = add_command(
        setter,
        "rule",
        cmd_set_rule,
        help="create or replace a rule",
        description="Create or replace rule ID. A field left out matches any value; the most specific\n"
        "applicable rule wins (workflow > project > domain), ties go to the lowest id.",
    )
    p.add_argument("id", metavar="ID")
    p.add_argument("--tags", type=csv_list, required=True, metavar="A,B", help="tags to try, in order")
    p.add_argument("--project")
    p.add_argument("--domain")
    p.add_argument("--workflow")

    p = add_command(routes, "delete", cmd_delete, help="delete a queue or a rule")
    p.add_argument("kind", choices=("queue", "rule"))
    p.add_argument("name", metavar="NAME", help="queue name or rule id")
