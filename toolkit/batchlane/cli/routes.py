"""``batchlane routes``: see, check and edit queue routing (the routing table, or a FlyteAdmin file).

Routing decisions come from ``batchlane.routing.decide``, the same function the launcher runs;
item shapes from ``batchlane.routing.items``. Reading and planning are in ``routes_parse``, how
things are shown in ``routes_present``. Exit codes: ``batchlane.cli.common``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from batchlane.cli.common import (
    NOT_FOUND,
    OK,
    USAGE,
    CliError,
    Commands,
    Context,
    add_command,
    add_group,
    csv_list,
    non_negative_int,
    read_text,
)
from batchlane.cli.routes_parse import (
    QUEUE_NAME_RE,
    RULE_ID_RE,
    check_queue_names,
    normalized_item,
    parse_routing_file,
    plan_import,
    positive_number,
    positive_whole,
    put_changed,
    read_table,
    routing_store,
)
from batchlane.cli.routes_present import (
    FLYTEADMIN,
    MODES,
    count,
    diff_lines,
    plan_counts,
    plan_rows,
    precedence,
    queue_doc,
    queue_rows,
    routing_warnings,
    rule_doc,
    rule_rows,
)
from batchlane.client.render import decision_lines, table_text
from batchlane.client.routing import SAMPLE_LAUNCH_ID, RoutingTableStore
from batchlane.routing import Needs, RoutingTable, Rule, Scope, decide
from batchlane.routing.engine import ANY_JOB, PLATFORMS, Queue
from batchlane.routing.items import (
    QUEUE_PREFIX,
    RULE_PREFIX,
    SORT_ATTR,
    capabilities_from_item,
    items_from_table,
    queue_item,
    rule_item,
    table_from_items,
)
from batchlane.routing.scope import SCOPE_FIELDS


def _warn_all(ctx: Context, table: RoutingTable) -> list[str]:
    warnings = routing_warnings(table)
    for warning in warnings:
        ctx.warn(warning)
    return warnings


# --- explain -----------------------------------------------------------------------------------------


def in_mode(table: RoutingTable, mode: str) -> RoutingTable:
    """``flyteadmin``: the rules as FlyteAdmin's allocator reads them (domain only: the domain's
    last rule, else the last catch-all)."""
    from batchlane.flyteadmin import flyteadmin_table

    return flyteadmin_table(table) if mode == FLYTEADMIN else table


def _explained_table(args: argparse.Namespace, ctx: Context) -> tuple[RoutingTable, str]:
    """The table ``explain`` decides with (a file offline, or the routing table) and where it came from."""
    if args.config:
        table = parse_routing_file(read_text(args.config), args.config, args.format)  # offline: no AWS at all
        source = f"config {args.config} (offline)"
    else:
        store = routing_store(ctx)
        table, items = read_table(ctx, store)
        source = f"table {store.name} ({ctx.where})"
        if not items:
            ctx.warn(f"table {store.name} has no routing items (load some with: batchlane routes import FILE)")
    source += f", {args.mode} mode" if args.mode == FLYTEADMIN else ""
    return in_mode(table, args.mode), source


def cmd_explain(args: argparse.Namespace, ctx: Context) -> int:
    table, source = _explained_table(args, ctx)
    key = args.launch_id or SAMPLE_LAUNCH_ID
    launch = Scope(args.project, args.domain, args.workflow)
    needs = Needs(
        platform=args.platform,
        vcpu=args.vcpu if args.vcpu is not None else ANY_JOB.vcpu,
        memory=args.memory if args.memory is not None else ANY_JOB.memory,
        gpu=args.gpu or 0,
        share=args.share is not None,
    )
    # Health (queues marked unhealthy by Queue Blocked events) as the launcher sees it now.
    decision = decide(table, args.project, args.domain, args.workflow, key, needs=needs, now=time.time())
    queue, hint_reason = decision.with_hint(args.queue_hint)  # what the launcher would do with the hint
    if args.json:
        document = decision.as_dict()
        document["launch"] = {**launch.as_dict(), "launchId": key, "sampleLaunchId": args.launch_id is None}
        if args.queue_hint:
            document["queueHint"] = {"hint": args.queue_hint, "queue": queue, "reason": hint_reason}
        document["source"] = source
        ctx.emit_json(document)
    else:
        sample = args.launch_id is None
        ctx.lines(decision_lines(decision, launch=launch, launch_id=key, sample=sample, source=source))
        if hint_reason:
            ctx.out(f"Queue hint: {hint_reason}; the launch goes to {queue or 'no queue'}")
    return OK if decision.matched else NOT_FOUND


# --- import / export -------------------------------------------------------------------------------


def _report_import(
    args: argparse.Namespace, ctx: Context, store: RoutingTableStore, imported: RoutingTable, plan: dict[str, list]
) -> None:
    final = {sk: item for kind in ("added", "updated", "unchanged", "kept") for sk, item, _ in plan[kind]}
    result, problems = table_from_items(final)
    for problem in problems:
        ctx.warn(f"malformed routing item kept in the table (not in the file): {problem}")
    if args.json:
        document: dict[str, Any] = {
            "table": store.name,
            "file": args.file,
            "dryRun": args.dry_run,
            "replace": args.replace,
        }
        document.update({kind: [sk for sk, _, _ in entries] for kind, entries in plan.items()})
        warnings = routing_warnings(result)
        document["warnings"] = warnings + problems
        ctx.emit_json(document)
        for warning in warnings:
            ctx.warn(warning)
        return
    verb = "Would import" if args.dry_run else "Imported"
    ctx.out(
        f"{verb} {args.file} into table {store.name} ({ctx.where}): "
        f"{count(len(imported.queues), 'queue')}, {count(len(imported.rules), 'rule')}"
    )
    rows = plan_rows(plan)
    if rows:
        ctx.lines(table_text(rows))
    ctx.out(plan_counts(plan))
    if args.dry_run:
        ctx.out("Dry run: nothing was written.")
    _warn_all(ctx, result)


def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    parsed = parse_routing_file(read_text(args.file), args.file, args.format)
    if args.diff:  # shows, writes nothing
        ctx.lines(diff_lines(parsed))
        return OK
    imported = in_mode(parsed, args.mode)
    check_queue_names(ctx, [q.name for q in imported.queues], args.allow_unknown_queues)
    wanted = {item[SORT_ATTR]: item for item in items_from_table(imported)}
    store = routing_store(ctx)
    plan = plan_import(store.items(), wanted, args.replace)
    if not args.dry_run:
        store.write(
            puts=[item for _, item, _ in plan["added"] + plan["updated"]], deletes=[sk for sk, _, _ in plan["deleted"]]
        )
    _report_import(args, ctx, store, imported, plan)
    return OK


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.flyteadmin import flyte_yaml

    store = routing_store(ctx)
    table, _ = read_table(ctx, store)
    if args.format == "items" or args.json:
        sys.stdout.write(json.dumps(items_from_table(table), indent=2) + "\n")
    else:
        sys.stdout.write(flyte_yaml(table, f"table {store.name}"))
    return OK


# --- list / set / delete ---------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    store = routing_store(ctx)
    table, problems = table_from_items(store.items())
    rules = sorted(table.rules, key=precedence)
    warnings = routing_warnings(table)
    if args.json:
        ctx.emit_json(
            {
                "table": store.name,
                "queues": [queue_doc(q) for q in table.queues],
                "rules": [rule_doc(r) for r in rules],
                "problems": problems,
                "warnings": warnings,
            }
        )
        return OK
    ctx.out(f"Table {store.name} ({ctx.where})")
    ctx.out(f"Queues ({len(table.queues)}):")
    if table.queues:
        ctx.lines(table_text(queue_rows(table.queues)))
    ctx.out(f"Rules ({len(rules)}, most specific first: the first one that applies to a launch decides):")
    if rules:
        ctx.lines(table_text(rule_rows(rules)))
    if not any(r.scope.everywhere for r in rules):
        ctx.out("No rule matches every launch: launches no rule applies to are rejected.")
    for problem in problems:
        ctx.warn(f"skipping malformed routing item {problem}")
    for warning in warnings:
        ctx.warn(warning)
    return OK


def _after_write(ctx: Context, store: RoutingTableStore, json_out: bool, document: dict[str, Any], message: str) -> int:
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


def cmd_set_queue(args: argparse.Namespace, ctx: Context) -> int:
    if not QUEUE_NAME_RE.match(args.name):
        raise CliError(
            f"queue name {args.name!r} is not an AWS Batch job queue name "
            "(letters, digits, - and _, at most 128, starting with a letter or digit)",
            USAGE,
        )
    store = routing_store(ctx)
    sk = QUEUE_PREFIX + args.name
    existing = store.items().get(sk)
    old = normalized_item(sk, existing) if existing is not None else None
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
    action, message = put_changed(store, "queue", args.name, queue_item(queue), existing)
    return _after_write(ctx, store, args.json, {"action": action, "queue": queue_doc(queue)}, message)


def cmd_set_rule(args: argparse.Namespace, ctx: Context) -> int:
    if not RULE_ID_RE.match(args.id):
        raise CliError(
            f"rule id {args.id!r}: use letters, digits, '.', '-' and '_' (at most 64); "
            "ids also break ties between equally specific rules (the lowest sorts first)",
            USAGE,
        )
    scope = Scope.of(vars(args))
    for field, value in scope.named().items():
        if not value.strip():
            raise CliError(f"--{field} must not be empty (leave it out to match any {field})", USAGE)
    store = routing_store(ctx)
    existing = store.items().get(RULE_PREFIX + args.id)
    rule = Rule(args.id, tuple(args.tags), scope)
    action, message = put_changed(store, "rule", args.id, rule_item(rule), existing)
    return _after_write(ctx, store, args.json, {"action": action, "rule": rule_doc(rule)}, message)


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    store = routing_store(ctx)
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


ALLOW_UNKNOWN_QUEUES_HELP = "write queue names the deployment does not have (its jobQueues and extraJobQueueArns)"


def _register_explain(routes: Commands) -> None:
    p = add_command(
        routes,
        "explain",
        cmd_explain,
        help="show which queue a launch goes to, and why",
        description="Explain the routing decision for one launch.\n\n" + EXPLAIN_HELP,
    )
    for field in SCOPE_FIELDS:
        p.add_argument(f"--{field}", required=True, help=f"the launch's {field}")
    p.add_argument("--launch-id", metavar="ID", help=f"the launch id (default: the sample id {SAMPLE_LAUNCH_ID!r})")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="evaluate this FlyteAdmin config (or items export) offline, without AWS, instead of the table",
    )
    add_format_argument(p, "--config's format")
    p.add_argument("--platform", choices=PLATFORMS, help="the job's platform (default: its queue's)")
    p.add_argument("--vcpu", type=positive_number, metavar="N", help=f"vCPUs per job (default {ANY_JOB.vcpu:g})")
    p.add_argument("--memory", type=positive_whole, metavar="MIB", help=f"MiB per job (default {ANY_JOB.memory})")
    p.add_argument("--gpu", type=non_negative_int, metavar="N", help="GPUs per job (default 0)")
    p.add_argument("--share", metavar="ID", help="the launch's shareIdentifier (fair-share queues need one)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="documented",
        help="documented (default: most specific rule wins) or flyteadmin (FlyteAdmin's allocator: "
        "domain only: the last rule of the domain, else the last catch-all)",
    )
    p.add_argument(
        "--queue-hint",
        metavar="QUEUE",
        help="the launch's queueHint (e.g. FlyteAdmin's child_queue): show whether routing honours it",
    )


def add_format_argument(p, what: str) -> None:
    p.add_argument(
        "--format",
        choices=("auto", "flyte", "items"),
        default="auto",
        help=f"{what} (default: auto, an items list or a FlyteAdmin config, one or several YAML documents)",
    )


def _register_import(routes: Commands) -> None:
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
    add_format_argument(p, "input format")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="documented",
        help="flyteadmin: import rules that decide as FlyteAdmin's allocator does "
        "(domain only: the domain's last rule, else the last catch-all)",
    )
    p.add_argument(
        "--diff",
        action="store_true",
        help="print, for every rule, where the flyteadmin and documented modes disagree; write nothing",
    )
    p.add_argument("--allow-unknown-queues", action="store_true", help=ALLOW_UNKNOWN_QUEUES_HELP)


def _register_export_and_list(routes: Commands) -> None:
    p = add_command(
        routes,
        "export",
        cmd_export,
        help="print the routing table as a FlyteAdmin config or items",
        description="Print the routing table: `flyte` (default) is a FlyteAdmin `queues:` block that\n"
        "`routes import` reads back (rules renumbered in tie-break order); `items` is the\n"
        "DynamoDB items as JSON, rule ids kept (--json: the same as --format items).",
    )
    p.add_argument(
        "--format", choices=("flyte", "items"), default="flyte", help="flyte: a queues: block; items: JSON items"
    )
    add_command(routes, "list", cmd_list, help="list queues and rules (rules in precedence order)")


def _register_set_queue(setter: Commands) -> None:
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
    state.add_argument(
        "--enabled", dest="enabled", action="store_const", const=True, default=None, help="routing may use it"
    )
    state.add_argument("--disabled", dest="enabled", action="store_const", const=False, help="routing passes it over")
    p.add_argument("--allow-unknown-queues", action="store_true", help=ALLOW_UNKNOWN_QUEUES_HELP)


def _register_set_rule(setter: Commands) -> None:
    p = add_command(
        setter,
        "rule",
        cmd_set_rule,
        help="create or replace a rule",
        description="Create or replace rule ID. A field left out matches any value; the most specific\n"
        "applicable rule wins (workflow > project > domain), ties go to the lowest id.",
    )
    p.add_argument("id", metavar="ID", help="the rule's id (set again: replaced)")
    p.add_argument("--tags", type=csv_list, required=True, metavar="A,B", help="tags to try, in order")
    for field in SCOPE_FIELDS:
        p.add_argument(f"--{field}", help=f"the {field} it applies to (default: any)")


def register(subparsers: Commands) -> None:
    routes = add_group(
        subparsers,
        "routes",
        help="see, check and edit queue routing",
        description="Queue routing: which AWS Batch job queue a launch goes to.",
    )
    _register_explain(routes)
    _register_import(routes)
    _register_export_and_list(routes)
    setter = add_group(
        routes,
        "set",
        help="create or change a queue or a rule",
        description="batchlane routes set queue NAME ... | set rule ID ...",
    )
    _register_set_queue(setter)
    _register_set_rule(setter)
    p = add_command(routes, "delete", cmd_delete, help="delete a queue or a rule")
    p.add_argument("kind", choices=("queue", "rule"), help="what to delete")
    p.add_argument("name", metavar="NAME", help="queue name or rule id")
