"""``batchlane launch``: put a "Task Launch Requested" event on the deployment's bus, wait for
batchlane's answer and, with ``--wait``, follow the launch to its end.

    batchlane launch --project p --domain d --workflow w --task t --image busybox --command echo hi
    batchlane launch --file launch.yaml [--launch-id ID] --wait [--json]

The answer is read where it is portable, from the deployment itself: the launch record in the
executions table (``state: SUBMITTED``) means "Task Launched", and a ``rejection`` item written after
the launch was sent means "Task Launch Rejected" with its reasons. An answers queue (``<prefix>-answers``,
an SQS queue behind a rule ``source: batchlane`` on the bus; the sandbox provisions one) is a second
source. Neither within ``--answer-timeout`` seconds is reported as "no answer".

Exit codes: 0 launched (with ``--wait``: succeeded), 1 rejected, no answer, or (``--wait``)
failed / aborted / still running after ``--wait-timeout``, 2 invalid input, 3 AWS error.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from batchlane.cli.common import OK, USAGE, CliError, Commands, Context, add_command, min_success_ratio, read_text
from batchlane.client.answers import answers_queue_name
from batchlane.client.render import launched_lines, rejected_lines, sent_line, status_lines
from batchlane.common.event_types import LAUNCH_REQUESTED

NOT_OK = 1  # rejected, no answer, failed, aborted


# --- the launch detail ------------------------------------------------------------------------


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{what}: not valid JSON: {exc}", USAGE) from None


def load_file(path: str) -> dict[str, Any]:
    """A launch detail (docs/launch-event.md) in JSON or YAML."""
    import yaml

    text = read_text(path)
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid JSON or YAML: {' '.join(str(exc).split())}", USAGE) from None
    if not isinstance(document, dict):
        raise CliError(f"{path}: expected a launch detail (a mapping), got {type(document).__name__}", USAGE)
    return document


def _inputs_file(path: str) -> list[Any]:
    text = read_text(path)
    if path.endswith(".jsonl") or path.endswith(".ndjson"):
        inputs = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                inputs.append(_json_arg(line, f"{path} line {number}"))
        return inputs
    document = _json_arg(text, path)
    if not isinstance(document, list):
        raise CliError(f"{path}: expected a JSON list of inputs (or a .jsonl file, one input per line)", USAGE)
    return document


def _key_values(pairs: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"{what}: expected NAME=VALUE, got {pair!r}", USAGE)
        out[name] = value
    return out


# Top-level fields of the contract (docs/launch-event.md) set by a flag of the same name in kebab case.
CONTRACT_FLAGS = (
    "project",
    "domain",
    "workflow",
    "task",
    "role",
    "retries",
    "retryOn",
    "timeoutSeconds",
    "minSuccessRatio",
    "maxConcurrency",
    "shareIdentifier",
    "schedulingPriority",
    "queueHint",
    "propagateTags",
)


def _flag(key: str) -> str:
    """``timeoutSeconds`` -> ``--timeout-seconds``."""
    return "--" + "".join(f"-{c.lower()}" if c.isupper() else c for c in key)


def _dest(key: str) -> str:
    return _flag(key)[2:].replace("-", "_")


def generated_launch_id(task: str | None) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in (task or "launch"))[:60].strip("-._") or "launch"
    return f"{stem}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def _workload(args: argparse.Namespace, container: dict[str, Any]) -> dict[str, Any]:
    """The container fields of issue 28's flags (docs/launch-event.md#volumes-and-linux-parameters)."""
    fields: dict[str, Any] = {}
    secrets = _key_values(args.secret, "--secret")
    if secrets:
        fields["secrets"] = {**(container.get("secrets") or {}), **secrets}
    if args.mount:
        fields["mounts"] = [*(container.get("mounts") or []), *(_mount(text) for text in args.mount)]
    ulimits = {name: _ulimit(name, text) for name, text in _key_values(args.ulimit, "--ulimit").items()}
    if ulimits:
        fields["ulimits"] = {**(container.get("ulimits") or {}), **ulimits}
    for flag, key in (
        ("shm", "sharedMemoryMiB"),
        ("arch", "architecture"),
        ("ephemeral_storage", "ephemeralStorageGiB"),
    ):
        if getattr(args, flag) is not None:
            fields[key] = getattr(args, flag)
    if args.init:
        fields["initProcessEnabled"] = True
    return fields


def _mount(text: str) -> dict[str, Any]:
    volume, _, rest = text.partition(":")
    path, _, mode = rest.partition(":")
    if not volume or not path or mode not in ("", "ro", "rw"):
        raise CliError(f"--mount: expected VOLUME:PATH[:ro], got {text!r}", USAGE)
    return {"volume": volume, "path": path, **({"readOnly": True} if mode == "ro" else {})}


