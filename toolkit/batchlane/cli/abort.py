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

from batchlane.cli.common import (
    CLI_SOURCE,
    OK,
    USAGE,
    CliError,
    Context,
    add_command,
    add_team_argument,
    positive_seconds,
)
from batchlane.client.render import sent_line, status_lines
from batchlane.common.event_types import ABORT_REQUESTED

NOT_OK = 1  # rejected, unknown, already ended, no answer


def _rejected(ctx: Context, json_out: bool, launch_id: str, reason: str, phase: str | None) -> int:
    if json_out:
        ctx.emit_json({"launchId": launch_id, "abortRejected": True, "reason": reason, "phase": phase})
    else:
        ctx.out(f"Abort of {launch_id} rejected: {reason}")
    return NOT_OK


def _report(args: argparse.Namespace, ctx: Context, client, outcome, say) -> int:
    """The outcome of the request, as ``--wait`` shows it."""
    from batchlane.client.waiting import settle

    launch_id = args.launch_id.strip()
    if outcome.kind == "aborted":
        doc = settle(client, launch_id, outcome.document, poll=args.poll, say=say)
        if args.json:
            ctx.emit_json(doc)
        else:
            ctx.lines(status_lines(doc))
        return OK
    if outcome.kind == "rejected":
        return _rejected(ctx, args.json, launch_id, outcome.reason, outcome.phase)
    if outcome.kind == "ended":
        return _rejected(ctx, args.json, launch_id, f"the launch has already {outcome.phase}", outcome.phase)
    if not outcome.known:
        hint = "" if outcome.answers_queue else " (no answers queue: a rejection cannot be shown here)"
        raise CliError(
            f"no launch {launch_id!r} in table {ctx.last_table} and no answer within {args.wait_timeout:g} s{hint}",
            NOT_OK,
        )
    raise CliError(f"launch {launch_id} was not aborted within {args.wait_timeout:g} s (no answer yet)", NOT_OK)


def cmd_abort(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.waiting import wait_for_abort

    launch_id = args.launch_id.strip()
    if not launch_id:
        raise CliError("LAUNCH_ID must not be empty", USAGE)
    say = ctx.progress(args.json)
    client = ctx.batchlane(args.source, args.team)
    phase_before = client.executions.status(launch_id).phase if args.wait else None
    client.put_abort(launch_id, args.reason, args.source, team=args.team)
    sent = sent_line(ABORT_REQUESTED, launch_id, client.bus_name, ctx.where)
    if not args.wait:
        if args.json:
            ctx.emit_json({"launchId": launch_id, "abortRequested": True, "bus": client.bus_name})
        else:
            ctx.out(f"{sent}; --wait follows it")
        return OK
    say(f"{sent}; waiting for the outcome")
    outcome = wait_for_abort(client, launch_id, timeout=args.wait_timeout, poll=args.poll, phase_before=phase_before)
    return _report(args, ctx, client, outcome, say)


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "abort",
        cmd_abort,
        help="stop a launch (Task Abort Requested); --wait until it is aborted or the abort rejected",
        description=(
            "Put a Task Abort Requested event {launchId, reason} on the deployment's bus. batchlane stops\n"
            "the launch's Batch job (TerminateJob stops every child) and writes the phase 'aborted', or\n"
            "answers Task Abort Rejected (unknown launch, launch already ended). --wait follows it: the\n"
            "phase from the executions table, a rejection from the answers queue (<prefix>-answers).\n\n"
            "exit codes: 0 requested (--wait: aborted), 1 rejected, unknown, already ended or no answer\n"
            "within --wait-timeout, 2 usage, 3 AWS error"
        ),
    )
    p.add_argument("launch_id", metavar="LAUNCH_ID", help="the launch to stop")
    p.add_argument("--reason", metavar="TEXT", help="why (kept in the launch's reason: 'aborted on request: TEXT')")
    p.add_argument("--source", default=CLI_SOURCE, help="the event's source (default batchlane.cli)")
    add_team_argument(p)  # another team's launch: only an admin team (abort: any) may abort it
    p.add_argument("--wait", action="store_true", help="wait until the launch is aborted or the abort rejected")
    p.add_argument(
        "--wait-timeout",
        type=positive_seconds,
        default=60,
        metavar="SECONDS",
        help="how long --wait waits for the outcome (default 60)",
    )
    p.add_argument("--poll", type=float, default=0.3, metavar="SECONDS", help=argparse.SUPPRESS)
