"""The launcher under every fault: one Batch job per launch, and an answer for every delivery?

Runs the fault matrix of tests/integration/test_launch_faults.py (every AWS call of the launch path
x throttle / 5xx before / 5xx after / timeout after / crash after, then a duplicate at once and a
day later), plus concurrent duplicates, against moto in-process, and prints:

    deliveries, faults injected, Batch jobs per launch (max), unanswered deliveries, DLQ'd messages

Run: .venv/bin/python bench/fault_matrix_bench.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "lambdas"), str(ROOT / "toolkit"), str(ROOT)]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
)

import conftest  # noqa: E402 - after the sys.path (tests/integration) and Powertools' environment
from fault_injection import (  # noqa: E402 - after the sys.path (tests/integration) and Powertools' environment
    FAULT_KINDS,
    LAUNCH_PATH_CALLS,
    Crash,
    Fault,
    Injector,
    answers_by_launch,
    body_of,
)

from batchlane.launch import handler  # noqa: E402 - after the sys.path (tests/integration) and Powertools' environment
from batchlane.launch.planner import job_name  # noqa: E402 - after the sys.path (tests/integration) and Powertools' environment

VISIBILITY = 360
DETAIL = {
    "launchId": "b-1",
    "project": "flytesnacks",
    "domain": "development",
    "workflow": "wf",
    "task": "my.task",
    "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
}


class Tally:
    def __init__(self) -> None:
        self.deliveries = self.faults = self.unanswered = self.dead_lettered = 0
        self.max_jobs = 0
        self.cells = self.bad_cells = self.duplicated = 0


class Cell:
    """One moto world, one launch, deliveries as SQS makes them."""

    def __init__(self, world, injector: Injector) -> None:
        self.world = world
        self.injector = injector
        self.now = 1_800_000_000.0
        self.lock = threading.Lock()
        self.deliveries = self.unanswered = self.dead_lettered = 0

    def _service(self):
        service = handler.runtime()
        service.clock = lambda: self.now
        service.lease_seconds = 3 * self.world.config.launcher.timeout_seconds
        return service

    def invoke_once(self) -> bool:
        """One delivery; True when the message was deleted (acknowledged)."""
        self._service()
        with self.lock:
            self.deliveries += 1
        with self.injector.active():
            try:
                ok = not handler.handler(conftest.sqs_event(body_of(DETAIL)), conftest.LambdaContext())[
                    "batchItemFailures"
                ]
            except Crash:
                handler.runtime.cache_clear()
                ok = False
        return ok

    def deliver(self, max_receives: int = 10) -> None:
        for _ in range(max_receives):
            self.world.answers()  # drain: what follows is this delivery's answer
            ok = self.invoke_once()
            answered = bool(answers_by_launch(self.world.answers()).get("b-1"))
            if ok:
                self.unanswered += not answered
                return
            self.now += VISIBILITY
        self.dead_lettered += 1

    def jobs(self) -> int:
        import boto3

        batch = boto3.client("batch")
        name = job_name(DETAIL["task"], DETAIL["launchId"])
        return sum(
            len(batch.list_jobs(jobQueue=q, filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"])
            for q in self.world.deployment.queue_arns
        )


def run_cell(tally: Tally, plan, concurrent: int = 0) -> None:
    env: dict[str, str] = {}
    with conftest.moto_world(lambda k, v: (env.__setitem__(k, v), os.environ.__setitem__(k, v))) as world:
        injector = Injector()
        with injector.installed():
            cell = Cell(world, injector)
            cell._service()
            for fault in plan:
                injector.plan(fault)
            if concurrent:
                threads = [threading.Thread(target=cell.invoke_once) for _ in range(concurrent)]
                [t.start() for t in threads]
                [t.join() for t in threads]
                cell.now += VISIBILITY
            cell.deliver()
            cell.deliver()
            cell.now += 24 * 3600
            cell.deliver()
            jobs = cell.jobs()
    tally.cells += 1
    tally.deliveries += cell.deliveries
    tally.faults += injector.injected
    tally.unanswered += cell.unanswered
    tally.dead_lettered += cell.dead_lettered
    tally.max_jobs = max(tally.max_jobs, jobs)
    tally.duplicated += jobs > 1
    tally.bad_cells += bool(jobs != 1 or cell.unanswered or cell.dead_lettered)


def main() -> None:
    t0 = time.perf_counter()
    tally = Tally()
    for service, operation in LAUNCH_PATH_CALLS:
        for kind in FAULT_KINDS:
            run_cell(tally, [Fault(service, operation, kind)])
    run_cell(tally, [Fault("batch", "SubmitJob", "timeout-after", times=4)])
    for fault in (None, Fault("batch", "SubmitJob", "timeout-after"), Fault("dynamodb", "PutItem", "timeout-after")):
        run_cell(tally, [fault] if fault else [], concurrent=4)
    print(
        f"fault matrix: {tally.cells} cells ({len(LAUNCH_PATH_CALLS)} calls x {len(FAULT_KINDS)} faults, "
        f"4 lost SubmitJob answers in a row, 3 x 4 concurrent deliveries), in {time.perf_counter() - t0:.0f} s"
    )
    print(f"  deliveries                   {tally.deliveries}")
    print(f"  faults injected              {tally.faults}")
    print(f"  Batch jobs per launch (max)  {tally.max_jobs}  ({tally.duplicated} cells with more than one)")
    print(f"  unanswered deliveries        {tally.unanswered}")
    print(f"  DLQ'd messages               {tally.dead_lettered}")
    print(f"  cells breaking the promise   {tally.bad_cells}")


if __name__ == "__main__":
    main()
