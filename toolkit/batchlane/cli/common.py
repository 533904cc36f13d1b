"""What every command group shares: exit codes, errors, the parser class, the run context.

A command handler is ``handler(args, ctx) -> int`` (an exit code). It reports a failure by
raising :class:`CliError` (one line, an exit code); AWS errors raised by boto3 are turned into
one line and exit code 3 by ``main``. boto3 is imported only when a command makes its first AWS
client: commands that work offline stay fast and never touch AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

# Exit codes, the same for every command.
OK = 0
NOT_FOUND = 1  # the thing asked for does not exist, or no queue matches
USAGE = 2  # bad arguments or an invalid input file
AWS_ERROR = 3  # AWS (or the emulator) refused or could not be reached
INTERNAL = 4  # a bug in batchlane (set BATCHLANE_DEBUG=1 for the traceback)

DEFAULT_DEPLOYMENT = "dev"


class CliError(Exception):
    """A failure to report as one line on stderr with the given exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``prog: error: ... (see prog --help)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS: the options are accepted before or after the command without one position
    # overwriting the other; main() fills in the defaults.
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("global options")
    group.add_argument(
        "--deployment",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="deployment configuration config/NAME.yaml (or a path); default $BATCHLANE_DEPLOYMENT or dev",
    )
    group.add_argument(
        "--table", metavar="NAME", default=argparse.SUPPRESS, help="DynamoDB table to use instead of the deployment's"
    )
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="AWS endpoint (e.g. the sandbox's); default $AWS_ENDPOINT_URL",
    )
    group.add_argument(
        "--region",
        metavar="REGION",
        default=argparse.SUPPRESS,
        help="AWS region; default $AWS_REGION, $AWS_DEFAULT_REGION or the deployment's",
    )
    return options


GLOBAL_OPTIONS = _global_options()


# What ``add_subparsers`` returns: where a group's commands are added.
Commands = argparse._SubParsersAction


def add_group(subparsers: Commands, name: str, help: str, description: str | None = None) -> Commands:
    """A command group (``batchlane routes``); returns the subparsers to add its commands to."""
    parser = subparsers.add_parser(name, help=help, description=description or help, parents=[GLOBAL_OPTIONS])
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def add_command(
    subparsers: Commands,
    name: str,
    handler: Callable[[argparse.Namespace, Context], int],
    help: str,
    description: str | None = None,
    json_output: bool = True,
) -> argparse.ArgumentParser:
    """A command with the global options, ``--json`` (unless json_output=False) and its handler."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        parents=[GLOBAL_OPTIONS],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if json_output:
        parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")
    parser.set_defaults(handler=handler)
    return parser


def csv_list(value: str) -> tuple[str, ...]:
    """argparse type for ``a,b,c`` (order kept, no empty names)."""
    names = tuple(v.strip() for v in value.split(","))
    if not value.strip() or not all(names):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {value!r}")
    return names


def _number(convert: Callable[[str], Any], accept: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text, then ``accept`` the number, else a usage error."""

    def parse(value: str):
        try:
            number = convert(value)
        except ValueError:
            number = None
        if number is None or not accept(number):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return number

    return parse


non_negative_int = _number(int, lambda n: n >= 0, "a whole number >= 0")
positive_seconds = _number(float, lambda s: s > 0, "a number of seconds > 0")
# Flyte's minSuccessRatio; NaN fails the comparison, infinities the bounds.
min_success_ratio = _number(float, lambda r: 0 <= r <= 1, "a number from 0 to 1")


def read_text(path: str) -> str:
    """A file named on the command line ('-': standard input); a missing or unreadable one is a usage error."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it: {exc}", USAGE) from None


CLI_SOURCE = "batchlane.cli"  # the source the CLI puts events with unless --source says otherwise


def add_team_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--team",
        metavar="TEAM",
        help="whose launch LAUNCH_ID is (a launch id is unique within its team; default: the team of --source, "
        "or of batchlane.cli)",
    )


@dataclass
class Context:
    """Where a command runs: the deployment, the AWS endpoint, and how it prints."""

    deployment: str = DEFAULT_DEPLOYMENT
    table: str | None = None
    endpoint_url: str | None = None
    region_name: str | None = None
    last_table: str | None = None  # the table a command used last (named in AWS errors)
    _config: Any = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        return cls(
            deployment=getattr(args, "deployment", None)
            or os.environ.get("BATCHLANE_DEPLOYMENT")
            or DEFAULT_DEPLOYMENT,
            table=getattr(args, "table", None),
            endpoint_url=getattr(args, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or None,
            region_name=getattr(args, "region", None),
        )

    # --- configuration -------------------------------------------------------------------
    def config(self):
        """The deployment configuration (loaded once); an invalid one is a usage error."""
        if self._config is None:
            from batchlane.deployment.config import ConfigError, load_config

            try:
                self._config = load_config(self.deployment)
            except ConfigError as exc:
                raise CliError(" ".join(line.strip() for line in str(exc).splitlines()), USAGE) from None
        return self._config

    def table_name(self, kind: str) -> str:
        name = self.table or self.config().table_name(kind)
        self.last_table = name
        return name

    @property
    def region(self) -> str:
        if self.region_name:
            return self.region_name
        env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if env:
            return env
        try:
            return self.config().region
        except CliError:
            return "us-east-1"

    @property
    def where(self) -> str:
        """Where AWS calls go, for messages."""
        return f"endpoint {self.endpoint_url}" if self.endpoint_url else f"region {self.region}"

    # --- AWS (boto3 imported only when a command needs it) -------------------------------
    def _boto_session(self):
        if self._session is None:
            self._session = _boto3_session(self.region)
        return self._session

    def _boto_config(self):
        from botocore.config import Config

        return Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)

    def client(self, service: str):
        return self._boto_session().client(service, endpoint_url=self.endpoint_url, config=self._boto_config())

    def resource(self, service: str):
        return self._boto_session().resource(service, endpoint_url=self.endpoint_url, config=self._boto_config())

    def batchlane(self, source: str = CLI_SOURCE, team: str | None = None):
        """The deployment as a client sees it (batchlane.client.api): its bus, executions table and
        answers queue, reached through this context's clients; launch ids name ``team``'s launches
        (default: the team owning ``source``)."""
        from batchlane.client.api import BatchlaneClient

        return BatchlaneClient.for_deployment(
            self.config(), self.client, executions_table=self.table_name("executions"), source=source, team=team
        )

    def team(self, team: str | None, source: str = CLI_SOURCE) -> str:
        """``--team``, else the team owning ``source``: whose launch a launch id names."""
        if team:
            return team
        try:
            return self.config().team_of_source(source)
        except CliError:  # no configuration here (a bare --table): a deployment without teams
            from batchlane.common.executions import OPEN_TEAM

            return OPEN_TEAM

    # --- output ----------------------------------------------------------------------------
    @staticmethod
    def out(text: str = "") -> None:
        print(text, file=sys.stdout)

    def lines(self, lines: list[str]) -> None:
        for line in lines:
            self.out(line)

    def progress(self, json_output: bool) -> Callable[[str], None]:
        """Where progress lines go: standard error when standard output carries one JSON document."""
        return (lambda text: print(text, file=sys.stderr)) if json_output else self.out

    @staticmethod
    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr)

    @staticmethod
    def emit_json(document: Any) -> None:
        print(json.dumps(document, indent=2, default=str), file=sys.stdout)


@cache
def _boto3_session(region: str):
    """One boto3 session per region and process: service models are loaded once (this matters
    for anything that runs several commands in one process, such as the tests)."""
    import boto3

    return boto3.session.Session(region_name=region)
