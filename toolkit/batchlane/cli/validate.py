"""``batchlane validate FILE``: a launch detail checked locally with the launcher's own validation.

    batchlane validate launch.yaml [--json]

The same check as ``batchlane launch --file FILE --dry-run`` (``batchlane.client.validate``): every
problem at once, in the launcher's words; nothing is sent and no AWS call is made.

Exit codes: 0 valid, 2 a problem (or the file cannot be read).
"""

from __future__ import annotations

import argparse

from batchlane.cli.common import Context, add_command


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "validate",
        _run,
        help="check a launch detail file locally, as the launcher would (sends nothing)",
        description=(
            "Check a launch detail (JSON or YAML, docs/launch-event.md) with the launcher's own validation\n"
            "and the deployment configuration's settings: every problem at once. Not checked here: the\n"
            "routing decision, the producer's team, the inputs' objects.\n\n"
            "exit codes: 0 valid, 2 invalid or unreadable"
        ),
    )
    p.add_argument("file", metavar="FILE", help="the launch detail ('-': stdin)")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.cli.launch import dry_run, load_file

    return dry_run(ctx, load_file(args.file), args.json)
