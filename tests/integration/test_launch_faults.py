"""Exactly one Batch job per launchId and an answer for every delivery, under every fault.

Each AWS call of the launch path fails once in each way (throttled, a 5xx before it had an effect,
a 5xx or a timeout after it had one, the Lambda dying right after it), with SQS's redelivery after
the visibility timeout; then the same request is delivered again at once and a day later.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from fault_injection import (
    LAUNCH_PATH_CALLS,
    Crash,
    Fault,
    Injector,
    answers_by_launch,
    body_of,
    deliver_until_acknowledged,
    fault_cells,
)

from batchlane.common.executions import launch_key
from batchlane.common.tenancy import LaunchData
from batchlane.launch import handler
from batchlane.launch.planner import job_name
from clock import Clock
from tests.integration.conftest import LambdaContext, sqs_event

VISIBILITY_SECONDS = 360  # the dev config's launcher buffer (6 x the 60 s function timeout)


def detail(launch_id="f-1", **overrides):
    d = {
        "launchId": launch_id,
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "wf",
        "task": "my.task",
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
    }
    d.update(overrides)
    return d


@pytest.fixture
def harness(world):
    injector = Injector()
    clock = Clock(step=VISIBILITY_SECONDS)

    def runtime():
        # Built before any thread runs (one Lambda container serves one invocation at a time).
        service = handler.runtime()
        service.clock = clock
        service.lease_seconds = 3 * world.config.launcher.timeout_seconds  # as the stack sets LEASE_SECONDS
        return service

    def invoke(*bodies: str) -> dict:
        runtime()
        with injector.active():
            try:
                return handler.handler(sqs_event(*bodies), LambdaContext())
            except Crash:
                handler.runtime.cache_clear()  # a new container: cold caches
                raise

    with injector.installed():
        runtime()
        yield world, injector, clock, invoke


def jobs_named(world, name: str) -> list[dict]:
    batch = boto3.client("batch")
    found = []
    for queue in world.deployment.queue_arns:
        found += batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]
    return found


def assert_exactly_once(world, launch_id: str, deliveries: list) -> None:
    jobs = jobs_named(world, job_name("my.task", launch_key("platform", launch_id)))
    assert len(jobs) == 1, f"{len(jobs)} Batch jobs for {launch_id}"
    record = world.launch_record(launch_id)
    assert record["state"] == "SUBMITTED" and record["jobId"] == jobs[0]["jobId"]
    answers = answers_by_launch(world.answers()).get(launch_id, [])
    assert {a["detail-type"] for a in answers} == {"Task Launched"}
    assert {a["detail"]["jobId"] for a in answers} == {record["jobId"]}
    acknowledged = sum(d.acknowledged for d in deliveries)
    attempts = sum(d.attempts for d in deliveries)
    assert acknowledged <= len(answers) <= attempts, "every acknowledged delivery is answered"
    assert sum(d.dead_lettered for d in deliveries) == 0


@pytest.mark.parametrize(
    "service,operation,kind",
    fault_cells(LAUNCH_PATH_CALLS),
    ids=[f"{s}.{o}-{k}" for s, o, k in fault_cells(LAUNCH_PATH_CALLS)],
)
def test_one_job_and_an_answer_per_delivery_whatever_call_fails(harness, service, operation, kind):
    world, injector, clock, invoke = harness
    fault = injector.plan(Fault(service, operation, kind))
    body = body_of(detail())
    first = deliver_until_acknowledged(invoke, body, advance=clock.advance)
    assert fault.injected == 1, f"{service}.{operation} was never called on the launch path"
    again = deliver_until_acknowledged(invoke, body, advance=clock.advance)
    clock.advance(24 * 3600)
    day_later = deliver_until_acknowledged(invoke, body, advance=clock.advance)
    assert_exactly_once(world, "f-1", [first, again, day_later])


def test_every_submit_outcome_lost_until_the_last_still_gives_one_job(harness):
    """SubmitJob takes effect but its answer is lost on four deliveries in a row."""
    world, injector, clock, invoke = harness
    injector.plan(Fault("batch", "SubmitJob", "timeout-after", times=4))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert d.attempts == 2  # the first lost answer; the next delivery finds the job by its name
    assert_exactly_once(world, "f-1", [d])


def test_submit_is_never_retried_by_the_sdk(harness):
    world, injector, clock, invoke = harness
    injector.plan(Fault("batch", "SubmitJob", "5xx-before"))
    d = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert injector.calls[("batch", "SubmitJob")] == 2  # one per delivery: the failed one and the next
    assert_exactly_once(world, "f-1", [d])


@pytest.mark.parametrize(
    "fault", [None, ("batch", "SubmitJob", "timeout-after"), ("dynamodb", "PutItem", "timeout-after")]
)
def test_concurrent_duplicate_deliveries_give_one_job(harness, fault, atomic_moto):
    world, injector, clock, invoke = harness
    if fault:
        injector.plan(Fault(*fault))
    body = body_of(detail())
    barrier = threading.Barrier(4)
    results = []

    def one():
        barrier.wait()
        results.append(deliver_until_acknowledged(invoke, body, advance=lambda: None, max_receives=1))

    threads = [threading.Thread(target=one) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    clock.advance()
    # What was handed back is redelivered after the visibility timeout.
    results += [deliver_until_acknowledged(invoke, body, advance=clock.advance) for r in results if r.dead_lettered]
    for r in results[:4]:
        r.dead_lettered = 0  # handed back to SQS, not dead-lettered: redelivered just above
    assert_exactly_once(world, "f-1", results)


def inputs_text(launch_id: str) -> str:
    return (
        boto3.client("s3")
        .get_object(Bucket=_bucket(), Key=LaunchData("platform", "flytesnacks", "development", launch_id).inputs_key)[
            "Body"
        ]
        .read()
        .decode()
    )


def _bucket() -> str:
    import os

    return os.environ["DATA_BUCKET"]


def test_a_different_request_under_a_launched_id_is_rejected_and_changes_nothing(harness):
    world, injector, clock, invoke = harness
    deliver_until_acknowledged(invoke, body_of(detail(input={"n": 1})), advance=clock.advance)
    before = inputs_text("f-1")
    d = deliver_until_acknowledged(invoke, body_of(detail(input={"n": 2}, task="other.task")), advance=clock.advance)
    assert d.acknowledged == 1
    answers = world.answers()
    rejected = [a for a in answers if a["detail-type"] == "Task Launch Rejected"]
    assert len(rejected) == 1 and rejected[0]["detail"]["problems"][0]["field"] == "launchId"
    assert "different request" in rejected[0]["detail"]["problems"][0]["message"]
    assert (
        inputs_text("f-1") == before
        and len(jobs_named(world, job_name("other.task", launch_key("platform", "f-1")))) == 0
    )
    assert len(jobs_named(world, job_name("my.task", launch_key("platform", "f-1")))) == 1


def test_crash_after_submit_then_a_different_request_records_the_first_job_and_rejects_the_second(harness):
    world, injector, clock, invoke = harness
    injector.plan(Fault("batch", "SubmitJob", "crash-after"))
    with pytest.raises(Crash):
        invoke(body_of(detail(input={"n": 1})))
    before = inputs_text("f-1")
    clock.advance()
    d = deliver_until_acknowledged(invoke, body_of(detail(input={"n": 2})), advance=clock.advance)
    assert d.acknowledged == 1
    [rejected] = [a for a in world.answers() if a["detail-type"] == "Task Launch Rejected"]
    assert rejected["detail"]["problems"][0]["field"] == "launchId"
    assert inputs_text("f-1") == before
    jobs = jobs_named(world, job_name("my.task", launch_key("platform", "f-1")))
    assert len(jobs) == 1 and world.launch_record("f-1")["jobId"] == jobs[0]["jobId"]  # not left unrecorded


def test_a_rejected_launch_fixed_and_sent_again_is_launched(harness):
    world, injector, clock, invoke = harness
    deliver_until_acknowledged(invoke, body_of(detail(retries=99)), advance=clock.advance)
    deliver_until_acknowledged(invoke, body_of(detail(retries=99)), advance=clock.advance)  # a plain duplicate
    deliver_until_acknowledged(invoke, body_of(detail(retries=2)), advance=clock.advance)
    kinds = [a["detail-type"] for a in world.answers()]
    assert kinds == ["Task Launch Rejected", "Task Launch Rejected", "Task Launched"]
    assert len(jobs_named(world, job_name("my.task", launch_key("platform", "f-1")))) == 1


def test_a_launch_rejected_for_a_disabled_queue_is_launched_when_sent_again_after_it_is_enabled(harness):
    world, injector, clock, invoke = harness
    table = boto3.resource("dynamodb").Table(world.config.table_name("routing"))
    queues = [i for i in table.scan()["Items"] if i["sk"].startswith("queue#")]
    for q in queues:
        table.update_item(
            Key={"pk": q["pk"], "sk": q["sk"]},
            UpdateExpression="SET enabled = :f",
            ExpressionAttributeValues={":f": False},
        )
    deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    for q in queues:
        table.update_item(
            Key={"pk": q["pk"], "sk": q["sk"]},
            UpdateExpression="SET enabled = :t",
            ExpressionAttributeValues={":t": True},
        )
    clock.advance(120)  # past the routing cache lifetime
    handler.runtime().routing.provider.clear_cache()
    deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    kinds = [a["detail-type"] for a in world.answers()]
    assert kinds == ["Task Launch Rejected", "Task Launched"]


def test_an_unreadable_body_goes_to_the_dead_letter_queue_unanswered(harness):
    world, injector, clock, invoke = harness
    d = deliver_until_acknowledged(invoke, "{not json", advance=clock.advance, max_receives=3)
    assert d.dead_lettered == 1 and world.answers() == []
    assert json.loads(body_of(detail()))  # the harness's own bodies are well formed


@pytest.mark.parametrize(
    "service,operation",
    [
        ("batch", "SubmitJob"),
        ("batch", "RegisterJobDefinition"),
        ("batch", "DescribeJobDefinitions"),
        ("s3", "PutObject"),
    ],
)
def test_access_denied_is_a_rejection_not_a_dead_letter_and_the_claim_is_released(harness, service, operation):
    world, injector, clock, invoke = harness
    fault = injector.plan(Fault(service, operation, "access-denied"))
    denied = deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)
    assert fault.injected == 1
    assert (denied.attempts, denied.acknowledged, denied.dead_lettered) == (1, 1, 0)
    [rejected] = world.answers()
    assert rejected["detail-type"] == "Task Launch Rejected"
    assert "not authorized: injected" in rejected["detail"]["problems"][0]["message"]
    assert world.launch_record("f-1") is None  # released: the same id may be sent again
    deliver_until_acknowledged(invoke, body_of(detail()), advance=clock.advance)  # the policy was fixed
    assert [a["detail-type"] for a in world.answers()] == ["Task Launched"]  # answers() hands each out once