def _ulimit(name: str, text: str) -> dict[str, int]:
    soft, _, hard = text.partition(":")
    try:
        return {"soft": int(soft), "hard": int(hard or soft)}
    except ValueError:
        raise CliError(f"--ulimit: expected NAME=SOFT[:HARD] in whole numbers, got {name}={text}", USAGE) from None


def _after(text: str) -> dict[str, str]:
    launch_id, _, kind = text.partition(":")
    if not launch_id or kind not in ("", "ALL", "N_TO_N"):
        raise CliError(f"--after: expected LAUNCH_ID[:N_TO_N], got {text!r}", USAGE)
    return {"launchId": launch_id, **({"type": kind} if kind else {})}


def _nodes(text: str) -> dict[str, int]:
    count, _, main = text.partition(":")
    if not count.isdigit() or not (main == "" or main.isdigit()):
        raise CliError(f"--nodes: expected COUNT[:MAIN_NODE], got {text!r}", USAGE)
    return {"count": int(count), **({"mainNode": int(main)} if main else {})}


def build_detail(args: argparse.Namespace) -> dict[str, Any]:
    """The detail from ``--file`` (if any) with the flags on top of it."""
    detail: dict[str, Any] = load_file(args.file) if args.file else {}
    for key in CONTRACT_FLAGS:
        value = getattr(args, _dest(key))
        if value is not None:
            detail[key] = value
    parameters = _key_values(args.parameter, "--parameter")
    if parameters:
        detail["parameters"] = {**(detail.get("parameters") or {}), **parameters}
    container = detail.get("container", {})
    if isinstance(container, dict):  # otherwise left as it is: the deployment says what is wrong
        container = dict(container)
        if args.image is not None:
            container["image"] = args.image
        if args.command is not None:
            container["command"] = list(args.command)
        if args.platform is not None:
            container["platform"] = args.platform
        env = _key_values(args.env, "--env")
        if env:
            container["environment"] = {**(container.get("environment") or {}), **env}
        vcpu = int(args.vcpu) if args.vcpu is not None and float(args.vcpu).is_integer() else args.vcpu
        resources = {k: v for k, v in (("vcpu", vcpu), ("memory", args.memory), ("gpu", args.gpu)) if v is not None}
        if resources:
            container["resources"] = {**(container.get("resources") or {}), **resources}
        container.update(_workload(args, container))
        if container or "container" in detail:
            detail["container"] = container
    if args.input is not None:
        detail.pop("inputs", None)
        detail.pop("inputsLocation", None)
        detail["input"] = _json_arg(args.input, "--input")
    if args.inputs_file is not None:
        detail.pop("input", None)
        detail.pop("inputsLocation", None)
        detail["inputs"] = _inputs_file(args.inputs_file)
    if args.after:
        detail["after"] = [_after(text) for text in args.after]
    if args.nodes is not None:
        detail["nodes"] = _nodes(args.nodes)
    if args.inputs_location is not None:
        detail.pop("input", None)
        detail.pop("inputs", None)
        detail["inputsLocation"] = _json_arg(args.inputs_location, "--inputs-location")
    tags = _key_values(args.tag, "--tag")
    if tags:
        detail["tags"] = {**(detail.get("tags") or {}), **tags}
    if args.launch_id is not None:
        detail["launchId"] = args.launch_id
    elif not detail.get("launchId"):
        detail["launchId"] = generated_launch_id(detail.get("task") if isinstance(detail.get("task"), str) else None)
    if not detail.get("container") and not args.file:
        raise CliError("nothing to launch: give --image (and --project, --domain, --workflow, --task) or --file", USAGE)
    return detail


# --- the answer, and the launch followed to its end ------------------------------------------------


def _no_answer(ctx: Context, launch_id: str, answer, timeout: float) -> CliError:
    hint = (
        ""
        if answer.answers_queue
        else f"; no launch record and no rejection item (is the launcher consuming bus {ctx.config().bus_name}? "
        f"an SQS queue named {answers_queue_name(ctx.config().prefix)} behind a rule on source 'batchlane' "
        "shows its answers here too)"
    )
    return CliError(f"no answer for launch {launch_id} within {timeout:g} s{hint}", NOT_OK)


