# PYTHON_ARGCOMPLETE_OK
"""``batchlane``: the command-line root. Each command group lives in its own module with a
``register(subparsers)`` function; adding a group is one line in ``COMMAND_MODULES``.

Exit codes: 0 ok, 1 not found / no match, 2 usage or invalid input, 3 AWS error,
4 internal error. Errors are one line on stderr (``BATCHLANE_DEBUG=1`` re-raises them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from batchlane.cli.common import AWS_ERROR, GLOBAL_OPTIONS, INTERNAL, USAGE, CliError, Context, Parser
from batchlane.client.events import EventRefused

COMMAND_MODULES = (
    "batchlane.cli.routes",
    "batchlane.cli.status",
    "batchlane.cli.launches",
    "batchlane.cli.logs",
    "batchlane.cli.launch",
    "batchlane.cli.relaunch",
    "batchlane.cli.validate",
    "batchlane.cli.abort",
    "batchlane.cli.sandbox",
)


def version() -> str:
    """The installed distribution's version (a source tree that was never installed has none)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("batchlane")
    except PackageNotFoundError:
        return "(not installed: a source tree)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="batchlane",
        parents=[GLOBAL_OPTIONS],
        description="Route and run workflow tasks on AWS Batch. The same commands work against a deployment "
        "or the local sandbox: the endpoint decides.",
        epilog="exit codes: 0 ok, 1 not found or no matching queue, 2 usage or invalid input, 3 AWS error, "
        "4 internal error",
    )
    parser.add_argument("--version", action="version", version=f"batchlane {version()}", help="print the version")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def _aws_error(exc: BaseException, ctx: Context | None) -> str | None:
    """One line for an error raised by boto3/botocore, or None when it is not one."""
    if isinstance(exc, EventRefused):
        return f"AWS error: {exc}"
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    if botocore_exceptions is None:
        return None
    where = ctx.where if ctx else "AWS"
    if isinstance(exc, botocore_exceptions.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        if code == "ResourceNotFoundException":
            hint = f" (table {ctx.last_table})" if ctx and ctx.last_table else ""
            return (
                f"AWS error: {code}: {message}{hint} at {where}; is the deployment (or sandbox) up? "
                "check --deployment, --table and --endpoint-url"
            )
        return f"AWS error: {exc.operation_name} at {where}: {code}: {message}"
    if isinstance(exc, botocore_exceptions.NoCredentialsError):
        return f"AWS error: no AWS credentials found for {where} (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
    if isinstance(exc, botocore_exceptions.EndpointConnectionError):
        return f"AWS error: cannot reach {where}: {exc}"
    if isinstance(exc, botocore_exceptions.BotoCoreError):
        return f"AWS error at {where}: {exc}"
    return None


def complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion (argcomplete, the ``completion`` extra; ``eval "$(register-python-argcomplete
    batchlane)"``): when the shell asks, argcomplete answers it and exits; otherwise nothing happens."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    complete(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed as one line)
        return exc.code if isinstance(exc.code, int) else USAGE
    ctx = Context.from_args(args)
    try:
        return args.handler(args, ctx)
    except CliError as exc:
        print(f"batchlane: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("batchlane: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `batchlane routes export | head`: not an error
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("BATCHLANE_DEBUG"):
            raise
        message = _aws_error(exc, ctx)
        if message is not None:
            print(f"batchlane: {message}", file=sys.stderr)
            return AWS_ERROR
        print(
            f"batchlane: internal error: {type(exc).__name__}: {exc} (BATCHLANE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
