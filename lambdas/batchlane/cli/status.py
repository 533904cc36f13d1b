"""``batchlane status``: where a launch stands, with a row and log links per child.

* ``batchlane status LAUNCH_ID [--json]`` reads the launch's items from the executions table
  (the deployment's, or ``--table``) and, once the launch is finished, its assembled outputs from S3.
* ``batchlane status replay EVENTS_FILE [--size N] [--min-success-ratio R] [--json]`` folds a file
  of raw AWS Batch events (one EventBridge event per line, as an archive or a DLQ holds them)
  offline with the join the aggregator applies (``fold_events`` over ``merge_child``): no AWS call at all.

The launch is read through ``batchlane.client`` and its document shaped by ``batchlane.status.view``,
as the sandbox does. Exit codes:
``batchlane.cli.common`` (1: no such launch, or no usable event in the file).
"""

from __future__ import annotations

import argparse
import sys

from batchlane.cli.common import (
    NOT_FOUND, OK, USAGE, CliError, Context, add_command, min_success_ratio, non_negative_int, read_text,
)
from batchlane.client.render import status_lines

REPLAY = "replay"


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "status", _run,
        help="show a launch's status, or replay a file of AWS Batch events offline",
        description=(
            "batchlane status LAUNCH_ID [--json]\n"
            "    phase, counts, a row per child with its log links, outputs when finished\n"
            "batchlane status replay EVENTS_FILE [--size N] [--min-success-ratio R] [--json]\n"
            "    fold raw Batch events (one EventBridge event per line, e.g. an archive or DLQ dump)\n"
            "    offline with the aggregator's join; needs no AWS"),
    )
    parser.add_argument("target", metavar="LAUNCH_ID|replay", help="a launch id, or 'replay'")
    parser.add_argument("events_file", metavar="EVENTS_FILE", nargs="?", help="replay: the events file ('-': stdin)")
    parser.add_argument("--size", type=non_negative_int, default=None,
                        help="replay: children of the launch (default: from the events)")
    parser.add_argument("--min-success-ratio", type=min_success_ratio, default=None, metavar="R",
                        help="replay: Flyte's minSuccessRatio, 0..1 (default 1)")
    parser.add_argument("--job-id", default=None, help="replay: fold this Batch job's events (default: the first one's)")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    if args.target == REPLAY:
        if not args.events_file:
            raise CliError("status replay needs an EVENTS_FILE (see batchlane status --help)", USAGE)
        return _replay(args, ctx)
    if args.events_file or args.size is not None or args.min_success_ratio is not None or args.job_id:
        raise CliError("EVENTS_FILE, --size, --min-success-ratio and --job-id go with 'status replay' only", USAGE)
    return _show(args, ctx)


# --- a stored launch -----------------------------------------------------------------------------

def _show(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.outputs import read_outputs
    from batchlane.client.records import Executions

    executions = Executions(ctx.client("dynamodb"), ctx.table_name("executions"))
    document = executions.status(args.target).document
    if document is None:
        _no_launch(args, ctx, executions)
    if document.get("outputsUri"):
        document["outputs"] = read_outputs(ctx.client("s3"), document["outputsUri"], ctx.warn)
    _emit(args, ctx, document)
    return OK


def _no_launch(args: argparse.Namespace, ctx: Context, executions) -> None:
    """No launch record: a rejected launch is shown with its problems (its ``rejection`` item)."""
    from batchlane.client.render import rejected_lines
    from batchlane.client.status import launch_summary

    summary = launch_summary(executions, args.target)
    if summary.phase != "rejected":
        raise CliError(f"no launch {args.target!r} in table {ctx.last_table}", NOT_FOUND)
    if args.json:
        ctx.emit_json(summary.as_json())
    else:
        ctx.lines(rejected_lines(args.target, summary.problems))
    raise CliError(f"launch {args.target!r} was rejected", NOT_FOUND)


# --- replay ----------------------------------------------------------------------------------------

def _replay(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.status.view import replay_document

    document, tally = replay_document(read_text(args.events_file).splitlines(), size=args.size or None,
                                      min_success_ratio=args.min_success_ratio, job_id=args.job_id, warn=ctx.warn)
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
