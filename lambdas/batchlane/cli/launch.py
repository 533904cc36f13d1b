"""``batchlane launch``: put a "Task Launch Requested" event on the deployment's bus, wait for
batchlane's answer and, with ``--wait``, follow the launch to its end.

    batchlane launch --project p --domain d --workflow w --task t --image busybox --command echo hi
    batchlane launch --file launch.yaml [--launch-id ID] --wait [--json]

The answer is read where it is portable, from the deployment itself: the launch record in the
executions table (``state: SUBMITTED``) means "Task Launched". A rejection leaves no record, so
when the deployment has an answers queue (``<prefix>-answers``, an SQS queue behind a rule
``source: batchlane`` on the bus; the sandbox provisions one, a deployment can add the same),
the rejection and its reasons are read from it; without one, no record within
``--answer-timeout`` seconds is reported as "no answer".

Exit codes: 0 launched (with ``--wait``: succeeded), 1 rejected, no answer, or (``--wait``)
failed / aborted / still running after ``--wait-timeout``, 2 invalid input, 3 AWS error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from batchlane import LAUNCH_REJECTED as REJECTED, LAUNCH_REQUESTED, LAUNCHED  # noqa: F401
from batchlane.cli.common import OK, USAGE, AWS_ERROR, CliError, Context, add_command

NOT_OK = 1  # rejected, no answer, failed, aborted
FINAL_PHASES = ("succeeded", "failed", "aborted")
SUBMITTED = "SUBMITTED"
COUNT_ORDER = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
SETTLE_SECONDS = 10  # after a failed launch was stopped: how long to wait for its children to end
STALE_ANSWER_SECONDS = 600  # answers nobody took are dropped from the answers queue after this


def answers_queue_name(config) -> str:
    """The optional answers queue of a deployment (the sandbox has one): ``<prefix>-answers``."""
    return f"{config.prefix}-answers"


# --- the launch detail ------------------------------------------------------------------------

def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{what}: not valid JSON: {exc}", USAGE) from None


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it: {exc}", USAGE) from None


def _load_file(path: str) -> dict[str, Any]:
    """A launch detail (docs/launch-event.md) in JSON or YAML."""
    import yaml

    text = _read(path)
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid JSON or YAML: {' '.join(str(exc).split())}", USAGE) from None
    if not isinstance(document, dict):
        raise CliError(f"{path}: expected a launch detail (a mapping), got {type(document).__name__}", USAGE)
    return document


def _inputs_file(path: str) -> list[Any]:
    text = _read(path)
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


def generated_launch_id(task: str | None) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in (task or "launch"))[:60].strip("-._") or "launch"
    return f"{stem}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def build_detail(args: argparse.Namespace) -> dict[str, Any]:
    """The detail from ``--file`` (if any) with the flags on top of it."""
    detail: dict[str, Any] = _load_file(args.file) if args.file else {}
    for flag, key in (("project", "project"), ("domain", "domain"), ("workflow", "workflow"), ("task", "task"),
                      ("role", "role"), ("retries", "retries"), ("timeout", "timeoutSeconds"),
                      ("min_success_ratio", "minSuccessRatio"), ("share", "shareIdentifier")):
        value = getattr(args, flag)
        if value is not None:
            detail[key] = value
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


# --- talking to the deployment --------------------------------------------------------------

def put_event(ctx: Context, detail_type: str, detail: dict[str, Any], source: str, bus: str | None = None) -> None:
    """Put one event on the deployment's bus, as any client would."""
    bus = bus or ctx.config().bus_name
    response = ctx.client("events").put_events(Entries=[{
        "Source": source, "DetailType": detail_type, "EventBusName": bus, "Detail": json.dumps(detail)}])
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise CliError(f"AWS error: PutEvents on bus {bus} refused the {detail_type} event: "
                       f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}", AWS_ERROR)


