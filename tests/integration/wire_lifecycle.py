"""One launch through every path of the control plane against moto, as SQS, EventBridge and Batch
would drive it, with faults on the wire (:mod:`wire_faults`): the fault matrix's cell.

Paths (the injector's labels): ``launch`` (the request), ``chunk-due`` ("Task Chunk Due" at the
launcher), ``status`` (Batch events that do not end the launch), ``finish`` (the events of the
last chunk, or of a plain launch's ending), ``reconcile`` (the scheduled reconciler), ``abort``
("Task Abort Requested"). Every message is delivered until acknowledged, again after the real
visibility timeout of its buffer (6 x its function's timeout) when an invocation failed or died,
up to the buffer's maxReceiveCount, then dead-lettered. Batch's jobs are moto's: they are counted
from moto, and their events are made from moto's job ids.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from fault_injection import Crash
from wire_faults import WireInjector

from batchlane.common.executions import CHUNK_TAG, FINAL_PHASES, LAUNCH_TAG, launch_key
from batchlane.deployment.contract import buffer_visibility_seconds
from batchlane.launch import handler as launcher
from batchlane.launch.planner import chunk_job_name, job_name
from batchlane.sandbox.simulate import ChildPlan, launch_events
from batchlane.status import handler as aggregator
from batchlane.status.adapters.batch import BatchJobReader
from batchlane.status.reconcile import Reconciler
from tests.integration.conftest import LambdaContext, eventbridge_event, sqs_event

MAX_ARRAY_SIZE = 2  # set in the world's limits: a map of 5 runs as chunks [2, 2, 1]
MAP_SIZE = 5
MAX_CONCURRENCY = 2  # one chunk in flight
DAY = 24 * 3600
SCENARIOS = ("plain", "chunked", "abort", "reconcile")


def set_world_limits(world) -> None:
    boto3.client("ssm").put_parameter(
        Name=f"{world.deployment.settings_path}/limits",
        Value=json.dumps({"maxArraySize": MAX_ARRAY_SIZE}),
        Type="String",
        Overwrite=True,
    )
    launcher.runtime.cache_clear()


@dataclass
class Outcome:
    launch_id: str
    scenario: str
    jobs: dict[int, int] = field(default_factory=dict)  # Batch jobs in moto per chunk (plain: {0: n})
    max_in_flight: int = 0  # children of chunk jobs alive at once (moto's jobs not ended yet)
    unanswered: int = 0  # launch deliveries acknowledged without an answer, and dead-lettered messages
    phase: str | None = None
    outputs_ok: bool = True
    faults: int = 0

    @property
    def stalled(self) -> bool:
        return self.phase not in FINAL_PHASES or not self.outputs_ok

    def broken(self) -> list[str]:
        problems = [f"{n} jobs for chunk {c}" for c, n in self.jobs.items() if n > 1]
        if self.scenario != "abort" and any(n == 0 for n in self.jobs.values()):
            problems.append(f"chunks without a job: {self.jobs}")
        if self.max_in_flight > MAX_CONCURRENCY:
            problems.append(f"{self.max_in_flight} children in flight (cap {MAX_CONCURRENCY})")
        if self.unanswered:
            problems.append(f"{self.unanswered} deliveries unanswered")
        if self.stalled:
            problems.append(f"stalled in phase {self.phase} (outputs {'ok' if self.outputs_ok else 'missing'})")
        return problems


class Lifecycle:
    """Drives one launch; ``run()`` returns its :class:`Outcome`."""

    def __init__(self, world, injector: WireInjector, clock, launch_id: str, scenario: str) -> None:
        self.world, self.injector, self.clock = world, injector, clock
        self.launch_id, self.scenario = launch_id, scenario
        self.chunked = scenario != "plain"
        self.out = Outcome(launch_id, scenario)
        config = world.config
        self.timing = {
            "launcher": (buffer_visibility_seconds(config.launcher), config.launcher.max_receive_count),
            "aggregator": (buffer_visibility_seconds(config.aggregator), config.aggregator.max_receive_count),
        }
        self.reconcile_every = config.status.reconcile_every_minutes * 60
        self.silent_seconds = config.status.silent_seconds
        self.notices: list[str] = []  # "Task Chunk Due" bodies waiting for the launcher
        self.notices_seen: list[str] = []
        self.ended: set[int] = set()  # chunks whose jobs' events were all delivered
        self.last_events: list[str] = []
        self.final_change: dict[str, Any] | None = None
        self.answers: list[dict] = []

    # ------------------------------------------------------------------ the request
    def request(self) -> dict[str, Any]:
        detail = {
            "launchId": self.launch_id,
            "project": "flytesnacks",
            "domain": "development",
            "workflow": "wf",
            "task": "my.task",
            "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
        }
        if self.chunked:
            detail.update(inputs=[{"n": i} for i in range(MAP_SIZE)], maxConcurrency=MAX_CONCURRENCY)
        return detail

    @property
    def base_name(self) -> str:
        return job_name("my.task", launch_key("platform", self.launch_id))

    def chunk_count(self) -> int:
        return -(-MAP_SIZE // MAX_ARRAY_SIZE) if self.chunked else 1

    # ------------------------------------------------------------------ deliveries
    def _invoke(self, function: str, path: str, bodies: list[str]) -> set[int]:
        """One invocation with ``bodies`` as one SQS batch; the indexes of the failed ones."""
        module = launcher if function == "launcher" else aggregator
        module.runtime().clock = self.clock
        if function == "launcher":
            module.runtime().lease_seconds = 3 * self.world.config.launcher.timeout_seconds
        event = sqs_event(*bodies)
        ids = [r["messageId"] for r in event["Records"]]
        with self.injector.active(path):
            try:
                failures = module.handler(event, LambdaContext())["batchItemFailures"]
            except Crash:
                module.runtime.cache_clear()  # a new container after the crash: cold caches
                return set(range(len(bodies)))
        failed = {f["itemIdentifier"] for f in failures}
        return {i for i, m in enumerate(ids) if m in failed}

    def deliver(self, function: str, path: str, bodies: list[str], *, answer_needed: bool = False) -> None:
        visibility, max_receives = self.timing[function]
        pending = list(bodies)
        for _ in range(max_receives):
            if not pending:
                return
            failed = self._invoke(function, path, pending)
            answered = self.route()
            if answer_needed and len(failed) < len(pending) and not answered:
                self.out.unanswered += 1
            pending = [b for i, b in enumerate(pending) if i in failed]
            if pending:
                self.clock.advance(visibility)
        self.out.unanswered += len(pending)  # dead-lettered

    def route(self) -> bool:
        """What batchlane published: notices go to the launcher's buffer; True if this launch was answered."""
        answered = False
        for a in self.world.answers():
            detail, kind = a.get("detail") or {}, a["detail-type"]
            if detail.get("launchId") != self.launch_id:
                continue
            if kind in ("Task Launched", "Task Launch Rejected"):
                answered = True
                self.answers.append(a)
            elif kind == "Task Chunk Due":
                body = json.dumps({**a, "id": f"due-{detail['chunk']}"})
                self.notices.append(body)
                self.notices_seen.append(body)
            elif kind == "Task Status Changed" and detail.get("phase") in FINAL_PHASES:
                self.final_change = detail
        return answered

    # ------------------------------------------------------------------ Batch, as moto has it
    def moto_jobs(self) -> dict[int, list[dict]]:
        batch = boto3.client("batch")
        out: dict[int, list[dict]] = {}
        for c in range(self.chunk_count()):
            name = chunk_job_name(self.base_name, c) if self.chunked else self.base_name
            for queue in self.world.deployment.queue_arns.values():
                found = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])
                out.setdefault(c, []).extend(j for j in found["jobSummaryList"] if ":" not in j["jobId"])
        return out

    def observe(self) -> dict[int, list[dict]]:
        jobs = self.moto_jobs()
        in_flight = sum(len(js) * self.chunk_len(c) for c, js in jobs.items() if c not in self.ended and self.chunked)
        self.out.max_in_flight = max(self.out.max_in_flight, in_flight)
        return jobs

    def chunk_len(self, c: int) -> int:
        if not self.chunked:
            return 1
        return min(MAX_ARRAY_SIZE, MAP_SIZE - c * MAX_ARRAY_SIZE)

    def events_of(self, c: int, job: dict) -> list[str]:
        # Batch's events carry the job's tags (the launch id, its team, the chunk): as the launcher set them.
        [described] = boto3.client("batch").describe_jobs(jobs=[job["jobId"]])["jobs"]
        tags = described.get("tags") or {}
        assert tags.get(LAUNCH_TAG) == self.launch_id and (not self.chunked or tags.get(CHUNK_TAG) == str(c))
        plans = [ChildPlan()] * self.chunk_len(c)
        events = launch_events(job["jobId"], plans, rng=random.Random(c), tags=tags)
        return [json.dumps(e) for e in events]

    def write_child_outputs(self) -> None:
        record = self.world.launch_record(self.launch_id)
        if not record or not record.get("outputsUri") or not self.chunked:
            return
        bucket, prefix = record["outputsUri"][5:].split("/", 1)
        for i in range(MAP_SIZE):
            body = json.dumps({"y": i * i}).encode()
            boto3.client("s3").put_object(Bucket=bucket, Key=f"{prefix}{i}/outputs.json", Body=body)

    def end_chunk(self, c: int, job: dict, *, drop: bool = False) -> None:
        """Batch runs chunk ``c``'s job to success: its events reach the aggregator (unless ``drop``)."""
        events = self.events_of(c, job)
        last = c == self.chunk_count() - 1
        if not drop:
            batch = self.world.config.aggregator.batch_size
            for start in range(0, len(events), batch):
                part = events[start : start + batch]
                path = "finish" if last and start + batch >= len(events) else "status"
                self.deliver("aggregator", path, part)
            if last:
                self.last_events = events[-1:]
        self.ended.add(c)

    # ------------------------------------------------------------------ scenarios
    def run(self) -> Outcome:
        """Launch, then run the chunks one window at a time; "reconcile" loses every event of the
        last chunk (the reconciler must finish the launch), "abort" aborts while chunk 0 runs."""
        self.deliver("launcher", "launch", [json.dumps(eventbridge_event(self.request()))], answer_needed=True)
        self.write_child_outputs()
        aborted = False
        for _ in range(4 * self.chunk_count()):
            jobs = self.observe()
            live = [c for c in sorted(jobs) if jobs[c] and c not in self.ended]
            if not live and not self.notices:
                break
            if self.notices:
                notices, self.notices = self.notices, []
                self.deliver("launcher", "chunk-due", notices)
                continue
            c = live[0]
            if self.scenario == "abort" and not aborted:
                self.deliver("aggregator", "abort", [_abort_body(self.launch_id)])
                aborted = True
            dropped = self.scenario == "reconcile" and c == self.chunk_count() - 1
            self.end_chunk(c, jobs[c][0], drop=dropped)
        self.reconcile_until_final()
        self.day_later()
        return self.finish()

    def reconcile_until_final(self) -> None:
        """The scheduled reconciler, every period, until the launch is final (bounded: an hour past
        the silence that makes it look)."""
        runs = (self.silent_seconds + 3600) // self.reconcile_every
        for _ in range(runs):
            if self.phase() in FINAL_PHASES:
                return
            self.clock.advance(self.reconcile_every)
            self.reconcile()
            if self.notices:
                notices, self.notices = self.notices, []
                self.deliver("launcher", "chunk-due", notices)
            jobs = self.observe()
            for c in sorted(jobs):
                if jobs[c] and c not in self.ended:
                    self.end_chunk(c, jobs[c][0])

    def wait_for_moto(self, seconds: float = 20.0) -> None:
        """moto runs its jobs in threads, in real time: the reconciler asks it where they stand."""
        batch = boto3.client("batch")
        ids = [j["jobId"] for js in self.moto_jobs().values() for j in js]
        give_up = time.monotonic() + seconds
        while ids and time.monotonic() < give_up:
            if all(j["status"] in ("SUCCEEDED", "FAILED") for j in batch.describe_jobs(jobs=ids)["jobs"]):
                return
            time.sleep(0.2)

    def reconcile(self) -> None:
        self.wait_for_moto()
        service = aggregator.runtime()
        service.clock = self.clock
        reconciler = Reconciler(
            store=service.store,
            index=service.store,
            batch=BatchJobReader(),
            service=service,
            metrics=service.metrics,
            log=service.log,
            silent_seconds=self.silent_seconds,
            request_budget=self.world.config.status.reconcile_request_budget,
            clock=self.clock,
        )
        with self.injector.active("reconcile"):
            try:
                reconciler.run()
            except Crash:
                aggregator.runtime.cache_clear()
        self.route()

    def day_later(self) -> None:
        """The same request, every notice and the last event again, a day later: nothing changes."""
        self.clock.advance(DAY)
        self.deliver("launcher", "launch", [json.dumps(eventbridge_event(self.request()))], answer_needed=True)
        if self.notices_seen:
            self.deliver("launcher", "chunk-due", self.notices_seen)
        if self.last_events:
            self.deliver("aggregator", "status", self.last_events)

    def phase(self) -> str | None:
        return (self.world.execution_items(self.launch_id).get("status") or {}).get("phase")

    def finish(self) -> Outcome:
        self.out.jobs = {c: len(js) for c, js in self.moto_jobs().items()}
        self.out.phase = self.phase()
        self.out.faults = self.injector.injected
        if self.chunked and self.scenario != "abort" and self.out.phase == "succeeded":
            self.out.outputs_ok = self._outputs() == {"y": [i * i for i in range(MAP_SIZE)]}
        return self.out

    def _outputs(self) -> Any:
        uri = (self.final_change or {}).get("outputsUri") or ""
        if not uri.startswith("s3://"):
            return None
        bucket, key = uri[5:].split("/", 1)
        try:
            return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception:
            return None


def _abort_body(launch_id: str) -> str:
    return json.dumps(eventbridge_event({"launchId": launch_id, "reason": "enough"}, "Task Abort Requested"))
