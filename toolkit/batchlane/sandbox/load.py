"""A bounded, local load test: many launches on the bus at once, against a throttling Batch.

:func:`run_load` starts a sandbox whose Batch accepts SubmitJob at most ``batch_rate`` per second
(batchlane.sandbox.throttle; AWS's is 50), whose launcher runs with the deployment's
``launcherMaxConcurrency`` invocations at once, each pacing SubmitJob at ``submitRatePerSecond /
launcherMaxConcurrency``. It puts ``launches`` launch requests on the bus as fast as it can, waits
until Batch has accepted a job for each (or a timeout), then checks exactly-once against Batch's
own job list and the executions table: every launchId has one SUBMITTED record and exactly one
job of its name, that job is the record's, and no job belongs to no launch.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from batchlane.common.executions import SUBMITTED, launch_key
from batchlane.launch.planner import job_name
from batchlane.sandbox.throttle import BATCH_SUBMIT_RATE, SubmitThrottle, install_submit_throttle

if TYPE_CHECKING:
    from batchlane.deployment.config import DeploymentConfig
    from batchlane.sandbox.core import Sandbox

JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
TASK = "load.task"
LOAD_SOURCE = "sandbox.scenario"  # a producer the dev deployment's teams know (as the scenarios')
PUTS_PER_CALL = 10  # PutEvents takes at most 10 entries
PUTTERS = 4  # threads putting launches on the bus


@dataclass
class LoadReport:
    launches: int
    batch_rate: float  # SubmitJob per second the sandbox's Batch accepts
    submit_rate: float  # the deployment's submitRatePerSecond
    concurrency: int  # launcher invocations at once
    put_seconds: float  # to put every launch on the bus
    seconds: float  # from the first put until Batch had accepted the last job
    launches_per_second: float
    peak_submits_per_second: float  # accepted SubmitJob calls in the busiest second
    max_in_flight: int  # launches on the bus whose job Batch had not accepted yet, at most
    throttles: int  # SubmitJob calls Batch answered with 429
    submitted: int  # launches with a SUBMITTED record
    duplicates: int  # jobs beyond the first for a launch, plus jobs of no launch
    lost: int  # launches without a SUBMITTED record and its one job
    dead_letters: int  # messages in the launcher's DLQ
    timed_out: bool

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.lost == 0 and self.duplicates == 0 and self.dead_letters == 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        return [
            f"{self.launches} launches, Batch at {self.batch_rate:g} SubmitJob/s, submitRatePerSecond "
            f"{self.submit_rate:g} over {self.concurrency} launcher invocations",
            f"  on the bus in {self.put_seconds:.1f} s; all submitted in {self.seconds:.1f} s: "
            f"{self.launches_per_second:.1f} launches/s (busiest second: {self.peak_submits_per_second:g} submits)",
            f"  max in flight {self.max_in_flight}, throttles seen {self.throttles}",
            f"  duplicates {self.duplicates}, lost {self.lost}, dead letters {self.dead_letters}"
            + (", TIMED OUT" if self.timed_out else ""),
        ]


def load_detail(launch_id: str) -> dict[str, Any]:
    return {
        "launchId": launch_id,
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "load",
        "task": TASK,
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
    }


def run_load(
    launches: int = 2000,
    *,
    config: DeploymentConfig | None = None,
    batch_rate: float = BATCH_SUBMIT_RATE,
    batch_burst: float | None = None,
    submit_rate: float | None = None,
    timeout: float = 600.0,
) -> LoadReport:
    from batchlane.deployment.config import load_config
    from batchlane.sandbox.core import Sandbox

    config = config or load_config("dev")
    if submit_rate is not None:
        config = config.model_copy(update={"submit_rate_per_second": submit_rate})
    ids = [f"load-{uuid.uuid4().hex[:12]}-{n}" for n in range(launches)]
    throttle, uninstall = install_submit_throttle(batch_rate, batch_burst)
    try:
        # Visibility as long as the function's timeout (as AWS requires): the launcher runs concurrently.
        with Sandbox.started(config, visibility_timeout_seconds=config.launcher.timeout_seconds) as sandbox:
            started = time.monotonic()
            deadline = started + timeout
            max_in_flight, put_seconds = _put_launches(sandbox, ids, throttle, started, deadline)
            done_at = max(throttle.accepted_at, default=time.monotonic())
            timed_out = len(throttle.accepted_at) < launches
            _settle(sandbox, ids, deadline)
            submitted, duplicates, lost = _check(sandbox, ids)
            seconds = max(1e-9, done_at - started)
            return LoadReport(
                launches=launches,
                batch_rate=batch_rate,
                submit_rate=config.submit_rate_per_second,
                concurrency=sandbox.pollers["launcher"].concurrency,
                put_seconds=put_seconds,
                seconds=seconds,
                launches_per_second=len(throttle.accepted_at) / seconds,
                peak_submits_per_second=throttle.peak_rate(),
                max_in_flight=max_in_flight,
                throttles=throttle.throttled,
                submitted=submitted,
                duplicates=duplicates,
                lost=lost,
                dead_letters=_dead_letters(sandbox),
                timed_out=timed_out,
            )
    finally:
        uninstall()


def _put_launches(
    sandbox: Sandbox, ids: list[str], throttle: SubmitThrottle, started: float, deadline: float
) -> tuple[int, float]:
    """Put every launch on the bus from ``PUTTERS`` threads and watch Batch accept their jobs:
    the most launches put but not submitted yet at once, and how long putting them all took."""
    put = _Count()
    putters = [threading.Thread(target=_put, args=(sandbox, ids[n::PUTTERS], put), daemon=True) for n in range(PUTTERS)]
    for thread in putters:
        thread.start()
    max_in_flight, put_seconds = 0, None
    while len(throttle.accepted_at) < len(ids) and time.monotonic() < deadline:
        max_in_flight = max(max_in_flight, put.value - len(throttle.accepted_at))
        if put_seconds is None and put.value >= len(ids):
            put_seconds = time.monotonic() - started
        time.sleep(0.05)
    for thread in putters:
        thread.join()
    return max_in_flight, put_seconds if put_seconds is not None else time.monotonic() - started


def _dead_letters(sandbox: Sandbox) -> int:
    attributes = sandbox.session.client("sqs").get_queue_attributes(
        QueueUrl=sandbox.paths["launcher"].dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


class _Count:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n


def _put(sandbox, ids: list[str], put: _Count) -> None:
    """PutEvents, 10 launches a call, as fast as the bus takes them."""
    import json

    from batchlane.common.event_types import LAUNCH_REQUESTED

    events = sandbox.session.client("events")
    for i in range(0, len(ids), PUTS_PER_CALL):
        chunk = ids[i : i + PUTS_PER_CALL]
        response = events.put_events(
            Entries=[
                {
                    "Source": LOAD_SOURCE,
                    "DetailType": LAUNCH_REQUESTED,
                    "EventBusName": sandbox.config.bus_name,
                    "Detail": json.dumps(load_detail(launch_id)),
                }
                for launch_id in chunk
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused {response['FailedEntryCount']} launches")
        put.add(len(chunk))


def _settle(sandbox, ids: list[str], deadline: float) -> None:
    """Until every launch's record says SUBMITTED (the job is accepted before it is recorded)."""
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if (r := sandbox.launch_record(i)) is None or r.state != SUBMITTED]
        if pending:
            time.sleep(0.2)