def launch_record(ctx: Context, launch_id: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    from batchlane.common.values import from_dynamo

    item = ctx.client("dynamodb").get_item(TableName=ctx.table_name("executions"), ConsistentRead=True,
                                           Key={"launchId": {"S": launch_id}, "sk": {"S": "launch"}}).get("Item")
    if not item:
        return None
    des = TypeDeserializer()
    return from_dynamo({k: des.deserialize(v) for k, v in item.items()})


class AnswersQueue:
    """The optional answers queue: read without taking other clients' answers (visibility 0),
    delete our own answer and answers nobody took for a long time."""

    def __init__(self, ctx: Context) -> None:
        self.sqs = ctx.client("sqs")
        self.url: str | None = None
        try:
            self.url = self.sqs.get_queue_url(QueueName=answers_queue_name(ctx.config()))["QueueUrl"]
        except Exception as exc:  # noqa: BLE001 - no such queue: the record is the only answer
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if "NonExistentQueue" not in code and "QueueDoesNotExist" not in code:
                raise

    def find(self, launch_id: str, detail_types: tuple[str, ...] = (LAUNCHED, REJECTED)) -> dict[str, Any] | None:
        """The event of one of ``detail_types`` batchlane answered ``launch_id`` with, if it is in the
        queue (the last type wins when several are there: the rejection)."""
        if self.url is None:
            return None
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                            AttributeNames=["SentTimestamp"]).get("Messages", [])
        found = None
        now_ms = time.time() * 1000
        for m in messages:
            try:
                event = json.loads(m["Body"])
            except ValueError:
                event = {}
            mine = (event.get("detail") or {}).get("launchId") == launch_id and \
                event.get("detail-type") in detail_types
            stale = now_ms - int(m.get("Attributes", {}).get("SentTimestamp", now_ms)) > STALE_ANSWER_SECONDS * 1000
            if mine or stale:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            if mine and (found is None or event["detail-type"] == detail_types[-1]):
                found = event
        return found


def wait_for_answer(ctx: Context, launch_id: str, timeout: float, poll: float = 0.3) -> tuple[str, dict[str, Any]]:
    """("launched", record or Task Launched detail) | ("rejected", Task Launch Rejected detail)
    | ("none", {}) after ``timeout`` seconds."""
    answers = AnswersQueue(ctx)
    deadline = time.monotonic() + timeout
    while True:
        record = launch_record(ctx, launch_id)
        if record and record.get("state") == SUBMITTED:
            return "launched", record
        event = answers.find(launch_id)
        if event is not None:
            if event["detail-type"] == REJECTED:
                return "rejected", event["detail"]
            # Launched: the record says the same (and more); it is written before the answer.
            record = launch_record(ctx, launch_id)
            return "launched", record or event["detail"]
        if time.monotonic() >= deadline:
            return "none", {"answersQueue": answers.url}
        time.sleep(poll)


# --- following the status ---------------------------------------------------------------------

