"""``batchlane launches``: a team's launches, newest first (``batchlane.client.launches``: one
Query of the executions table's ``launchesByTeam`` index per page).

    batchlane launches [--project P] [--domain D] [--phase X] [--since T] [--limit N] [--next TOKEN] [--json]

Exit codes: 0 ok (an empty list too), 2 usage, 3 AWS error.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from batchlane.cli.common import CLI_SOURCE, OK, USAGE, CliError, Context, add_command
from batchlane.cli.status import limit_arg
from batchlane.common.phases import PHASES

DEFAULT_LIMIT = 50
_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since_arg(text: str, now: datetime | None = None) -> int:
    """``30m``, ``2h``, ``7d`` ago, or an ISO 8601 date or time (UTC unless it says): epoch ms."""
    now = now or datetime.now(UTC)
    ago = _AGO.match(text.strip())
    if ago:
        moment = now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a time ago (30m, 2h, 7d) or an ISO 8601 date or time, got {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def register(subparsers) -> None:
    p = add_command(
        subparsers,
        "launches",
        _run,
        help="list a team's launches, newest first",
        description=(
            "List the launches of one team (the team of --source, or --team), newest first, a page at a time:\n"
            "one Query of the executions table's launchesByTeam index per page, never a scan.\n\n"
            "exit codes: 0 ok (also when none match), 2 usage, 3 AWS error"
        ),
    )
    p.add_argument("--project", metavar="P", help="only launches of project P")
    p.add_argument("--domain", metavar="D", help="only launches of domain D")
    p.add_argument("--phase", choices=PHASES, help="only launches in this phase (queued: no event yet, too)")
    p.add_argument(
        "--since", type=since_arg, metavar="T", help="only launches requested since T: 30m, 2h, 7d ago, or an ISO time"
    )
    p.add_argument(
        "--limit",
        type=limit_arg,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"launches per page (default {DEFAULT_LIMIT})",
    )
    p.add_argument("--next", metavar="TOKEN", help="the page after the one that printed this token")
    p.add_argument("--team", metavar="TEAM", help="whose launches (default: the team of --source, or of batchlane.cli)")
    p.add_argument("--source", default=CLI_SOURCE, help="list this source's team's launches (default batchlane.cli)")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from batchlane.client.launches import BadPageToken, LaunchFilter, list_launches
    from batchlane.client.records import Executions
    from batchlane.client.render import launches_lines

    executions = Executions(ctx.client("dynamodb"), ctx.table_name("executions"), ctx.team(args.team, args.source))
    wanted = LaunchFilter(project=args.project, domain=args.domain, phase=args.phase, since_ms=args.since)
    try:
        page = list_launches(executions, wanted, limit=args.limit, after=args.next)
    except BadPageToken as exc:
        raise CliError(f"--next: {exc}", USAGE) from None
    if args.json:
        ctx.emit_json(
            {
                "team": executions.team,
                "launches": [row.model_dump(by_alias=True) for row in page.launches],
                "next": page.next,
            }
        )
        return OK
    ctx.lines(launches_lines(page.launches, executions.team))
    if page.next:
        ctx.out(f"more: batchlane launches {_same_filters(args)}--next {page.next}")
    return OK


def _same_filters(args: argparse.Namespace) -> str:
    """The options of this listing, for the command of its next page."""
    words = [
        f"--{name} {value}"
        for name, value in (("project", args.project), ("domain", args.domain), ("phase", args.phase))
        if value
    ]
    if args.since is not None:
        words.append(f"--since {datetime.fromtimestamp(args.since / 1000, UTC).isoformat(timespec='seconds')}")
    if args.team:
        words.append(f"--team {args.team}")
    if args.source != CLI_SOURCE:
        words.append(f"--source {args.source}")
    return "".join(f"{w} " for w in words)
