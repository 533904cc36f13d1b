"""``batchlane status``: where a launch stands, with a row and log links per child.

* ``batchlane status LAUNCH_ID [--json]`` reads the launch's items from the executions table
  (the deployment's, or ``--table``) and, once the launch is finished, its assembled outputs from S3.
* ``batchlane status replay EVENTS_FILE [--size N] [--min-success-ratio R] [--json]`` folds a file
  of raw AWS Batch events (one EventBridge event per line, as an archive or a DLQ holds them)
  offline with the aggregator's own fold (``fold_events``): no AWS call at all.

The document is shaped by ``batchlane.status.view`` (shared with the sandbox). Exit codes:
``batchlane.cli.common`` (1: no such launch, or no usable event in the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from batchlane.cli.common import NOT_FOUND, OK, USAGE, CliError, Context, add_command, non_negative_int, table_text

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
            "    offline with the aggregator's own fold; needs no AWS"),
    )
    parser.add_argument("target", metavar="LAUNCH_ID|replay", help="a launch id, or 'replay'")
    parser.add_argument("events_file", metavar="EVENTS_FILE", nargs="?", help="replay: the events file ('-': stdin)")
    parser.add_argument("--size", type=non_negative_int, default=None,
                        help="replay: children of the launch (default: from the events)")
    parser.add_argument("--min-success-ratio", type=_ratio, default=None, metavar="R",
                        help="replay: Flyte's minSuccessRatio, 0..1 (default 1)")
    parser.add_argument("--job-id", default=None, help="replay: fold this Batch job's events (default: the first one's)")


def _ratio(value: str) -> Decimal:
    try:
        ratio = Decimal(value)
    except InvalidOperation:
        ratio = Decimal(-1)
    if not ratio.is_finite() or not 0 <= ratio <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value!r}")
    return ratio


def _run(args: argparse.Namespace, ctx: Context) -> int:
    if args.target == REPLAY:
        if not args.events_file:
            raise CliError("status replay needs an EVENTS_FILE (see batchlane status --help)", USAGE)
        return _replay(args, ctx)
    if args.events_file or args.size is not None or args.min_success_ratio is not None or args.job_id:
        raise CliError("EVENTS_FILE, --size, --min-success-ratio and --job-id go with 'status replay' only", USAGE)
    return _show(args, ctx)


# --- a stored launch -----------------------------------------------------------------------------

def _items(ctx: Context, launch_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    from batchlane.common.values import from_dynamo

    des = TypeDeserializer()
    table = ctx.table_name("executions")
    pages = ctx.client("dynamodb").get_paginator("query").paginate(
        TableName=table, ConsistentRead=True, KeyConditionExpression="launchId = :l",
        ExpressionAttributeValues={":l": {"S": launch_id}})
    return [from_dynamo({k: des.deserialize(v) for k, v in item.items()}) for page in pages for item in page["Items"]]


def _read_outputs(ctx: Context, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = ctx.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        ctx.warn(f"outputs {uri} not found")
        return None
    try:
        return json.loads(body)
    except ValueError:
        ctx.warn(f"outputs {uri} are not JSON")
        return None


def _show(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.status.view import record_document

    document = record_document(_items(ctx, args.target))
    if document is None:
        raise CliError(f"no launch {args.target!r} in table {ctx.last_table}", NOT_FOUND)
    if document.get("outputsUri"):
        document["outputs"] = _read_outputs(ctx, document["outputsUri"])
    if args.json:
        ctx.emit_json(document)
    else:
        _print(ctx, document)
    return OK


# --- replay ----------------------------------------------------------------------------------------

def _lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it: {exc}", USAGE) from None


def _replay(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.status.view import replay_document

    document, tally = replay_document(_lines(args.events_file), size=args.size or None,
                                      min_success_ratio=args.min_success_ratio, job_id=args.job_id, warn=ctx.warn)
    if tally["malformed"]:
        print(f"batchlane: {tally['malformed']} malformed line(s) skipped", file=sys.stderr)
    if document is None:
        raise CliError(f"{args.events_file}: no AWS Batch event to fold", NOT_FOUND)
    document["replay"] = tally
    if args.json:
        ctx.emit_json(document)
    else:
        _print(ctx, document)
    return OK


# --- for a person --------------------------------------------------------------------------------

def _print(ctx: Context, doc: dict[str, Any]) -> None:
    name = doc.get("launchId") or "(replayed events)"
    ctx.out(f"Launch {name}: {doc['phase']} ({doc['reason']})")
    ctx.out(f"  job    {doc.get('jobId') or '(not submitted yet)'}   queue {doc.get('queue') or '-'}   "
            f"size {doc['size']}" + (" (array)" if doc.get("isArray") else ""))
    counts = ", ".join(f"{k} {v}" for k, v in doc["counts"].items() if v)
    ctx.out(f"  counts {counts or '-'}   (success needs {doc['minSuccesses']})")
    if doc.get("console"):
        ctx.out(f"  {doc['console']['name']}: {doc['console']['url']}")
    if doc.get("blocked"):
        ctx.out(f"  blocked: {doc['blocked']}")
    if doc.get("terminated"):
        ctx.out("  the remaining children were stopped (TerminateJob)")
    if doc.get("error"):
        ctx.out("  errors:")
        for line in doc["error"].splitlines():
            ctx.out(f"    {line}")
    children = doc["children"]
    unseen = doc["size"] - len(children)
    ctx.out(f"  children ({len(children)} with events" + (f", {unseen} without any yet" if unseen else "") + "):")
    if children:
        rows = [["INDEX", "STATUS", "ATTEMPTS", "EXIT", "REASON"]]
        rows += [[str(c["index"]), c["status"], str(c["attempts"]),
                  "-" if c["exitCode"] is None else str(c["exitCode"]), (c["statusReason"] or "")[:60]]
                 for c in children]
        lines = table_text(rows, indent="    ")
        ctx.out(lines[0])
        for line, child in zip(lines[1:], children):
            ctx.out(line)
            for link in child["logs"]:
                ctx.out(f"        {link['name']}: {link['url']}")
    if doc.get("outputsUri"):
        ctx.out(f"  outputs: {doc['outputsUri']}")
        if "outputs" in doc:
            ctx.out("    " + json.dumps(doc["outputs"], default=str)[:2000])
    if doc.get("replay"):
        r = doc["replay"]
        ctx.out(f"  replayed {r['events']} events ({r['malformed']} malformed, {r['foreign']} foreign, "
                f"{r['otherJobs']} of other jobs)")
