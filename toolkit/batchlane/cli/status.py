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
from pathlib import Path
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
    positive_seconds,
    read_text,
)
from batchlane.client.render import StatusView, status_lines

REPLAY = "replay"
NOT_OK = 1  # --follow: the launch failed or was aborted
FULL_VIEW_MAX = 1000  # children read in one go by a plain `batchlane status ID`; beyond it, pages
DEFAULT_LIMIT = 100
LOG_TAIL_LINES = 10  # of a failed child's log, in `status --child N` and the page
PAGE_LOG_TAILS = 20  # failed children whose log tail the page shows (a read each)
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
        help="show a launch's status (--follow: until it ends)",
        description=(
            "batchlane status LAUNCH_ID [--links] [--children] [--outputs] [--json]\n"
            "    phase, counts, failure classes, the failed children, outputs (summarised) when finished;\n"
            "    --links: log and console links, --children: every child's row, --outputs: in full\n"
            f"    (beyond {FULL_VIEW_MAX} children: the summary and the first page of children)\n"
            "batchlane status LAUNCH_ID [--failed] [--limit K] [--after N] [--json]\n"
            "    the summary and a page of children (only the failed ones: --failed), from index N+1;\n"
            "    the last line gives the command for the next page\n"
            "batchlane status LAUNCH_ID --child N [--json]\n"
            "    one child: every attempt with its exit code, reasons and log link, its outputs location\n"
            "batchlane status LAUNCH_ID --follow\n"
            "    a line per phase change and change of the counts until the launch ends, then its status\n"
            "(replaying a file of Batch events offline: batchlane replay EVENTS_FILE)"
        ),
    )
    parser.add_argument("target", metavar="LAUNCH_ID", help="the launch")
    parser.add_argument(
        "events_file", metavar="EVENTS_FILE", nargs="?", help="'status replay EVENTS_FILE': see 'batchlane replay'"
    )
    _replay_options(parser)
    _status_options(parser)
    replay = add_command(
        subparsers,
        "replay",
        _replay,
        help="fold a file of AWS Batch events offline, as the aggregator would (no AWS call)",
        description=(
            "batchlane replay EVENTS_FILE [--size N] [--min-success-ratio R] [--job-id ID] [--json]\n"
            "    fold raw Batch events (one EventBridge event per line, e.g. an archive or DLQ dump)\n"
            "    offline with the aggregator's join; needs no AWS (also 'status replay EVENTS_FILE')"
        ),
    )
    replay.add_argument("events_file", metavar="EVENTS_FILE", help="the events file ('-': stdin)")
    _replay_options(replay)
    _view_options(replay)


def _replay_options(parser: argparse.ArgumentParser) -> None:
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


def _view_options(parser: argparse.ArgumentParser) -> None:
    """How much the text shows (batchlane.client.render.StatusView); --json shows everything."""
    parser.add_argument("--links", action="store_true", help="the console link and every attempt's log link")
    parser.add_argument(
        "--children", action="store_true", help="a row for every child with events (default: the failed ones)"
    )
    parser.add_argument("--outputs", action="store_true", help="the outputs in full (default: summarised)")


def _status_options(parser: argparse.ArgumentParser) -> None:
    _view_options(parser)
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the launch as a self-contained page: a grid of its children by status, the failed ones "
        "with their last log lines",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="print each phase change and change of the counts until the launch ends, then its status "
        "(exit 0 only when it succeeded)",
    )
    parser.add_argument("--poll", type=positive_seconds, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS)
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
    if args.target == REPLAY and args.events_file:  # the old spelling; a launch named 'replay' is `status replay`
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
    if args.follow and not summary.final:
        _follow(args, ctx)
        summary = launch_summary(executions, args.target)
    # --follow exits as `launch --wait` does: 0 only when the launch succeeded.
    outcome = OK if not args.follow or summary.phase == "succeeded" else NOT_OK
    if args.child is not None:
        _one_child(args, ctx, executions, summary)
        return outcome
    if args.html:
        _write_page(args, ctx, executions, summary)
        return outcome
    if paged or summary.size > FULL_VIEW_MAX:
        # A big map's text is compact unless asked otherwise: its first failed children, as for a small one.
        _page(args, ctx, executions, summary, compact=not (paged or args.json or args.children))
        return outcome
    from batchlane.client.outputs import read_outputs

    document = executions.status(args.target).document
    if document is None:  # its record went (expired) since the summary was read
        _no_launch(args, ctx, summary)
    if document.get("outputsUri"):
        document["outputs"] = read_outputs(ctx.client("s3"), document["outputsUri"], ctx.warn)
    _emit(args, ctx, document)
    return outcome


