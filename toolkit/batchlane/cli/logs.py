"""``batchlane logs``: a child's CloudWatch log stream, as Batch's events named it.

    batchlane logs LAUNCH_ID [--child N] [--attempt K] [--follow] [--json]

The group and stream come from the launch's status record (``batchlane.client.logs``), so this
works against a deployment and the sandbox alike. ``--follow`` prints new lines as they come until
the child has ended and its stream has nothing more; without ``--attempt`` it moves on to a retry's
stream when one starts.

Exit codes: 0 ok, 1 no such launch or child, or no log stream yet, 2 usage, 3 AWS error.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from batchlane.cli.common import (
    NOT_FOUND,
    OK,
    USAGE,
    CliError,
    Context,
    add_command,
    add_team_argument,
    non_negative_int,
    positive_seconds,
)


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "logs",
        _run,
        help="print a child's CloudWatch log stream (--follow while it runs)",
        description=(
            "Print the log lines of one attempt of one child of a launch, from the log group and stream\n"
            "Batch's events named (the status record's). Works against a deployment and the sandbox.\n\n"
            "exit codes: 0 ok, 1 no such launch or child or no log stream yet, 2 usage, 3 AWS error"
        ),
    )
    p.add_argument("launch_id", metavar="LAUNCH_ID", help="the launch")
    add_team_argument(p)
    p.add_argument("--child", type=non_negative_int, default=0, metavar="N", help="the child's array index (default 0)")
    p.add_argument(
        "--attempt",
        type=non_negative_int,
        default=None,
        metavar="K",
        help="the attempt, 0-based as in the log links (default: the latest with a stream)",
    )
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the child has ended")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time (UTC)")
    p.add_argument(
        "--poll",
        type=positive_seconds,
        default=2.0,
        metavar="SECONDS",
        help="--follow: seconds between reads (default 2)",
    )


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.logs import NoLogStream, attempt_log, read_forward
    from batchlane.client.records import Executions
    from batchlane.client.status import child_item
    from batchlane.status.states import ChildState

    launch_id = args.launch_id.strip()
    if not launch_id:
        raise CliError("LAUNCH_ID must not be empty", USAGE)
    executions = Executions(ctx.client("dynamodb"), ctx.table_name("executions"), ctx.team(args.team))
    logs = ctx.client("logs")
    record, item = child_item(executions, launch_id, args.child)
    if record is None:
        raise CliError(f"no launch {launch_id!r} in table {ctx.last_table}", NOT_FOUND)
    if args.child >= max(record.size, 1):
        raise CliError(f"launch {launch_id!r} has {record.size} children (indexes 0-{record.size - 1})", USAGE)
    current, token, printed, collected = None, None, 0, []
    while True:
        child = ChildState.from_item(item) if item is not None else None
        try:
            if child is None:
                raise NoLogStream(f"child {args.child} of launch {launch_id!r} has no Batch event yet")
            where = attempt_log(child, args.attempt, record.log_group)
        except NoLogStream as exc:
            if not args.follow or (child is not None and child.final):
                raise CliError(str(exc), NOT_FOUND) from None
            where = None
        if where is not None:
            if where != current:
                if current is not None:  # a retry started: the last lines of the attempt before it first
                    _print(ctx, args, current, read_forward(logs, current, token)[0])
                if args.follow:
                    _header(ctx, args, where)
                current, token = where, None
            events, token = read_forward(logs, where, token)
            printed += len(events)
            if args.json and not args.follow:
                collected += events
            else:
                _print(ctx, args, where, events)
        # The child's item was read before its stream: an ended child's lines are all in by now.
        if not args.follow or (child is not None and child.final and where is not None):
            break
        time.sleep(args.poll)
        _, item = child_item(executions, launch_id, args.child, record=record)
    if args.json and not args.follow and current is not None:
        ctx.emit_json({"launchId": launch_id, **current.as_json(), "events": collected})
    elif not args.json and printed == 0 and current is not None:
        ctx.warn(f"the stream {current.stream} of {current.group} has no lines (yet)")
    return OK


def _header(ctx: Context, args: argparse.Namespace, where) -> None:
    if args.json:
        return
    ctx.progress(True)(f"==> child {where.index}, attempt {where.attempt}: {where.group} {where.stream}")


def _print(ctx: Context, args: argparse.Namespace, where, events) -> None:
    for event in events:
        if args.json:
            ctx.out(json.dumps({**where.as_json(), **event}))
        elif args.timestamps and event.get("timestamp") is not None:
            stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ctx.out(f"{stamp[:-4]}Z {event['message']}")
        else:
            ctx.out(event["message"])