def _check(sandbox, ids: list[str]) -> tuple[int, int, int]:
    """(launches with a SUBMITTED record, duplicate jobs, lost launches), from Batch's job list and
    the executions table."""
    batch = sandbox.session.client("batch")
    jobs: dict[str, list[str]] = {}  # job name -> job ids
    for queue in sandbox.deployment.queue_arns:
        for status in JOB_STATUSES:
            for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                for job in page.get("jobSummaryList", []):
                    jobs.setdefault(job["jobName"], []).append(job["jobId"])
    team = sandbox.config.team_of_source(LOAD_SOURCE)  # job names carry the launch key: the team's id
    names = {job_name(TASK, launch_key(team, launch_id)): launch_id for launch_id in ids}
    duplicates = sum(len(set(found)) - 1 for found in jobs.values() if len(set(found)) > 1)
    duplicates += sum(len(set(found)) for name, found in jobs.items() if name not in names)
    submitted = lost = 0
    for name, launch_id in names.items():
        record = sandbox.launch_record(launch_id, source=LOAD_SOURCE)
        found = set(jobs.get(name, []))
        if record is not None and record.state == SUBMITTED:
            submitted += 1
        if record is None or record.state != SUBMITTED or record.job_id not in found:
            lost += 1
    return submitted, duplicates, lost