def _follow(args: argparse.Namespace, ctx: Context, client, launch_id: str, say) -> int:
    from batchlane.client.waiting import follow

    resume = f"batchlane status {launch_id} --follow"
    say(f"Following {launch_id} (Ctrl-C stops following, not the launch; {resume} resumes):")
    status = follow(client, launch_id, timeout=args.wait_timeout or None, poll=args.poll, say=say)
    doc, phase = status.document, status.phase
    if doc is None:
        raise CliError(f"launch {launch_id} has no status yet after {args.wait_timeout:g} s", NOT_OK)
    client.with_outputs(doc, ctx.warn)
    if args.json:
        ctx.emit_json(doc)
    else:
        ctx.lines(status_lines(doc))
    if phase is None:
        print(
            f"batchlane: launch {launch_id} is still {doc.get('phase')} after {args.wait_timeout:g} s", file=sys.stderr
        )
        return NOT_OK
    return OK if phase == "succeeded" else NOT_OK


def dry_run(ctx: Context, detail: dict[str, Any], json_output: bool) -> int:
    """The launcher's validation, locally: exit 0 (and the detail) when it passes, 2 with every problem."""
    from batchlane.client.validate import NOT_CHECKED, local_problems

    problems = local_problems(ctx.config(), detail)
    launch_id = str(detail.get("launchId"))
    if json_output:
        ctx.emit_json({"launchId": launch_id, "valid": not problems, "problems": problems, "detail": detail})
    elif problems:
        lines = rejected_lines(launch_id, problems)
        ctx.lines([f"Invalid {launch_id}: {len(problems)} problem(s); the launcher would reject it, nothing was sent"])
        ctx.lines(lines[1:])
    else:
        ctx.out(f"Valid: {launch_id} would be sent as it is (not checked here: {NOT_CHECKED}); nothing was sent")
    return USAGE if problems else OK


def cmd_launch(args: argparse.Namespace, ctx: Context) -> int:
    detail = build_detail(args)
    if args.dry_run:
        return dry_run(ctx, detail, args.json)
    return send(args, ctx, detail)


def send(args: argparse.Namespace, ctx: Context, detail: dict[str, Any]) -> int:
    """Put the launch, wait for its answer and, with ``--wait``, follow it (the options of
    :func:`add_sending_options`): the exit code of ``batchlane launch``."""
    from batchlane.client.waiting import wait_for_answer

    launch_id = str(detail["launchId"])
    say = ctx.progress(args.json)
    client = ctx.batchlane(args.source)  # the launch id is unique within the source's team
    client.put_launch(detail, args.source)
    if not args.json:
        ctx.out(sent_line(LAUNCH_REQUESTED, launch_id, client.bus_name, ctx.where))
    answer = wait_for_answer(client, launch_id, args.answer_timeout)
    if answer.kind == "none":
        raise _no_answer(ctx, launch_id, answer, args.answer_timeout)
    if answer.kind == "rejected":
        if args.json:
            ctx.emit_json({"launchId": launch_id, "phase": "rejected", "problems": answer.problems})
        else:
            ctx.lines(rejected_lines(launch_id, answer.problems))
        return NOT_OK
    record = answer.record
    if record is None:  # a launched answer carries its record
        raise _no_answer(ctx, launch_id, answer, args.answer_timeout)
    for line in launched_lines(record):
        say(line)
    if args.wait:
        return _follow(args, ctx, client, launch_id, say)
    if args.json:
        ctx.emit_json(
            {
                "launchId": launch_id,
                "phase": "launched",
                "jobId": record.job_id,
                "queue": record.queue,
                "routing": record.routing,
                "consoleUrl": record.console_url,
                "outputsUri": record.outputs_uri,
            }
        )
    return OK


