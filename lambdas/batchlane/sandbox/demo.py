"""``batchlane sandbox demo``: a narrated tour of batchlane on the local sandbox.

Every step runs the real ``batchlane`` commands (in this process, against the sandbox through
``AWS_ENDPOINT_URL``) and checks that they behave; the tour ends with exit code 0 only when
every step did. Handler logs go to a file (``--log-file``), not the screen.
"""

from __future__ import annotations


import io
import json
import logging
import shlex
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from batchlane import LAUNCH_REQUESTED
EXAMPLES = Path(__file__).parent / "examples"
FLYTE_CONFIG = EXAMPLES / "flyteadmin-queues.yaml"
MAP_LAUNCH = EXAMPLES / "map-launch.yaml"
SCENARIO = EXAMPLES / "demo-scenario.yaml"
CACHE_SECONDS = 3  # the demo's routingCacheSeconds (deployments: 30 by default)


class StepFailed(Exception):
    pass


class _Indented(io.TextIOBase):
    """Writes what a command prints, live, indented under its step; keeps a copy to check."""

    def __init__(self, target, prefix: str = "     ") -> None:
        self.target, self.prefix = target, prefix
        self.text = io.StringIO()
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text.write(s)
        self._pending += s
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self.target.write(f"{self.prefix}{line}\n")
        self.target.flush()
        return len(s)

    def flush(self) -> None:
        if self._pending:
            self.target.write(f"{self.prefix}{self._pending}\n")
            self._pending = ""
        self.target.flush()


