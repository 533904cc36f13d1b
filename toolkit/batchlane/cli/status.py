"""``batchlane status``: where a launch stands, with a row and log links per child.

* ``batchlane status LAUNCH_ID [--json]`` reads the launch's items from the executions table
  (the deployment's, or ``--table``) and, once the launch is finished, its assembled outputs from S3.
  A launch of more than ``FULL_VIEW_MAX`` children is shown as its summary and a first page.
* ``--limit K``, ``--after N``, ``--failed``, ``--child N`` page children instead (``batchlane.client.status``:
  the summary in one BatchGetItem, then paged Queries of child items; never a whole-partition read).
* ``batchlane status replay EVENTS_FILE [--size N] [--min-success-ratio R] [--json]`` folds a file
  of raw AWS Batch events (one EventBridge event per line, as an archive or a DLQ holds them)
  offline with the join the aggregator applies (``fold_events`` over ``merge_child``): no AWS call at all.

The launch is read through ``batchlane.client`` and its document shaped by ``batchlane.client.view``,
as the sandbox does. Exit codes:
``batchlane.cli.common`` (1: no such launch, or no usable event in the file).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from batchlane.cli.common import (
    NOT_FOUND,
    OK,
    USAGE,
    CliError,
    Context,
    add_command,
    add_team_argument,
    min_success_ratio,
    non_negative_int,
    read_text,
)
from batchlane.client.render import status_lines

REPLAY = "replay"
FULL_VIEW_MAX = 1000  # children read in one go by a plain `batchlane status ID`; beyond it, pages
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def limit_arg(text: str) -> int:
    number = non_negative_int(text)
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return number


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "status",
        _run,
        help="show a launch's status, or replay a file of AWS Batch events offline",
        description=(
            "batchlane status LAUNCH_ID [--json]\n"
            "    phase, counts, a row per child with its log links, outputs when finished\n"
            f"    (beyond {FULL_VIEW_MAX} children: the summary and the first page of children)\n"
            "batchlane status LAUNCH_ID [--failed] [--limit K] [--after N] [--json]\n"
            "    the summary and a page of children (only the failed ones: --failed), from index N+1;\n"
            "    the last line gives the command for the next page\n"
            "batchlane status LAUNCH_ID --child N [--json]\n"
            "    one child: every attempt with its exit code, reasons and log link, its outputs location\n"
            "batchlane status replay EVENTS_FILE [--size N] [--min-success-ratio R] [--json]\n"
            "    fold raw Batch events (one EventBridge event per line, e.g. an archive or DLQ dump)\n"
            "    offline with the aggregator's join; needs no AWS"
        ),
    )
    parser.add_argument("target", metavar="LAUNCH_ID|replay", help="a launch id, or 'replay'")
    parser.add_argument("events_file", metavar="EVENTS_FILE", nargs="?", help="replay: the events file ('-': stdin)")
    parser.add_argument(
        "--size", type=non_negative_int, default=None, help="replay: children of the launch (default: from the events)"
    )
    parser.add_argument(
        "--min-success-ratio",
        type=min_success_ratio,
        default=None,
        metavar="R",
        help="replay: Flyte's minSuccessRatio, 0..1 (default 1)",
    )
    parser.add_argument(
        "--job-id", default=None, help="replay: fold this Batch job's events (default: the first one's)"
    )
    add_team_argument(parser)
    parser.add_argument("--failed", action="store_true", help="only the failed children, with reasons and log links")
    parser.add_argument("--child", type=non_negative_int, default=None, metavar="N", help="one child, every attempt")
    parser.add_argument(
        "--limit",
        type=limit_arg,
        default=None,
        metavar="K",
        help=f"children per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
    )
    parser.add_argument(
        "--after",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="the page after child index N (the last line of a page names it)",
    )


def _run(args: argparse.Namespace, ctx: Context) -> int:
    if args.target == REPLAY:
        if not args.events_file:
            raise CliError("status replay needs an EVENTS_FILE (see batchlane status --help)", USAGE)
        return _replay(args, ctx)
    if args.events_file or args.size is not None or args.min_success_ratio is not None or args.job_id:
        raise CliError("EVENTS_FILE, --size, --min-success-ratio and --job-id go with 'status replay' only", USAGE)
    return _show(args, ctx)


def _paged(args: argparse.Namespace) -> bool:
    if args.child is not None and (args.failed or args.limit is not None or args.after is not None):
        raise CliError("--child shows one child: it goes without --failed, --limit and --after", USAGE)
    return args.failed or args.child is not None or args.limit is not None or args.after is not None


# --- a stored launch -----------------------------------------------------------------------------


def _show(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.records import Executions
    from batchlane.client.status import launch_summary

    executions = Executions(ctx.client("dynamodb"), ctx.table_name("executions"), ctx.team(args.team))
    paged = _paged(args)
    summary = launch_summary(executions, args.target)
    if summary.record is None:
        _no_launch(args, ctx, summary)
    if args.child is not None:
        return _one_child(args, ctx, executions, summary)
    if paged or summary.size > FULL_VIEW_MAX:
        return _page(args, ctx, executions, summary)
    from batchlane.client.outputs import read_outputs

    document = executions.status(args.target).document
    if document is None:  # its record went (expired) since the summary was read
        _no_launch(args, ctx, summary)
    if document.get("outputsUri"):
        document["outputs"] = read_outputs(ctx.client("s3"), document["outputsUri"], ctx.warn)
    _emit(args, ctx, document)
    return OK


def _page(args: argparse.Namespace, ctx: Context, executions, summary) -> int:
    """The summary and one page of children (the failed ones with ``--failed``)."""
    from batchlane.client.render import page_lines
    from batchlane.client.status import failed_page, read_children

    limit = args.limit or DEFAULT_LIMIT
    if args.failed:
        page = failed_page(executions, args.target, limit=limit, after=args.after, summary=summary)
    else:
        page = read_children(executions, args.target, limit=limit, after=args.after, record=summary.record)
    next_command = (
        None
        if page.after is None
        else " ".join(
            ["batchlane status", args.target]
            + (["--failed"] if args.failed else [])
            + ["--after", str(page.after)]
            + ([f"--limit {args.limit}"] if args.limit else [])
        )
    )
    if args.json:
        ctx.emit_json(
            {
                **summary.as_json(),
                "children": page.children,
                "after": page.after,
                "failedOnly": args.failed,
                "next": next_command,
            }
        )
    else:
        ctx.lines(
            page_lines(
                summary.as_json(), page.children, failed=args.failed, after=args.after, next_command=next_command
            )
        )
    return OK


def _one_child(args: argparse.Namespace, ctx: Context, executions, summary) -> int:
    from batchlane.client.render import child_lines
    from batchlane.client.status import child_detail

    if args.child >= max(summary.size, 1):
        raise CliError(f"launch {args.target!r} has {summary.size} children (indexes 0-{summary.size - 1})", USAGE)
    child = child_detail(executions, args.target, args.child, record=summary.record)
    if child is None:
        raise CliError(f"child {args.child} of launch {args.target!r} has no Batch event yet", NOT_FOUND)
    if args.json:
        ctx.emit_json({"launchId": args.target, "phase": summary.phase, "child": child})
    else:
        ctx.lines(child_lines(args.target, child))
    return OK


def _no_launch(args: argparse.Namespace, ctx: Context, summary) -> NoReturn:
    """No launch record: a rejected launch is shown with its problems (its ``rejection`` item)."""
    from batchlane.client.render import rejected_lines

    if summary.phase != "rejected":
        raise CliError(f"no launch {args.target!r} in table {ctx.last_table}", NOT_FOUND)
    if args.json:
        ctx.emit_json(summary.as_json())
    else:
        ctx.lines(rejected_lines(args.target, summary.problems))
    raise CliError(f"launch {args.target!r} was rejected", NOT_FOUND)


# --- replay ----------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.view import replay_document

    document, tally = replay_document(
        read_text(args.events_file).splitlines(),
        size=args.size or None,
        min_success_ratio=args.min_success_ratio,
        job_id=args.job_id,
        warn=ctx.warn,
    )
    if tally["malformed"]:
        print(f"batchlane: {tally['malformed']} malformed line(s) skipped", file=sys.stderr)
    if document is None:
        raise CliError(f"{args.events_file}: no AWS Batch event to fold", NOT_FOUND)
    document["replay"] = tally
    _emit(args, ctx, document)
    return OK


def _emit(args: argparse.Namespace, ctx: Context, document: dict) -> None:
    if args.json:
        ctx.emit_json(document)
    else:
        ctx.lines(status_lines(document))
