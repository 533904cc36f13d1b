"""``batchlane abort``: put a "Task Abort Requested" event on the deployment's bus and, with
``--wait``, follow it until the launch is aborted or batchlane rejected the abort.

    batchlane abort LAUNCH_ID [--reason TEXT] [--wait [--wait-timeout SECONDS]] [--json]

The aggregator decides (docs/status.md): it stops the launch's Batch job (TerminateJob) and writes
the phase ``aborted``, or answers "Task Abort Rejected" (unknown launch, already ended). The
outcome is read as ``batchlane launch`` reads its answer: ``aborted`` from the deployment itself
(the stored phase in the executions table), a rejection from the optional answers queue
(``<prefix>-answers``; the sandbox has one and routes "Task Abort Rejected" to it). A launch that
has already ended is reported as such from the table, with or without the answers queue.

Exit codes: 0 abort requested (``--wait``: aborted), 1 rejected, unknown launch, already ended or
no answer within ``--wait-timeout``, 2 usage, 3 AWS error.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from batchlane import ABORT_REJECTED, ABORT_REQUESTED
from batchlane.cli.common import OK, USAGE, CliError, Context, add_command
from batchlane.cli.launch import SETTLE_SECONDS, AnswersQueue, _settled, _status, launch_record, put_event

NOT_OK = 1  # rejected, unknown, already ended, no answer
ABORTED = "aborted"
FINAL_PHASES = ("succeeded", "failed", "aborted")
REJECTION_GRACE_SECONDS = 5  # an ended launch: how long to wait for batchlane's own rejection


def wait_for_outcome(ctx: Context, launch_id: str, timeout: float, poll: float,
                     phase_before: str | None = None) -> tuple[str, dict[str, Any]]:
    """("aborted", status document) | ("rejected", Task Abort Rejected detail)
    | ("ended", {"phase", "document"}) | ("none", {"known": bool, "answersQueue": url}).
    ``phase_before``: the stored phase before the request (a launch aborted earlier has ended)."""
    answers = AnswersQueue(ctx)
    deadline = time.monotonic() + timeout
    ended_at: float | None = None
    while True:
        rejection = answers.find(launch_id, (ABORT_REJECTED,))
        if rejection is not None:
            return "rejected", rejection["detail"]
        doc, stored = _status(ctx, launch_id)
        if stored == ABORTED and phase_before != ABORTED:
            return "aborted", doc or {}
        if stored in FINAL_PHASES:
            # Already ended: batchlane rejects the abort; take its answer when there is a queue for it.
            ended_at = ended_at or time.monotonic()
            if answers.url is None or time.monotonic() - ended_at > REJECTION_GRACE_SECONDS:
                return "ended", {"phase": stored, "document": doc}
        if time.monotonic() >= deadline:
            known = doc is not None or launch_record(ctx, launch_id) is not None
            return "none", {"known": known, "answersQueue": answers.url}
        time.sleep(poll)


def _settle(ctx: Context, launch_id: str, doc: dict[str, Any], poll: float, say) -> dict[str, Any]:
    """After ``aborted``: wait (briefly) for the stopped children's events, as ``launch --wait`` does."""
    if _settled(doc):
        return doc
    say("  the remaining children are being stopped (TerminateJob)")
    until = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < until:
        time.sleep(poll)
        fresh, _ = _status(ctx, launch_id)
        if fresh is not None:
            doc = fresh
            if _settled(doc):
                break
    return doc


def cmd_abort(args: argparse.Namespace, ctx: Context) -> int:
    launch_id = args.launch_id.strip()
    if not launch_id:
        raise CliError("LAUNCH_ID must not be empty", USAGE)
    json_out = args.json
    say = (lambda text: print(text, file=sys.stderr)) if json_out else ctx.out
    phase_before = None
    if args.wait:
        phase_before = _status(ctx, launch_id)[1]
    put_event(ctx, ABORT_REQUESTED, {"launchId": launch_id, **({"reason": args.reason} if args.reason else {})},
              args.source)
    if not args.wait:
        if json_out:
            ctx.emit_json({"launchId": launch_id, "abortRequested": True, "bus": ctx.config().bus_name})
        else:
            ctx.out(f"Sent Task Abort Requested {launch_id} to bus {ctx.config().bus_name} ({ctx.where}); "
                    "--wait follows it")
        return OK
    say(f"Sent Task Abort Requested {launch_id} to bus {ctx.config().bus_name} ({ctx.where}); waiting for the outcome")
    kind, answer = wait_for_outcome(ctx, launch_id, args.wait_timeout, args.poll, phase_before)
    if kind == "aborted":
        doc = _settle(ctx, launch_id, answer, args.poll, say)
        if json_out:
            ctx.emit_json(doc)
        else:
            from batchlane.cli.status import _print

            _print(ctx, doc)
        return OK
    if kind == "rejected":
        reason = answer.get("reason") or "rejected"
        if json_out:
            ctx.emit_json({"launchId": launch_id, "abortRejected": True, "reason": reason, "phase": answer.get("phase")})
        else:
            ctx.out(f"Abort of {launch_id} rejected: {reason}")
        return NOT_OK
    if kind == "ended":
        phase = answer["phase"]
        if json_out:
            ctx.emit_json({"launchId": launch_id, "abortRejected": True,
                           "reason": f"the launch has already {phase}", "phase": phase})
        else:
            ctx.out(f"Abort of {launch_id} rejected: the launch has already {phase}")
        return NOT_OK
    if not answer.get("known"):
        hint = "" if answer.get("answersQueue") else " (no answers queue: a rejection cannot be shown here)"
        raise CliError(f"no launch {launch_id!r} in table {ctx.last_table} and no answer within "
                       f"{args.wait_timeout:g} s{hint}", NOT_OK)
    raise CliError(f"launch {launch_id} was not aborted within {args.wait_timeout:g} s (no answer yet)", NOT_OK)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value!r}")
    return number


def register(subparsers) -> None:
    p = add_command(
        subparsers, "abort", cmd_abort,
        help="stop a launch (Task Abort Requested); --wait until it is aborted or the abort rejected",
        description=(
            "Put a Task Abort Requested event {launchId, reason} on the deployment's bus. batchlane stops\n"
            "the launch's Batch job (TerminateJob stops every child) and writes the phase 'aborted', or\n"
            "answers Task Abort Rejected (unknown launch, launch already ended). --wait follows it: the\n"
            "phase from the executions table, a rejection from the answers queue (<prefix>-answers).\n\n"
            "exit codes: 0 requested (--wait: aborted), 1 rejected, unknown, already ended or no answer\n"
            "within --wait-timeout, 2 usage, 3 AWS error"))
    p.add_argument("launch_id", metavar="LAUNCH_ID", help="the launch to stop")
    p.add_argument("--reason", metavar="TEXT", help="why (kept in the launch's reason: 'aborted on request: TEXT')")
    p.add_argument("--source", default="batchlane.cli", help="the event's source (default batchlane.cli)")
    p.add_argument("--wait", action="store_true", help="wait until the launch is aborted or the abort rejected")
    p.add_argument("--wait-timeout", type=_positive, default=60, metavar="SECONDS",
                   help="how long --wait waits for the outcome (default 60)")
    p.add_argument("--poll", type=float, default=0.3, metavar="SECONDS", help=argparse.SUPPRESS)
