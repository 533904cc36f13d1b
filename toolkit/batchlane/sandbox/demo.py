"""``batchlane sandbox demo``: a narrated tour of batchlane on the local sandbox.

Each step (``STEPS``, run in order) does what the ``batchlane`` command it prints does, through the
client layer the CLI runs (``batchlane.client``) and the routing domain, against the sandbox; it
shows what the command would print and checks that batchlane behaved. The tour ends with exit code
0 only when every step did. Handler logs go to a file (``--log-file``), not the screen.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from batchlane.client.launches import list_launches
from batchlane.client.render import (
    LONG_VIEW,
    decision_lines,
    describe_item,
    launched_lines,
    launches_lines,
    rejected_lines,
    sent_line,
    status_lines,
    table_text,
)
from batchlane.client.routing import SAMPLE_LAUNCH_ID, RoutingTableStore
from batchlane.client.waiting import Answer, follow, wait_for_answer
from batchlane.common.event_types import LAUNCH_REQUESTED
from batchlane.flyteadmin import parse_flyte_config
from batchlane.routing import Rule, Scope, decide
from batchlane.routing.items import SORT_ATTR, items_from_table, rule_item, table_from_items
from batchlane.sandbox.core import Sandbox

EXAMPLES = Path(__file__).parent / "examples"
FLYTE_CONFIG = EXAMPLES / "flyteadmin-queues.yaml"
MAP_LAUNCH = EXAMPLES / "map-launch.yaml"
SCENARIO = EXAMPLES / "demo-scenario.yaml"
WORD_STATS_LAUNCH = EXAMPLES / "word-stats-launch.yaml"  # run for real: `execute: local` in SCENARIO
CACHE_SECONDS = 3  # the demo's routingCacheSeconds (deployments: 30 by default)
SOURCE = "sandbox.demo"  # the source of the demo's launch events
HELLO = {"project": "flytesnacks", "domain": "development", "workflow": "hello", "task": "hello.say"}
OUTPUT_INDENT = "     "  # what a command prints, under the command line


class StepFailed(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


T = TypeVar("T")


def expect_value(value: T | None, message: str) -> T:
    """``value``, which the step expects to be there."""
    if value is None:
        raise StepFailed(message)
    return value


def _wait(predicate, timeout: float, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    return None


def launch_flags(detail: dict[str, Any], *, wait: bool = False) -> str:
    """The ``batchlane launch`` command line that makes ``detail`` (the fields the demo's launches use)."""
    container = detail.get("container") or {}
    flags = [
        ("--launch-id", detail.get("launchId")),
        *((f"--{k}", detail.get(k)) for k in HELLO),
        ("--image", container.get("image")),
        ("--input", json.dumps(detail["input"]) if "input" in detail else None),
        ("--retries", detail.get("retries")),
        ("--vcpu", (container.get("resources") or {}).get("vcpu")),
    ]
    words = [word for flag, value in flags if value is not None for word in (flag, str(value))]
    if wait:
        words.append("--wait")
    if container.get("command"):  # it takes everything after it: last
        words += ["--command", *container["command"]]
    return "launch " + " ".join(shlex.quote(w) for w in words)


@dataclass
class Tour:
    sandbox: Sandbox
    out: Any = field(default_factory=lambda: sys.stdout)
    log_stream: Any = None  # where the handlers' output goes
    number: int = 0
    results: list[tuple[str, bool, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    @property
    def prefix(self) -> str:
        return self.sandbox.config.prefix

    @property
    def where(self) -> str:
        """Where the commands' AWS calls would go, as they say it."""
        return f"endpoint {self.sandbox.endpoint}"

    def say(self, text: str = "") -> None:
        for line in text.splitlines() or [""]:
            self.out.write(f"   {line}\n" if line else "\n")
        self.out.flush()

    def command(self, shown: str) -> None:
        """The command line the step stands for."""
        self.say(f"$ batchlane {shown}")

    def show(self, lines: list[str]) -> None:
        """What the command prints, indented under it."""
        for line in lines:
            self.out.write(f"{OUTPUT_INDENT}{line}\n")
        self.out.flush()

    def step(self, title: str, body: Callable[[Tour], str | None]) -> bool:
        self.number += 1
        started = time.monotonic()
        self.out.write(f"\n{self.number}. {title}\n")
        self.out.flush()
        try:
            note = body(self) or ""
            ok = True
        except StepFailed as exc:
            ok, note = False, str(exc)
        except Exception as exc:
            ok, note = False, f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        mark = "ok" if ok else "PROBLEM"
        self.say(f"-> {mark} ({seconds:.1f} s){': ' + note if note else ''}")
        self.results.append((title, ok, note))
        return ok

    def routing(self) -> RoutingTableStore:
        return RoutingTableStore(self.sandbox.session.resource("dynamodb"), self.sandbox.config.table_name("routing"))

    def launch(self, detail: dict[str, Any], shown: str, *, wait: bool = False, source: str = SOURCE) -> Answer:
        """``batchlane launch``: put the event (from ``source``), wait for the answer and, with
        ``wait``, follow the launch to its end, showing what the command shows."""
        launch_id = detail["launchId"]
        client = self.sandbox.client if source == SOURCE else self.sandbox.client_for(source)
        self.command(shown)
        client.put_launch(detail, source)
        self.show([sent_line(LAUNCH_REQUESTED, launch_id, client.bus_name, self.where)])
        answer = wait_for_answer(client, launch_id, timeout=30)
        expect(answer.kind != "none", f"no answer for launch {launch_id} within 30 s")
        if answer.kind == "rejected":
            self.show(rejected_lines(launch_id, answer.problems))
            return answer
        self.show(launched_lines(expect_value(answer.record, f"launch {launch_id} launched without a record")))
        if wait:
            self.show([f"Following {launch_id} (Ctrl-C stops following, not the launch):"])
            followed = follow(client, launch_id, timeout=60, poll=0.5, say=lambda line: self.show([line]))
            document = expect_value(followed.document, f"launch {launch_id} did not end within 60 s")
            expect(followed.final, f"launch {launch_id} did not end within 60 s")
            self.show(status_lines(client.with_outputs(document), LONG_VIEW))  # the tour shows every link
        return answer


# --- the steps -----------------------------------------------------------------------------------


def start_sandbox(tour: Tour) -> str:
    sandbox, config = tour.sandbox, tour.sandbox.config
    with redirect_stdout(tour.log_stream):  # the handlers' loggers are created here: logs to the file
        sandbox.start()
    tour.say(
        f"An AWS emulator (moto) at {sandbox.endpoint}, with what deployment '{config.name}' has:\n"
        f"the bus {config.bus_name}, DynamoDB tables, the S3 bucket, the SQS buffers and DLQs,\n"
        f"Batch queues {', '.join(sandbox.deployment.queue_arns)}.\n"
        "batchlane's real launcher and aggregator consume the buffers as the Lambda service would;\n"
        "a simulated AWS Batch runs the jobs and emits their events, logs and outputs.\n"
        f"Routing cache: {CACHE_SECONDS} s here (routingCacheSeconds; deployments default to 30 s).\n"
        f"The commands below would reach the sandbox through AWS_ENDPOINT_URL={sandbox.endpoint}"
    )
    return f"up in {sandbox.started_in:.1f} s"


def import_routing(tour: Tour) -> str:
    store = tour.routing()
    store.write(deletes=list(store.items()))
    tour.say(
        f"Start from an empty routing table, then load FlyteAdmin's queue config\n"
        f"(the seed guide's three-queue example: {FLYTE_CONFIG.name})."
    )
    tour.command(f"routes import {FLYTE_CONFIG.name}")
    table = parse_flyte_config(FLYTE_CONFIG.read_text(), str(FLYTE_CONFIG))
    items = items_from_table(table)
    store.write(puts=items)
    tour.show(
        [
            f"Imported {FLYTE_CONFIG.name} into table {store.name} ({tour.where}): {len(table.queues)} queues, "
            f"{len(table.rules)} rules",
            *table_text([["added", item[SORT_ATTR], describe_item(item)] for item in items]),
            f"{len(items)} added.",
        ]
    )
    stored = store.items()
    expect(
        sorted(stored) == sorted(item[SORT_ATTR] for item in items),
        f"expected 3 queues and 4 rules in the table, found {sorted(stored)}",
    )
    return "3 queues and 4 rules, one DynamoDB item each"


def explain_route(tour: Tour) -> str:
    project, domain, workflow = "production", "development", "my_workflow_2"
    launch = Scope(project, domain, workflow)
    tour.say("Which queue would workflow my_workflow_2 of project production get?")
    tour.command("routes explain " + " ".join(f"--{k} {v}" for k, v in launch.named().items()))
    store = tour.routing()
    table, problems = table_from_items(store.items())
    expect(not problems, f"malformed routing items: {problems}")
    decision = decide(table, project, domain, workflow, SAMPLE_LAUNCH_ID)
    tour.show(
        decision_lines(
            decision,
            launch=launch,
            launch_id=SAMPLE_LAUNCH_ID,
            sample=True,
            source=f"table {store.name} ({tour.where})",
        )
    )
    expect(decision.queue == f"{tour.prefix}-gpu_dynamic", f"expected the gpu queue, got {decision.queue}")
    return "the rule naming the project and workflow wins: tag gpu"


def single_task(tour: Tour) -> str:
    tour.say("A client puts a Task Launch Requested event on the bus; --wait follows the status.")
    detail = {
        "launchId": "demo-hello",
        **HELLO,
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
        "input": {"name": "world"},
    }
    tour.launch(detail, launch_flags(detail, wait=True), wait=True)
    doc = tour.sandbox.status("demo-hello") or {}
    expect(doc.get("phase") == "succeeded", f"phase {doc.get('phase')}")
    expect((doc.get("outputs") or {}).get("echo") == {"name": "world"}, "outputs not assembled")
    return f"succeeded on {doc.get('queue')}; outputs from S3"


def map_task(tour: Tour) -> str:
    tour.say(
        "8 children, one retry each, minSuccessRatio 0.75 (6 of 8 needed). The simulated Batch\n"
        f"({SCENARIO.name}): child 2 exits 1 and child 5 cannot pull its image on the first\n"
        "attempt (both retried), child 6 fails both attempts. The launch still succeeds."
    )
    tour.launch(yaml.safe_load(MAP_LAUNCH.read_text()), f"launch --file {MAP_LAUNCH.name} --wait", wait=True)
    doc = tour.sandbox.status("demo-map") or {}
    counts = doc.get("counts") or {}
    expect(doc.get("phase") == "succeeded", f"phase {doc.get('phase')}")
    expect(counts.get("SUCCEEDED") == 7 and counts.get("FAILED") == 1, f"counts {counts}")
    children = {c["index"]: c for c in doc.get("children", [])}
    expect(
        children.get(2, {}).get("attempts") == 2 and len(children[2]["logs"]) == 2,
        "child 2: expected 2 attempts with a log link each",
    )
    expect(children.get(6, {}).get("status") == "FAILED", "child 6 should have failed")
    echo = (doc.get("outputs") or {}).get("echo") or []
    expect(len(echo) == 8 and echo[6] is None and echo[0] is not None, "outputs: 8 slots, child 6 empty")
    _show_first_attempt_log(tour, "demo-map", 2)
    return "7 of 8 succeeded (6 needed); outputs assembled in index order, child 6's slot empty"


def real_job(tour: Tour) -> str:
    detail = yaml.safe_load(WORD_STATS_LAUNCH.read_text())
    tour.say(
        "Jobs can also run for real. The demo scenario marks this launch `execute: local`: each child\n"
        "runs examples/jobs/word_stats.py as a process on this machine (no Docker), with the variables\n"
        "Batch gives a container (AWS_BATCH_JOB_ARRAY_INDEX, BATCHLANE_INPUTS_URI, ...) and AWS_ENDPOINT_URL\n"
        "pointing at the sandbox: it reads its input line from S3 and writes its outputs there.\n"
        "Child 3's input has no text: the script exits 2, is retried, and fails again."
    )
    tour.launch(detail, f"launch --file {WORD_STATS_LAUNCH.name} --wait", wait=True)
    doc = tour.sandbox.status(detail["launchId"]) or {}
    counts = doc.get("counts") or {}
    expect(doc.get("phase") == "succeeded", f"phase {doc.get('phase')}")
    expect(counts.get("SUCCEEDED") == 4 and counts.get("FAILED") == 1, f"counts {counts}")
    words = (doc.get("outputs") or {}).get("words") or []
    expect(len(words) == 5 and words[0] == 12 and words[3] is None, f"outputs.words {words}")
    _show_first_attempt_log(tour, detail["launchId"], 3)
    return "4 of 5 outputs computed by the script; child 3's own stderr in its log stream"


def _show_first_attempt_log(tour: Tour, launch_id: str, index: int) -> None:
    """What the log link of the child's first attempt shows."""
    group = tour.sandbox.config.job_log_group
    stream = tour.sandbox.executor.log_stream(launch_id, index, 0) if tour.sandbox.executor else None
    if stream:
        events = tour.sandbox.session.client("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
        tour.say(f"Child {index}'s first attempt, CloudWatch Logs {group} / {stream}:")
        for e in events:
            tour.say(f"  {e['message']}")


def reroute(tour: Tour) -> str:
    prefix = tour.prefix
    tour.say("An operator sends project flytesnacks to the critical queue: one DynamoDB item.")
    tour.command("routes set rule flytesnacks --project flytesnacks --tags critical")
    item = rule_item(Rule("flytesnacks", ("critical",), Scope(project="flytesnacks")))
    tour.routing().put(item)
    tour.show([f"Created rule flytesnacks: {describe_item(item)}"])
    tour.say(f"The launcher caches routing for routingCacheSeconds ({CACHE_SECONDS} s here): waiting it out.")
    time.sleep(CACHE_SECONDS + 0.5)
    detail = {"launchId": "demo-rerouted", **HELLO, "container": {"image": "busybox:1.36"}, "input": {"name": "again"}}
    answer = tour.launch(detail, launch_flags(detail))
    queue = answer.record.queue if answer.record else None
    expect(queue == f"{prefix}-critical", f"went to {queue}, not {prefix}-critical")
    return f"the next launch went to {prefix}-critical (before: {prefix}-default)"


def rejected(tour: Tour) -> str:
    tour.say("No image, 12 retries (at most 9), 0 vCPU: batchlane lists every problem at once.")
    detail = {"launchId": "demo-bad", **HELLO, "container": {"image": "", "resources": {"vcpu": 0}}, "retries": 12}
    answer = tour.launch(detail, launch_flags(detail))
    expect(answer.kind == "rejected", f"expected a rejection, got {answer.kind}")
    fields = sorted(str(p.get("field")) for p in answer.problems)
    expect(fields == ["container.image", "container.resources.vcpu", "retries"], f"problems of {fields}")
    expect(tour.sandbox.launch_record("demo-bad") is None, "a rejected launch must leave no record")
    return "Task Launch Rejected, nothing submitted"


def unauthorised(tour: Tour) -> str:
    teams = ", ".join(f"{t.name} ({', '.join(t.sources)})" for t in tour.sandbox.config.teams)
    tour.say(
        f"Producers are identities: the event's source names a team ({teams}).\n"
        "Team genomics may launch into project genomics only; here it tries flytesnacks."
    )
    detail = {"launchId": "demo-intruder", **HELLO, "container": {"image": "busybox:1.36"}, "input": {}}
    answer = tour.launch(detail, launch_flags(detail) + " --source genomics.pipelines", source="genomics.pipelines")
    expect(answer.kind == "rejected", f"expected a rejection, got {answer.kind}")
    expect([p.get("field") for p in answer.problems] == ["source"], f"problems {answer.problems}")
    expect(tour.sandbox.launch_record("demo-intruder") is None, "a rejected launch must leave no record")
    return "Task Launch Rejected (field source), before any AWS call"


def poison(tour: Tour) -> str:
    sandbox = tour.sandbox
    launcher = sandbox.paths["launcher"]
    tour.say(
        "A broken producer leaves a message that is not an event on the launcher's buffer,\n"
        "next to a good launch. The good one is launched; the bad one is retried, then kept\n"
        f"in the dead-letter queue after maxReceiveCount ({launcher.max_receive_count} here) receives."
    )
    good = {
        "version": "0",
        "id": "demo-batchmate",
        "detail-type": LAUNCH_REQUESTED,
        "source": SOURCE,
        "account": sandbox.deployment.account,
        "time": "2026-01-01T00:00:00Z",
        "region": sandbox.config.region,
        "resources": [],
        "detail": {
            "launchId": "demo-batchmate",
            "project": "p",
            "domain": "development",
            "workflow": "w",
            "task": "t",
            "container": {"image": "busybox:1.36"},
            "input": {},
        },
    }
    sandbox.session.client("sqs").send_message_batch(
        QueueUrl=launcher.queue_url,
        Entries=[{"Id": "poison", "MessageBody": "not json {"}, {"Id": "good", "MessageBody": json.dumps(good)}],
    )
    tour.say(
        f"$ aws sqs send-message-batch --queue-url .../{launcher.queue_url.rsplit('/', 1)[-1]} "
        '("not json {" and a good launch)'
    )
    launched = _wait(lambda: (r := sandbox.launch_record("demo-batchmate")) and r.submitted, timeout=15)
    expect(bool(launched), "the good message of the batch was not launched")
    dead = _wait(lambda: sandbox.dead_letters("launcher"), timeout=20)
    expect(bool(dead) and dead[0]["Body"] == "not json {", "the poisoned message did not reach the DLQ")
    tour.say(f"In {launcher.dlq_url.rsplit('/', 1)[-1]}: {dead[0]['Body']!r}; in a deployment its alarm fires.")
    return "the batchmate was launched, the poison dead-lettered"


def list_team_launches(tour: Tour) -> str:
    tour.command(f"launches --source {SOURCE}")
    page = list_launches(tour.sandbox.client.executions)
    tour.show(launches_lines(page.launches, tour.sandbox.client.team))
    listed = [launch.launch_id for launch in page.launches]
    launched = ["demo-batchmate", "demo-rerouted", "demo-word-stats", "demo-map", "demo-hello"]
    expect(listed == launched, f"listed {listed}, expected {launched} (newest first; rejected launches never)")
    expect(page.launches[3].phase == "succeeded", f"demo-map listed as {page.launches[3].phase}")
    return f"{len(listed)} launches, newest first, with their phases: one Query of the launchesByTeam index"


STEPS: tuple[tuple[str, Callable[[Tour], str | None]], ...] = (
    ("Start the sandbox", start_sandbox),
    ("Import routing from a FlyteAdmin config", import_routing),
    ("Explain a route", explain_route),
    ("Launch a single task and follow it", single_task),
    ("Launch a map task: children fail, retry, one fails for good", map_task),
    ("Run a real job: the example script as a map task, local processes", real_job),
    ("Edit routing in DynamoDB; the next launch takes the new route", reroute),
    ("A malformed launch is rejected with its reasons", rejected),
    ("A team launching outside its projects is rejected", unauthorised),
    ("A poisoned message lands in the DLQ", poison),
    ("List the team's launches", list_team_launches),
)


# --- the tour ------------------------------------------------------------------------------------


def demo_config(deployment: str = "dev"):
    """The deployment's configuration, with the two settings the demo shortens: the routing
    cache (3 s instead of 30) and the receives before the launcher's DLQ (2 instead of 10)."""
    from batchlane.deployment.config import load_config

    config = load_config(deployment)
    return config.model_copy(
        update={
            "routing_cache_seconds": CACHE_SECONDS,
            "launcher": config.launcher.model_copy(update={"max_receive_count": 2}),
        }
    )


@contextmanager
def _handler_logs(path: Path):
    """The sandbox's log (and the handlers' output, see start_sandbox) into ``path``, not the screen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox_log = logging.getLogger("batchlane.sandbox")
    propagate, level = sandbox_log.propagate, sandbox_log.level
    with path.open("w") as stream:
        handler = logging.StreamHandler(stream)
        sandbox_log.addHandler(handler)
        sandbox_log.propagate = False
        sandbox_log.setLevel(logging.INFO)
        try:
            yield stream
        finally:
            sandbox_log.removeHandler(handler)
            sandbox_log.propagate = propagate
            sandbox_log.setLevel(level)


def run_demo(out=None, *, deployment: str = "dev", log_file: str | None = None) -> int:
    """The tour; returns the exit code (0: every step behaved)."""
    from batchlane.sandbox.scenario import load_scenario

    out = out or sys.stdout
    log_path = Path(log_file) if log_file else Path("build") / "sandbox-demo.log"
    out.write(
        "batchlane sandbox demo: the whole system on this machine, no AWS account.\n"
        "Each step does what the batchlane command it shows does, against the sandbox, and checks the result.\n"
    )
    with _handler_logs(log_path) as log_stream:
        sandbox = Sandbox(demo_config(deployment), scenario=load_scenario(SCENARIO), visibility_timeout_seconds=1)
        tour = Tour(sandbox, out=out, log_stream=log_stream)
        try:
            for title, body in STEPS:
                if not tour.step(title, body) and body is start_sandbox:
                    tour.say("stopped: the sandbox did not start")
                    break
        finally:
            with redirect_stdout(log_stream):
                sandbox.stop()
    return _finish(tour, log_path)


def _finish(tour: Tour, log_path: Path) -> int:
    seconds = time.monotonic() - tour.t0
    bad = [title for title, ok, _ in tour.results if not ok]
    tour.out.write("\n")
    if bad:
        tour.out.write(
            f"Demo finished in {seconds:.1f} s with {len(bad)} problem(s): {'; '.join(bad)}. Handler logs: {log_path}\n"
        )
        return 1
    tour.out.write(
        f"Demo finished in {seconds:.1f} s: all {len(tour.results)} steps behaved. Handler logs: {log_path}\n"
        "Next: `batchlane sandbox up` keeps a sandbox running for your own commands (docs/sandbox.md).\n"
    )
    return 0