def _status(ctx: Context, launch_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The status document (record_document) and the stored phase."""
    from batchlane.cli.status import _items
    from batchlane.common.executions import SUMMARY_SK
    from batchlane.status.view import record_document

    items = _items(ctx, launch_id)
    summary = next((i for i in items if i.get("sk") == SUMMARY_SK), {})
    return record_document(items), summary.get("phase")


def counts_text(doc: dict[str, Any]) -> str:
    counts = doc.get("counts") or {}
    names = [k for k in COUNT_ORDER if counts.get(k)] + [k for k in counts if k not in COUNT_ORDER and counts[k]]
    return "  ".join(f"{k} {counts[k]}" for k in names) or "-"


def _settled(doc: dict[str, Any]) -> bool:
    counts = doc.get("counts") or {}
    return int(counts.get("SUCCEEDED", 0)) + int(counts.get("FAILED", 0)) >= int(doc.get("size") or 1)


def follow(ctx: Context, launch_id: str, *, timeout: float | None, poll: float, say) -> tuple[dict | None, str | None]:
    """Poll the launch's status until its stored phase is final; ``say`` gets a line per phase
    change and per change of the counts."""
    t0 = time.monotonic()
    last_phase, last_counts = None, None
    settle_until: float | None = None
    while True:
        doc, stored = _status(ctx, launch_id)
        if doc is not None:
            elapsed = time.monotonic() - t0
            phase = stored or doc.get("phase")
            if phase != last_phase:
                say(f"  [{elapsed:5.1f} s] phase {phase}: {doc.get('reason') or ''}".rstrip(": "))
                last_phase = phase
            counts = counts_text(doc)
            if counts != last_counts:
                say(f"  [{elapsed:5.1f} s]   {counts}   (of {doc.get('size')}, success needs {doc.get('minSuccesses')})")
                last_counts = counts
        if stored in FINAL_PHASES:
            if doc and doc.get("terminated") and not _settled(doc) and time.monotonic() < (settle_until or 0):
                time.sleep(poll)  # the stopped children's FAILED events are on their way
                continue
            if settle_until is None and doc and doc.get("terminated") and not _settled(doc):
                settle_until = time.monotonic() + SETTLE_SECONDS
                say(f"  [{time.monotonic() - t0:5.1f} s] the remaining children are being stopped (TerminateJob)")
                continue
            return doc, stored
        if timeout and time.monotonic() - t0 > timeout:
            return doc, None
        time.sleep(poll)


def _describe_launched(ctx: Context, launch_id: str, record: dict[str, Any], out) -> None:
    routing = record.get("routing") or {}
    size = int(record.get("size") or 1)
    what = f"array job of {size} children" if record.get("isArray") else "job"
    out(f"Launched {launch_id}: {what} {record.get('jobId')} on queue {record.get('queue')}")
    if routing:
        out(f"  routing: {routing.get('reason') or ''}".rstrip())
    if record.get("consoleUrl"):
        out(f"  console: {record['consoleUrl']}")


def cmd_launch(args: argparse.Namespace, ctx: Context) -> int:
    detail = build_detail(args)
    launch_id = str(detail["launchId"])
    json_out = args.json
    say = (lambda text: print(text, file=sys.stderr)) if json_out else ctx.out
    put_event(ctx, LAUNCH_REQUESTED, detail, args.source)
    if not json_out:
        ctx.out(f"Sent Task Launch Requested {launch_id} to bus {ctx.config().bus_name} ({ctx.where})")
    kind, answer = wait_for_answer(ctx, launch_id, args.answer_timeout)
    if kind == "none":
        hint = ("" if answer.get("answersQueue") else
                f"; a rejection leaves no record: its reasons are in the 'Task Launch Rejected' event on bus "
                f"{ctx.config().bus_name} (an SQS queue named {answers_queue_name(ctx.config())} behind a rule "
                "on source 'batchlane' lets this command show them)")
        raise CliError(f"no answer for launch {launch_id} within {args.answer_timeout:g} s{hint}", NOT_OK)
    if kind == "rejected":
        problems = answer.get("problems") or []
        if json_out:
            ctx.emit_json({"launchId": launch_id, "phase": "rejected", "problems": problems})
        else:
            ctx.out(f"Rejected {launch_id}: {len(problems)} problem(s)")
            for p in problems:
                ctx.out(f"  {p.get('field')}: {p.get('message')}")
        return NOT_OK
    if "state" not in answer:  # the answer, not the record (it was not readable)
        answer = {**answer, "size": answer.get("arraySize") or 1, "isArray": bool(answer.get("arraySize"))}
    _describe_launched(ctx, launch_id, answer, say)
    if not args.wait:
        if json_out:
            ctx.emit_json({"launchId": launch_id, "phase": "launched", "jobId": answer.get("jobId"),
                           "queue": answer.get("queue"), "routing": answer.get("routing"),
                           "consoleUrl": answer.get("consoleUrl"), "outputsUri": answer.get("outputsUri")})
        return OK
    say(f"Following {launch_id} (Ctrl-C stops following, not the launch):")
    doc, phase = follow(ctx, launch_id, timeout=args.wait_timeout or None, poll=args.poll, say=say)
    if doc is None:
        raise CliError(f"launch {launch_id} has no status yet after {args.wait_timeout:g} s", NOT_OK)
    if doc.get("outputsUri"):
        from batchlane.cli.status import _read_outputs

        doc["outputs"] = _read_outputs(ctx, doc["outputsUri"])
    if json_out:
        ctx.emit_json(doc)
    else:
        from batchlane.cli.status import _print

        _print(ctx, doc)
    if phase is None:
        print(f"batchlane: launch {launch_id} is still {doc.get('phase')} after {args.wait_timeout:g} s", file=sys.stderr)
        return NOT_OK
    return OK if phase == "succeeded" else NOT_OK


def _ratio(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    return number


def register(subparsers) -> None:
    p = add_command(
        subparsers, "launch", cmd_launch,
        help="launch a task or map task (Task Launch Requested) and wait for the answer",
        description=(
            "Put a Task Launch Requested event on the deployment's bus (docs/launch-event.md), from flags\n"
            "or a launch detail file (JSON or YAML; flags override its fields), and wait for the answer:\n"
            "the launch record (Task Launched) or, where the deployment has an answers queue, the\n"
            "Task Launch Rejected event with its problems. --wait follows the status to the end.\n\n"
            "exit codes: 0 launched (--wait: succeeded), 1 rejected, no answer, failed or aborted,\n"
            "2 invalid input, 3 AWS error"))
    p.add_argument("--file", metavar="FILE", help="a launch detail, JSON or YAML ('-': stdin)")
    p.add_argument("--launch-id", metavar="ID", help="idempotency key (default: generated from the task name)")
    for name in ("project", "domain", "workflow", "task"):
        p.add_argument(f"--{name}", metavar=name.upper())
    p.add_argument("--image", metavar="IMAGE")
    p.add_argument("--command", nargs=argparse.REMAINDER, metavar="ARG ...",
                   help="the container's command: everything after it (so it goes last)")
    p.add_argument("--env", action="append", metavar="NAME=VALUE", help="container environment (repeatable)")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument("--input", metavar="JSON", help="single task: its input document")
    inputs.add_argument("--inputs-file", metavar="FILE", help="map task: a .jsonl file (one input per line) or a JSON list")
    p.add_argument("--retries", type=int, metavar="N")
    p.add_argument("--timeout", type=int, metavar="SECONDS", help="per attempt (timeoutSeconds)")
    p.add_argument("--platform", choices=("EC2", "FARGATE"))
    p.add_argument("--vcpu", type=float, metavar="N")
    p.add_argument("--memory", type=int, metavar="MIB")
    p.add_argument("--gpu", type=int, metavar="N")
    p.add_argument("--role", metavar="ARN|NAME")
    p.add_argument("--min-success-ratio", type=_ratio, metavar="R", help="map tasks: fraction that must succeed")
    p.add_argument("--share", metavar="ID", help="shareIdentifier (fair-share queues)")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="cost-allocation tag (repeatable)")
    p.add_argument("--source", default="batchlane.cli", help="the event's source (default batchlane.cli)")
    p.add_argument("--wait", action="store_true", help="follow the status live until the launch ends")
    p.add_argument("--wait-timeout", type=float, default=0, metavar="SECONDS", help="stop following after (default: never)")
    p.add_argument("--answer-timeout", type=float, default=30, metavar="SECONDS",
                   help="how long to wait for batchlane's answer (default 30)")
    p.add_argument("--poll", type=float, default=0.5, metavar="SECONDS", help=argparse.SUPPRESS)
