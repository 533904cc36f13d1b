"""``batchlane relaunch LAUNCH_ID --failed``: a new launch of a finished map task's FAILED children,
recorded as a rerun of it (``rerunOf``, batchlane.client.relaunch). Its outputs are the original's
with the rerun children's replaced; ``status`` shows the chain.

Exit codes as ``batchlane launch`` (0 launched, --wait: succeeded; 1 rejected, no answer, failed);
1 too when the launch cannot be rerun (no such launch, not finished, no failed child).
"""

from __future__ import annotations

import argparse

from batchlane.cli.common import NOT_FOUND, CliError, Context, add_command
from batchlane.cli.launch import add_sending_options, send


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "relaunch",
        _run,
        help="launch a finished map task's failed children again, as a rerun of it",
        description=(
            "Launch the FAILED children of a finished map task again (their inputs, the same task), as\n"
            "a new launch recorded as a rerun of it: its outputs document is the original's, in the\n"
            "original's index space, with the rerun children's outputs in place of the failed ones.\n"
            "A rerun of a rerun keeps that index space. status shows the chain.\n\n"
            "exit codes: 0 launched (--wait: succeeded), 1 cannot be rerun, rejected, no answer, failed,\n"
            "2 usage, 3 AWS error"
        ),
    )
    p.add_argument("launch_id", metavar="LAUNCH_ID", help="the finished map task (of the --source's team)")
    p.add_argument("--failed", action="store_true", required=True, help="rerun its failed children (required)")
    p.add_argument("--launch-id", dest="rerun_id", metavar="ID", help="the rerun's launchId (default LAUNCH_ID.rerunN)")
    add_sending_options(p)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.relaunch import NotRerunnable, rerun_detail

    client = ctx.batchlane(args.source)
    try:
        detail = rerun_detail(client, args.launch_id, args.rerun_id)
    except NotRerunnable as exc:
        raise CliError(f"cannot rerun {args.launch_id}: {exc}", NOT_FOUND) from None
    if not args.json:
        ctx.out(f"Rerunning {len(detail['inputs'])} failed children of {args.launch_id} as {detail['launchId']}")
    return send(args, ctx, detail)