def _write_page(args: argparse.Namespace, ctx: Context, executions, summary) -> None:
    """``--html FILE``: the whole launch (every child item read) as one page (batchlane.client.page)."""
    from batchlane.client.page import status_page

    document = executions.status(args.target).document
    if document is None:
        _no_launch(args, ctx, summary)
    failed = [c["index"] for c in document["children"] if c["status"] == "FAILED"][:PAGE_LOG_TAILS]
    page = status_page(document, _log_tails(ctx, executions, args.target, failed, summary.record))
    try:
        Path(args.html).write_text(page)
    except OSError as exc:
        raise CliError(f"{args.html}: cannot write it: {exc}", USAGE) from None
    if args.json:
        ctx.emit_json({"launchId": args.target, "html": str(args.html), "bytes": len(page.encode())})
    else:
        ctx.out(f"Wrote {args.html}: launch {args.target}, {document['size']} children, {len(failed)} log tail(s)")


def _follow(args: argparse.Namespace, ctx: Context) -> None:
    """A line per phase change and change of the counts until the stored phase is final (on stderr
    with --json), as `launch --wait` follows."""
    from batchlane.client.waiting import follow

    say = ctx.progress(args.json)
    say(f"Following {args.target} (Ctrl-C stops following, not the launch):")
    follow(ctx.batchlane(), args.target, timeout=None, poll=args.poll, say=say)


def _page(args: argparse.Namespace, ctx: Context, executions, summary, compact: bool = False) -> int:
    """The summary and one page of children (the failed ones with ``--failed``; ``compact``: the
    first FAILED_ROWS failed ones, without links unless --links)."""
    from batchlane.client.render import FAILED_ROWS, page_lines
    from batchlane.client.status import failed_page, read_children

    failed = args.failed or compact
    limit = FAILED_ROWS if compact else args.limit or DEFAULT_LIMIT
    if failed:
        page = failed_page(executions, args.target, limit=limit, after=args.after, summary=summary)
    else:
        page = read_children(executions, args.target, limit=limit, after=args.after, record=summary.record)
    next_command = (
        None
        if page.after is None
        else " ".join(
            ["batchlane status", args.target]
            + (["--failed"] if failed else [])
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
                "failedOnly": failed,
                "next": next_command,
            }
        )
    else:
        ctx.lines(
            page_lines(
                summary.as_json(),
                page.children,
                failed=failed,
                after=args.after,
                next_command=next_command,
                links=args.links or not compact,
            )
        )
    return OK


def _one_child(args: argparse.Namespace, ctx: Context, executions, summary) -> int:
    from batchlane.client.logs import AttemptLog
    from batchlane.client.render import child_lines
    from batchlane.client.status import child_detail

    if args.child >= max(summary.size, 1):
        raise CliError(f"launch {args.target!r} has {summary.size} children (indexes 0-{summary.size - 1})", USAGE)
    child = child_detail(executions, args.target, args.child, record=summary.record)
    if child is None:
        raise CliError(f"child {args.child} of launch {args.target!r} has no Batch event yet", NOT_FOUND)
    logs = [a for a in child["attemptDetails"] if a["log"]]
    if child["status"] == "FAILED" and logs:  # the item is read: its latest log is named in it
        where = AttemptLog(args.child, logs[-1]["attempt"], logs[-1]["log"]["logGroup"], logs[-1]["log"]["logStream"])
        child["logTail"] = _tail_of(ctx, where)
    if args.json:
        ctx.emit_json({"launchId": args.target, "phase": summary.phase, "child": child})
    else:
        ctx.lines(child_lines(args.target, child))
    return OK


def _log_tails(ctx: Context, executions, launch_id: str, indexes: list[int], record) -> dict[int, list[str]]:
    """The last lines of each child's latest log (a GetItem and a GetLogEvents each)."""
    from batchlane.client.logs import NoLogStream, attempt_log
    from batchlane.client.status import child_item
    from batchlane.status.states import ChildState

    tails: dict[int, list[str]] = {}
    for index in indexes:
        _, item = child_item(executions, launch_id, index, record=record)
        try:
            where = attempt_log(ChildState.from_item(item), None, record.log_group) if item else None
        except NoLogStream:
            where = None
        if where is not None:
            tails[index] = _tail_of(ctx, where)
    return tails


def _tail_of(ctx: Context, where) -> list[str]:
    from batchlane.client.logs import tail

    try:
        return tail(ctx.client("logs"), where, LOG_TAIL_LINES)
    except Exception as exc:  # the status stands without its log (a stream gone, no logs:GetLogEvents)
        ctx.warn(f"cannot read the log of child {where.index}: {exc}")
        return []


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
        ctx.lines(status_lines(document, StatusView(args.links, args.children, args.outputs)))