@dataclass
class Tour:
    out: Any = field(default_factory=lambda: sys.stdout)
    deployment: str = "dev"
    number: int = 0
    results: list[tuple[str, bool, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def say(self, text: str = "") -> None:
        for line in text.splitlines() or [""]:
            self.out.write(f"   {line}\n" if line else "\n")
        self.out.flush()

    def step(self, title: str, body: Callable[[], str | None]) -> bool:
        self.number += 1
        started = time.monotonic()
        self.out.write(f"\n{self.number}. {title}\n")
        self.out.flush()
        try:
            note = body() or ""
            ok = True
        except StepFailed as exc:
            ok, note = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - the tour reports it and goes on
            ok, note = False, f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        mark = "ok" if ok else "PROBLEM"
        self.say(f"-> {mark} ({seconds:.1f} s){': ' + note if note else ''}")
        self.results.append((title, ok, note))
        return ok

    def cli(self, *argv: str, show: str | None = None) -> tuple[int, str]:
        """Run ``batchlane ARGV`` here, printing the command and its output live, indented."""
        from batchlane.cli.main import main

        shown = show or " ".join(shlex.quote(a) for a in argv)
        self.say(f"$ batchlane {shown}")
        sink = _Indented(self.out)
        with redirect_stdout(sink), redirect_stderr(sink):
            code = main(["--deployment", self.deployment, *argv])
        sink.flush()
        return code, sink.text.getvalue()


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def _wait(predicate, timeout: float, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    return None


def demo_config(deployment: str = "dev"):
    """The deployment's configuration, with the two settings the demo shortens: the routing
    cache (3 s instead of 30) and the receives before the launcher's DLQ (2 instead of 10)."""
    from batchlane.deployment.config import load_config

    config = load_config(deployment)
    return config.model_copy(update={
        "routing_cache_seconds": CACHE_SECONDS,
        "launcher": config.launcher.model_copy(update={"max_receive_count": 2})})


def run_demo(out=None, *, deployment: str = "dev", log_file: str | None = None) -> int:
    """The tour; returns the exit code (0: every step behaved)."""
    from batchlane.sandbox.core import Sandbox
    from batchlane.sandbox.scenario import load_scenario

    out = out or sys.stdout
    tour = Tour(out=out, deployment=deployment)
    log_path = Path(log_file) if log_file else Path("build") / "sandbox-demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_stream = log_path.open("w")
    sandbox_log = logging.getLogger("batchlane.sandbox")
    handler = logging.StreamHandler(log_stream)
    saved = (sandbox_log.propagate, sandbox_log.level)
    sandbox_log.addHandler(handler)
    sandbox_log.propagate = False
    sandbox_log.setLevel(logging.INFO)
    config = demo_config(deployment)
    sandbox = Sandbox(config, scenario=load_scenario(SCENARIO), visibility_timeout_seconds=1)
    prefix = config.prefix
    out.write("batchlane sandbox demo: the whole system on this machine, no AWS account.\n"
              "Each step runs real batchlane commands against the sandbox and checks the result.\n")
    try:
        def start() -> str:
            with redirect_stdout(log_stream):  # the handlers' loggers are created here: logs to the file
                sandbox.start()
            tour.say(f"An AWS emulator (moto) at {sandbox.endpoint}, with what deployment '{config.name}' has:\n"
                     f"the bus {config.bus_name}, DynamoDB tables, the S3 bucket, the SQS buffers and DLQs,\n"
                     f"Batch queues {', '.join(sandbox.deployment.queue_arns)}.\n"
                     "batchlane's real launcher and aggregator consume the buffers as the Lambda service would;\n"
                     "a simulated AWS Batch runs the jobs and emits their events, logs and outputs.\n"
                     f"Routing cache: {CACHE_SECONDS} s here (routingCacheSeconds; deployments default to 30 s).\n"
                     f"The commands below reach the sandbox through AWS_ENDPOINT_URL={sandbox.endpoint}")
            return f"up in {sandbox.started_in:.1f} s"

        if not tour.step("Start the sandbox", start):
            raise StepFailed("the sandbox did not start")

        def import_routing() -> str:
            from batchlane.cli.routing_table import RoutingTableStore

            store = RoutingTableStore(sandbox.session.resource("dynamodb"), config.table_name("routing"))
            store.write(deletes=list(store.items()))
            tour.say(f"Start from an empty routing table, then load FlyteAdmin's queue config\n"
                     f"(the seed guide's three-queue example: {FLYTE_CONFIG.name}).")
            code, text = tour.cli("routes", "import", str(FLYTE_CONFIG), show=f"routes import {FLYTE_CONFIG.name}")
            expect(code == 0, f"routes import exited {code}")
            items = store.items()
            expect(len(items) == 7, f"expected 3 queues and 4 rules in the table, found {len(items)} items")
            return "3 queues and 4 rules, one DynamoDB item each"

        tour.step("Import routing from a FlyteAdmin config", import_routing)

        def explain() -> str:
            tour.say("Which queue would workflow my_workflow_2 of project production get?")
            code, text = tour.cli("routes", "explain", "--project", "production", "--domain", "development",
                                  "--workflow", "my_workflow_2")
            expect(code == 0, f"routes explain exited {code}")
            expect(f"{prefix}-gpu_dynamic" in text, "expected the gpu queue")
            return "the rule naming the project and workflow wins: tag gpu"

        tour.step("Explain a route", explain)

        def single() -> str:
            tour.say("A client puts a Task Launch Requested event on the bus; --wait follows the status.")
            code, text = tour.cli("launch", "--launch-id", "demo-hello", "--project", "flytesnacks", "--domain",
                                  "development", "--workflow", "hello", "--task", "hello.say", "--image",
                                  "busybox:1.36", "--input", '{"name": "world"}', "--wait", "--command", "echo", "hi")
            expect(code == 0, f"launch exited {code} (expected 0: succeeded)")
            doc = sandbox.status("demo-hello") or {}
            expect(doc.get("phase") == "succeeded", f"phase {doc.get('phase')}")
            expect((doc.get("outputs") or {}).get("echo") == {"name": "world"}, "outputs not assembled")
            return f"succeeded on {doc.get('queue')}; outputs from S3"

        tour.step("Launch a single task and follow it", single)

        def map_task() -> str:
            tour.say("8 children, one retry each, minSuccessRatio 0.75 (6 of 8 needed). The simulated Batch\n"
                     f"({SCENARIO.name}): child 2 exits 1 and child 5 cannot pull its image on the first\n"
                     "attempt (both retried), child 6 fails both attempts. The launch still succeeds.")
            code, text = tour.cli("launch", "--file", str(MAP_LAUNCH), "--wait", show=f"launch --file {MAP_LAUNCH.name} --wait")
            expect(code == 0, f"launch exited {code} (expected 0: succeeded)")
            doc = sandbox.status("demo-map") or {}
            counts = doc.get("counts") or {}
            expect(doc.get("phase") == "succeeded", f"phase {doc.get('phase')}")
            expect(counts.get("SUCCEEDED") == 7 and counts.get("FAILED") == 1, f"counts {counts}")
            children = {c["index"]: c for c in doc.get("children", [])}
            expect(children.get(2, {}).get("attempts") == 2 and len(children[2]["logs"]) == 2,
                   "child 2: expected 2 attempts with a log link each")
            expect(children.get(6, {}).get("status") == "FAILED", "child 6 should have failed")
            echo = (doc.get("outputs") or {}).get("echo") or []
            expect(len(echo) == 8 and echo[6] is None and echo[0] is not None, "outputs: 8 slots, child 6 empty")
            # what the log link of child 2's first attempt shows
            group = sandbox.config.job_log_group
            stream = _log_stream(sandbox, "demo-map", 2, 0)
            if stream:
                events = sandbox.session.client("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
                tour.say(f"Child 2's first attempt, CloudWatch Logs {group} / {stream}:")
                for e in events:
                    tour.say(f"  {e['message']}")
            return "7 of 8 succeeded (6 needed); outputs assembled in index order, child 6's slot empty"

        tour.step("Launch a map task: children fail, retry, one fails for good", map_task)

        def reroute() -> str:
            tour.say("An operator sends project flytesnacks to the critical queue: one DynamoDB item.")
            code, _ = tour.cli("routes", "set", "rule", "flytesnacks", "--project", "flytesnacks", "--tags", "critical")
            expect(code == 0, f"routes set rule exited {code}")
            tour.say(f"The launcher caches routing for routingCacheSeconds ({CACHE_SECONDS} s here): waiting it out.")
            time.sleep(CACHE_SECONDS + 0.5)
            code, text = tour.cli("launch", "--launch-id", "demo-rerouted", "--project", "flytesnacks", "--domain",
                                  "development", "--workflow", "hello", "--task", "hello.say", "--image",
                                  "busybox:1.36", "--input", '{"name": "again"}')
            expect(code == 0, f"launch exited {code}")
            record = sandbox.launch_record("demo-rerouted") or {}
            expect(record.get("queue") == f"{prefix}-critical", f"went to {record.get('queue')}, not {prefix}-critical")
            return f"the next launch went to {prefix}-critical (before: {prefix}-default)"

        tour.step("Edit routing in DynamoDB; the next launch takes the new route", reroute)

        def rejected() -> str:
            tour.say("No image, 12 retries (at most 9), 0 vCPU: batchlane lists every problem at once.")
            code, text = tour.cli("launch", "--launch-id", "demo-bad", "--project", "flytesnacks", "--domain",
                                  "development", "--workflow", "hello", "--task", "hello.say", "--image", "",
                                  "--retries", "12", "--vcpu", "0")
            expect(code == 1, f"launch exited {code} (expected 1: rejected)")
            expect("Rejected demo-bad" in text and text.count(":") >= 3, "expected the rejection and its problems")
            expect(sandbox.launch_record("demo-bad") is None, "a rejected launch must leave no record")
            return "Task Launch Rejected, nothing submitted"

        tour.step("A malformed launch is rejected with its reasons", rejected)

        def poison() -> str:
            launcher = sandbox.paths["launcher"]
            tour.say("A broken producer leaves a message that is not an event on the launcher's buffer,\n"
                     "next to a good launch. The good one is launched; the bad one is retried, then kept\n"
                     f"in the dead-letter queue after maxReceiveCount ({launcher.max_receive_count} here) receives.")
            good = {"version": "0", "id": "demo-batchmate", "detail-type": LAUNCH_REQUESTED,
                    "source": "demo", "account": sandbox.deployment.account, "time": "2026-01-01T00:00:00Z",
                    "region": config.region, "resources": [],
                    "detail": {"launchId": "demo-batchmate", "project": "p", "domain": "development",
                               "workflow": "w", "task": "t", "container": {"image": "busybox:1.36"}, "input": {}}}
            sandbox.session.client("sqs").send_message_batch(QueueUrl=launcher.queue_url, Entries=[
                {"Id": "poison", "MessageBody": "not json {"}, {"Id": "good", "MessageBody": json.dumps(good)}])
            tour.say(f"$ aws sqs send-message-batch --queue-url .../{launcher.queue_url.rsplit('/', 1)[-1]} "
                     "(\"not json {\" and a good launch)")
            launched = _wait(lambda: (r := sandbox.launch_record("demo-batchmate")) and r.get("state") == "SUBMITTED",
                             timeout=15)
            expect(bool(launched), "the good message of the batch was not launched")
            dead = _wait(lambda: sandbox.dead_letters("launcher"), timeout=20)
            expect(bool(dead) and dead[0]["Body"] == "not json {", "the poisoned message did not reach the DLQ")
            tour.say(f"In {launcher.dlq_url.rsplit('/', 1)[-1]}: {dead[0]['Body']!r}; in a deployment its alarm fires.")
            return "the batchmate was launched, the poison dead-lettered"

        tour.step("A poisoned message lands in the DLQ", poison)
    except StepFailed as exc:
        tour.say(f"stopped: {exc}")
    finally:
        with redirect_stdout(log_stream):
            sandbox.stop()
        sandbox_log.removeHandler(handler)
        sandbox_log.propagate = saved[0]
        sandbox_log.setLevel(saved[1])
        log_stream.close()
    seconds = time.monotonic() - tour.t0
    bad = [title for title, ok, _ in tour.results if not ok]
    out.write("\n")
    if bad:
        out.write(f"Demo finished in {seconds:.1f} s with {len(bad)} problem(s): {'; '.join(bad)}. "
                  f"Handler logs: {log_path}\n")
        return 1
    out.write(f"Demo finished in {seconds:.1f} s: all {len(tour.results)} steps behaved. Handler logs: {log_path}\n"
              "Next: `batchlane sandbox up` keeps a sandbox running for your own commands (docs/sandbox.md).\n")
    return 0


def _log_stream(sandbox, launch_id: str, index: int, attempt: int) -> str | None:
    job = sandbox.executor.job_of_launch(launch_id) if sandbox.executor else None
    if job is None:
        return None
    for _, child, event in job.history:
        attempts = event["detail"].get("attempts") or []
        if child == index and len(attempts) > attempt:
            stream = (attempts[attempt].get("container") or {}).get("logStreamName")
            if stream:
                return stream
    return None