def _task_options(p: argparse.ArgumentParser) -> None:
    """What the launch is: the task, its container, inputs and what it needs. Flags are named as the
    contract names its fields (docs/launch-event.md); the old short names stay as aliases for a release."""
    p.add_argument("--file", metavar="FILE", help="a launch detail, JSON or YAML ('-': stdin)")
    p.add_argument(
        "--launch-id", metavar="ID", help="launchId, the idempotency key (default: generated from the task name)"
    )
    for name, what in (
        ("project", "the Flyte project"),
        ("domain", "the Flyte domain"),
        ("workflow", "the workflow's name"),
        ("task", "the task's name"),
    ):
        p.add_argument(f"--{name}", metavar=name.upper(), help=f"{name}: {what} (routing matches on it)")
    p.add_argument("--image", metavar="IMAGE", help="container.image")
    p.add_argument(
        "--command",
        nargs=argparse.REMAINDER,
        metavar="ARG ...",
        help="container.command: everything after it (so it goes last)",
    )
    p.add_argument("--env", action="append", metavar="NAME=VALUE", help="container.environment (repeatable)")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument("--input", metavar="JSON", help="input: a single task's input document")
    inputs.add_argument(
        "--inputs-file", metavar="FILE", help="inputs of a map task: a .jsonl file (one per line) or a JSON list"
    )
    inputs.add_argument(
        "--inputs-location", metavar="JSON", help='inputsLocation, e.g. \'{"uri": "s3://b/k.jsonl", "size": 1000}\''
    )
    p.add_argument("--retries", type=int, metavar="N", help="retries after the first attempt (0-9)")
    p.add_argument("--retry-on", choices=("any", "infrastructure"), help="retryOn: which failed attempts are retried")
    p.add_argument(
        "--timeout-seconds", "--timeout", type=int, metavar="SECONDS", help="timeoutSeconds, per attempt (>= 60)"
    )
    p.add_argument("--platform", choices=("EC2", "FARGATE"), help="container.platform (default: the queue's)")
    p.add_argument("--vcpu", type=float, metavar="N", help="container.resources.vcpu per child")
    p.add_argument("--memory", type=int, metavar="MIB", help="container.resources.memory per child")
    p.add_argument("--gpu", type=int, metavar="N", help="container.resources.gpu per child (EC2)")
    p.add_argument("--role", metavar="ARN", help="role: the job role ARN (default: the deployment's)")
    p.add_argument(
        "--parameter", action="append", metavar="NAME=VALUE", help="parameters: Ref::NAME in the command (repeatable)"
    )
    p.add_argument("--queue-hint", metavar="QUEUE", help="queueHint: a preferred queue among the routing's candidates")
    p.add_argument(
        "--propagate-tags",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="propagateTags: copy the job's tags to its ECS tasks (default yes)",
    )
    p.add_argument("--secret", action="append", metavar="NAME=REF", help="ssm:/path or secretsmanager:ARN[:key]")
    p.add_argument("--mount", action="append", metavar="VOLUME:PATH[:ro]", help="a volume the deployment declares")
    p.add_argument("--shm", type=int, metavar="MIB", help="/dev/shm size (sharedMemoryMiB, EC2)")
    p.add_argument("--ulimit", action="append", metavar="NAME=SOFT[:HARD]", help="nofile, nproc, memlock, stack, core")
    p.add_argument("--init", action="store_true", help="run an init process in the container")
    p.add_argument("--arch", choices=("X86_64", "ARM64"), help="the image's CPU architecture")
    p.add_argument("--ephemeral-storage", type=int, metavar="GIB", help="Fargate task storage (21-200)")
    p.add_argument("--after", action="append", metavar="LAUNCH_ID[:N_TO_N]", help="wait for that launch")
    p.add_argument("--nodes", metavar="COUNT[:MAIN_NODE]", help="one multi-node parallel job of COUNT nodes (EC2)")


def register(subparsers: Commands) -> None:
    p = add_command(
        subparsers,
        "launch",
        cmd_launch,
        help="launch a task or map task (Task Launch Requested) and wait for the answer",
        description=(
            "Put a Task Launch Requested event on the deployment's bus (docs/launch-event.md), from flags\n"
            "or a launch detail file (JSON or YAML; flags override its fields), and wait for the answer:\n"
            "the launch record (Task Launched) or, where the deployment has an answers queue, the\n"
            "Task Launch Rejected event with its problems. --wait follows the status to the end.\n\n"
            "exit codes: 0 launched (--wait: succeeded), 1 rejected, no answer, failed or aborted,\n"
            "2 invalid input, 3 AWS error"
        ),
    )
    _task_options(p)
    p.add_argument(
        "--min-success-ratio",
        type=min_success_ratio,
        metavar="R",
        help="minSuccessRatio, map tasks: the fraction that must succeed, 0..1",
    )
    p.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="maxConcurrency, map tasks: at most N children run at once (docs/chunked-maps.md)",
    )
    p.add_argument("--share-identifier", "--share", metavar="ID", help="shareIdentifier (fair-share queues)")
    p.add_argument(
        "--scheduling-priority", type=int, metavar="N", help="schedulingPriority (fair-share queues): 0-9999"
    )
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="tags: a cost-allocation tag (repeatable)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the launch locally as the launcher would (every problem at once) and send nothing",
    )
    add_sending_options(p)


def add_sending_options(p: argparse.ArgumentParser) -> None:
    """How a launch is sent and followed (:func:`send`)."""
    p.add_argument("--source", default="batchlane.cli", help="the event's source (default batchlane.cli)")
    p.add_argument("--wait", action="store_true", help="follow the status live until the launch ends")
    p.add_argument(
        "--wait-timeout", type=float, default=0, metavar="SECONDS", help="stop following after (default: never)"
    )
    p.add_argument(
        "--answer-timeout",
        type=float,
        default=30,
        metavar="SECONDS",
        help="how long to wait for batchlane's answer (default 30)",
    )
    p.add_argument("--poll", type=float, default=0.5, metavar="SECONDS", help=argparse.SUPPRESS)
