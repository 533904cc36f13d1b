"""The sandbox: emulator + provisioned deployment + emulated Lambda service + simulated Batch.

    with Sandbox.started() as sandbox:          # or sandbox = Sandbox().start() ... sandbox.stop()
        sandbox.put_launch({...})               # PutEvents on the batchlane bus, like a client
        sandbox.wait([(name, launch_id)])       # until each launch is final (or a timeout)
        sandbox.abort(launch_id)                # PutEvents of a Task Abort Requested, like a client

While it runs, this process's environment points boto3 at the emulator (AWS_ENDPOINT_URL and
fake credentials), as the handlers need it; ``stop()`` puts the environment back.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from batchlane.client.answers import ANSWER_TYPES, answers_queue_name
from batchlane.client.api import BatchlaneClient
from batchlane.common.event_types import EVENT_SOURCE, LAUNCHED
from batchlane.common.event_types import LAUNCH_REJECTED as REJECTED
from batchlane.common.executions import FINAL_PHASES, LaunchRecord
from batchlane.sandbox import batch_rules
from batchlane.sandbox.emulator import Emulator, EndpointSession
from batchlane.sandbox.executor_terminate import install_describe_jobs
from batchlane.sandbox.lambda_service import FunctionPoller, ScheduledFunction
from batchlane.sandbox.local import LocalBatchExecutor
from batchlane.sandbox.local_execution import LocalExecution, execution_of
from batchlane.sandbox.provision import (
    RECONCILER_HANDLER,
    Buffer,
    Provisioned,
    provision,
    provision_event_paths,
    reconciler_environment,
)
from batchlane.sandbox.scenario import Scenario
from batchlane.sandbox.submit_rules import install_submit_rules

HANDLER_MODULES = ("batchlane.launch.handler", "batchlane.status.handler")


def _clear_handler_caches() -> None:
    """Handlers build their adapters once per container: forget them (a new emulator)."""
    import importlib
    import sys

    from batchlane.common import aws

    aws.reset_clients()
    for name in HANDLER_MODULES:
        module = sys.modules.get(name)
        if module is None and name == "batchlane.launch.handler":
            module = importlib.import_module(name)
        for attr in ("runtime", "reconciler"):
            cached = getattr(module, attr, None) if module else None
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()


@dataclass
class LaunchOutcome:
    name: str
    launch_id: str | None
    final: bool = False
    # rejected | succeeded | failed | aborted | events-emitted | dead-lettered | timeout (<last result>);
    # until final: pending, or the launch's phase
    result: str = "pending"
    answers: list[dict] = field(default_factory=list)
    record: LaunchRecord | None = None
    status: dict | None = None
    seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        record = self.record.to_item() if self.record else None
        return {
            "name": self.name,
            "launchId": self.launch_id,
            "result": self.result,
            "final": self.final,
            "seconds": self.seconds,
            "answers": self.answers,
            "record": record,
            "status": self.status,
        }


def _has_reconciler() -> bool:
    import importlib

    return hasattr(importlib.import_module(RECONCILER_HANDLER.rpartition(".")[0]), "reconcile")


class Sandbox:
    """``reconcile_every_seconds`` and ``silent_seconds`` compress the reconciler's time (default:
    the deployment's ``status.reconcileEveryMinutes`` and ``status.silentSeconds``). ``execution``
    says how jobs run: simulated by default; ``LocalExecution(every_launch=True)`` runs every
    job's command as a local process (batchlane.sandbox.local), and so does a scenario's
    ``execute: local`` (for all its launches, or one)."""

    def __init__(
        self,
        config=None,
        *,
        deployment: str = "dev",
        scenario: Scenario | None = None,
        visibility_timeout_seconds: int = 2,
        port: int = 0,
        step_seconds: float = 0.05,
        reconcile_every_seconds: float | None = None,
        silent_seconds: int | None = None,
        execution: LocalExecution | None = None,
    ) -> None:
        if config is None:
            from batchlane.deployment.config import load_config

            config = load_config(deployment)
        self.config = config
        self.scenario = scenario or Scenario()
        self.execution = execution
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.step_seconds = step_seconds
        self.emulator = Emulator(region=config.region, port=port)
        # Set by start(): see the properties of the same names.
        self._session: EndpointSession | None = None
        self._client: BatchlaneClient | None = None
        self._deployment: Provisioned | None = None
        self.paths: dict[str, Buffer] = {}
        self.pollers: dict[str, FunctionPoller] = {}
        self.executor: LocalBatchExecutor | None = None
        self.reconciler: ScheduledFunction | None = None  # the scheduled reconciler (status path only)
        self.reconcile_every_seconds = (
            reconcile_every_seconds
            if reconcile_every_seconds is not None
            else config.status.reconcile_every_minutes * 60
        )
        self.silent_seconds = silent_seconds
        self._uninstall_describe: Callable[[], None] | None = None
        self._uninstall_rules: Callable[[], None] | None = None
        self._uninstall_submit_rules: Callable[[], None] | None = None
        self.answers_queue: str | None = None  # the sandbox's own observer (every batchlane event)
        self.client_answers_queue: str | None = None  # for clients: <prefix>-answers
        self.bus_events: list[dict] = []  # everything batchlane published on its bus
        self._answers_lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}
        self.started_in: float | None = None
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle
    @property
    def session(self) -> EndpointSession:
        """AWS clients pointed at the emulator (once started)."""
        if self._session is None:
            raise RuntimeError("the sandbox is not started")
        return self._session

    @property
    def client(self) -> BatchlaneClient:
        """What a client of the deployment uses, pointed at the emulator (once started)."""
        if self._client is None:
            raise RuntimeError("the sandbox is not started")
        return self._client

    def client_for(self, source: str) -> BatchlaneClient:
        """The client of whoever puts events with ``source``: it reads (and hears answers of) that
        source's team only, as the CLI's ``--source`` does."""
        return BatchlaneClient.for_deployment(self.config, self.session.client, source=source)

    @property
    def deployment(self) -> Provisioned:
        """The deployment's resources in the emulator (once started)."""
        if self._deployment is None:
            raise RuntimeError("the sandbox is not started")
        return self._deployment

    @property
    def endpoint(self) -> str:
        return self.emulator.endpoint or ""

    @property
    def has_status_path(self) -> bool:
        return "aggregator" in self.paths

    def _set_env(self, values: dict[str, str]) -> None:
        for k, v in values.items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = v

    def start(self) -> Sandbox:
        t0 = time.monotonic()
        self.emulator.start()
        self.timings["emulator"] = time.monotonic() - t0
        self._session = EndpointSession(self.endpoint, self.config.region)
        self._set_env(
            {
                **self.emulator.environment(),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
        )
        self._deployment = provision(self.config, self.session)
        self.paths = provision_event_paths(
            self.deployment, self.session, visibility_timeout_seconds=self.visibility_timeout_seconds
        )
        self.timings["provision"] = time.monotonic() - t0 - self.timings["emulator"]
        for buffer in self.paths.values():  # the environment the stacks give the functions
            self._set_env(buffer.environment)
        self.answers_queue = self._observer()
        self.client_answers_queue = self._client_answers()
        # Its clients' sources (sandbox.*) are one team's: a launch id names that team's launch.
        self._client = BatchlaneClient.for_deployment(self.config, self.session.client, source="sandbox.scenario")
        _clear_handler_caches()
        sqs = self.session.client("sqs")
        for name, buffer in self.paths.items():
            self.pollers[name] = FunctionPoller(
                buffer, sqs, prefix=self.config.prefix, region=self.config.region, account=self.deployment.account
            )
        # Simulated Batch; the launches opted in to local execution run as processes pointed at the emulator.
        self.executor = LocalBatchExecutor(
            self.session,
            self.deployment,
            self.scenario,
            step_seconds=self.step_seconds,
            execution=execution_of(self.scenario, self.execution),
            environment=self.emulator.environment(),
        )
        self._uninstall_describe = install_describe_jobs(self.executor)  # DescribeJobs: the simulated Batch
        self._uninstall_rules = batch_rules.install()  # what Batch refuses and moto accepts
        # After batch_rules (both wrap SubmitJob): stop() takes them off in the reverse order.
        self._uninstall_submit_rules = install_submit_rules()  # SubmitJob refuses what Batch refuses
        if self.has_status_path and _has_reconciler():
            self._set_env(reconciler_environment(self.deployment, silent_seconds=self.silent_seconds))
            _clear_handler_caches()
            self.reconciler = ScheduledFunction(
                "reconciler",
                RECONCILER_HANDLER,
                every_seconds=self.reconcile_every_seconds,
                timeout_seconds=self.config.reconciler.timeout_seconds,
                prefix=self.config.prefix,
                region=self.config.region,
                account=self.deployment.account,
            )
        for thread in [*self.pollers.values(), self.executor, *([self.reconciler] if self.reconciler else [])]:
            thread.start()
        self.started_in = time.monotonic() - t0
        return self

    def stop(self) -> None:
        threads: list[FunctionPoller | LocalBatchExecutor | ScheduledFunction] = [
            *self.pollers.values(),
            *([self.executor] if self.executor else []),
            *([self.reconciler] if self.reconciler else []),
        ]
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(timeout=5)
        if self._uninstall_describe is not None:
            self._uninstall_describe()
            self._uninstall_describe = None
        if self._uninstall_submit_rules is not None:
            self._uninstall_submit_rules()
            self._uninstall_submit_rules = None
        if self._uninstall_rules is not None:
            self._uninstall_rules()
            self._uninstall_rules = None
        self.emulator.stop()
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()
        _clear_handler_caches()

    @classmethod
    @contextmanager
    def started(cls, *args, **kwargs):
        sandbox = cls(*args, **kwargs).start()
        try:
            yield sandbox
        finally:
            sandbox.stop()

    def _observer(self) -> str:
        """A sandbox-only queue that sees what batchlane publishes on its bus (not in the stacks)."""
        sqs = self.session.client("sqs")
        url = sqs.create_queue(QueueName=f"{self.config.prefix}-sandbox-answers")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.session.client("events")
        events.put_rule(
            Name=f"{self.config.prefix}-sandbox-answers",
            EventBusName=self.config.bus_name,
            EventPattern=json.dumps({"source": [EVENT_SOURCE]}),
        )
        events.put_targets(
            Rule=f"{self.config.prefix}-sandbox-answers",
            EventBusName=self.config.bus_name,
            Targets=[{"Id": "observer", "Arn": arn}],
        )
        return url

    def _client_answers(self) -> str:
        """The answers queue clients read (``batchlane launch`` shows a rejection's reasons from it,
        ``batchlane abort --wait`` an abort's rejection):
        ``<prefix>-answers`` behind a rule on ``source: batchlane``. Not in the stacks; a deployment
        can add the same (docs/sandbox.md). Answers nobody takes expire after 10 minutes."""
        name = answers_queue_name(self.config.prefix)
        sqs = self.session.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "600"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.session.client("events")
        events.put_rule(
            Name=name,
            EventBusName=self.config.bus_name,
            EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": list(ANSWER_TYPES)}),
        )
        events.put_targets(Rule=name, EventBusName=self.config.bus_name, Targets=[{"Id": "answers", "Arn": arn}])
        return url

    # ------------------------------------------------------------------ clients' view
    def put_launch(self, detail: Any, source: str = "sandbox.scenario") -> None:
        """What a client does: PutEvents of a Task Launch Requested on the batchlane bus (``detail``
        may be a string: a malformed one)."""
        self.client.put_launch(detail, source)

    def abort(
        self, launch_id: Any, reason: str | None = None, source: str = "sandbox.client", team: str | None = None
    ) -> None:
        """What a client does to stop a launch: PutEvents of a Task Abort Requested on the batchlane bus
        (``team``: another team's launch, which only an admin team may abort)."""
        self.client.put_abort(launch_id, reason, source, team=team)

    def reconcile_now(self) -> dict | None:
        """Run the reconciler once, now (as its schedule would); its report, or None without one."""
        return self.reconciler.run_now() if self.reconciler else None

    def send_raw(self, body: str) -> None:
        """A message straight on the launcher's buffer (what a broken producer could leave there)."""
        self.session.client("sqs").send_message(QueueUrl=self.paths["launcher"].queue_url, MessageBody=body)

    def drain_answers(self) -> list[dict]:
        sqs = self.session.client("sqs")
        new: list[dict] = []
        with self._answers_lock:
            while True:
                messages = sqs.receive_message(QueueUrl=self.answers_queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for m in messages:
                    new.append(json.loads(m["Body"]))
                sqs.delete_message_batch(
                    QueueUrl=self.answers_queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            self.bus_events += new
        return new

    def answers_for(self, launch_id: str | None) -> list[dict]:
        self.drain_answers()
        return [e for e in self.bus_events if (e.get("detail") or {}).get("launchId") == launch_id]

    def dead_letters(self, function: str = "launcher") -> list[dict]:
        sqs = self.session.client("sqs")
        return sqs.receive_message(
            QueueUrl=self.paths[function].dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", [])

    def launch_record(self, launch_id: str, source: str | None = None) -> LaunchRecord | None:
        """``source``: read as its team's client (default: the sandbox's own)."""
        return self._reader(source).executions.record(launch_id)

    def _reader(self, source: str | None) -> BatchlaneClient:
        return self.client if source is None else self.client_for(source)

    def status(self, launch_id: str, source: str | None = None) -> dict | None:
        """The launch's status document (the same JSON as ``batchlane status --json``, from
        ``batchlane.client.view.record_document``), with the assembled ``outputs`` once finished;
        ``storedPhase`` is the phase the aggregator wrote (final only when it is final). None when
        the status path is absent or the launch is unknown; ``source`` as for ``launch_record``."""
        if not self.has_status_path:
            return None
        client = self._reader(source)
        stored = client.executions.status(launch_id)
        if stored.document is None:
            return None
        document = {**stored.document, "storedPhase": stored.phase}
        return client.with_outputs(document) if stored.final else document

    # ------------------------------------------------------------------ waiting
    def outcome(self, name: str, launch_id: str | None) -> LaunchOutcome:
        out = LaunchOutcome(name=name, launch_id=launch_id)
        answers = self.answers_for(launch_id) if launch_id else []
        out.answers = [{"detail-type": a["detail-type"], "detail": a["detail"]} for a in answers]
        kinds = [a["detail-type"] for a in answers]
        if REJECTED in kinds and LAUNCHED not in kinds:
            out.final, out.result = True, "rejected"
            return out
        if launch_id is None or LAUNCHED not in kinds:
            return out
        out.record = self.launch_record(launch_id)
        if self.has_status_path:
            out.status = self.status(launch_id)
            phase = (out.status or {}).get("storedPhase")
            if phase in FINAL_PHASES:
                out.final, out.result = True, phase
            elif out.status:
                out.result = str(out.status.get("phase"))
        else:
            job = self.executor.job_of_launch(launch_id) if self.executor else None
            if job is not None and job.finished:
                out.final, out.result = True, "events-emitted"
        return out

    def wait(
        self, launches: list[tuple[str, str | None]], timeout: float = 60.0, poll: float = 0.2
    ) -> list[LaunchOutcome]:
        """Wait until every ``(name, launchId)`` is final or the timeout passes."""
        t0 = time.monotonic()
        done: dict[str, LaunchOutcome] = {}
        while True:
            for name, launch_id in launches:
                if name not in done:
                    out = self.outcome(name, launch_id)
                    if out.final:
                        out.seconds = round(time.monotonic() - t0, 2)
                        done[name] = out
            if len(done) == len(launches) or time.monotonic() - t0 > timeout:
                break
            time.sleep(poll)
        result = []
        for name, launch_id in launches:
            out = done.get(name) or self.outcome(name, launch_id)
            if not out.final:
                out.result = f"timeout ({out.result})"
            result.append(out)
        return result

    def run_scenario(self, scenario: Scenario | None = None) -> list[LaunchOutcome]:
        """Launch every launch of the scenario (at its atSeconds) and wait for them all."""
        scenario = scenario or self.scenario
        if self.executor is not None:
            self.executor.scenario = scenario
            self.executor.execution = execution_of(scenario, self.execution)
        t0 = time.monotonic()
        waiting: list[tuple[str, str | None]] = []
        raw: list[str] = []
        for spec in sorted(scenario.launches, key=lambda s: s.at_seconds):
            delay = spec.at_seconds - (time.monotonic() - t0)
            if delay > 0:
                time.sleep(delay)
            if spec.sqs_body is not None:
                self.send_raw(spec.sqs_body)
                raw.append(spec.name)
                continue
            self.put_launch(spec.detail, source=spec.source)
            waiting.append((spec.name, spec.launch_id))
        outcomes = self.wait(waiting, timeout=scenario.timeout_seconds)
        for name in raw:  # poisoned messages: final once they reach the dead-letter queue
            out = LaunchOutcome(name=name, launch_id=None)
            deadline = time.monotonic() + scenario.timeout_seconds
            while time.monotonic() < deadline:
                if any(
                    m["Body"] == next(s.sqs_body for s in scenario.launches if s.name == name)
                    for m in self.dead_letters()
                ):
                    out.final, out.result = True, "dead-lettered"
                    break
                time.sleep(0.3)
            else:
                out.result = "timeout (not dead-lettered)"
            outcomes.append(out)
        return outcomes
