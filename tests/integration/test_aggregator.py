"""The aggregator end to end against moto: launches made by the launcher, then AWS Batch events
(built with batchlane.sandbox.simulate, and the sample events) delivered the way SQS does."""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

import boto3
import pytest
from conftest import assembled_of

from batchlane.client.links import child_log_links
from batchlane.common import aws, values
from batchlane.common.rate import backoff_budget
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status import handler as aggregator
from batchlane.status.adapters.shards import ExecutionsShards
from batchlane.status.fold import fold_events
from batchlane.status.states import ChildState
from clock import Clock
from tests.integration.conftest import LambdaContext, sqs_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
FAIL = AttemptPlan("exit", 1)
NOSTART = AttemptPlan("nostart")
OK = AttemptPlan()


def task(launch_id, **overrides):
    detail = {
        "launchId": launch_id,
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "wf",
        "task": "my.task",
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
    }
    detail.update(overrides)
    return detail


@pytest.fixture
def agg(world):
    aggregator.runtime.cache_clear()
    yield aggregator
    aggregator.runtime.cache_clear()


@pytest.fixture
def deliver(agg):
    def send(*events, raw_bodies: tuple[str, ...] = ()) -> dict:
        bodies = tuple(json.dumps(e) for e in events) + raw_bodies
        return agg.handler(sqs_event(*bodies), LambdaContext())

    return send


@pytest.fixture
def launched(world, launch):
    """Launch through the launcher; returns the launch record (with the Batch job id)."""

    def make(launch_id, **overrides):
        assert launch(task(launch_id, **overrides)) == {"batchItemFailures": []}
        world.answers()
        return values.from_dynamo(world.launch_record(launch_id))

    return make


@pytest.fixture
def terminated(world):
    calls: list[dict] = []
    aws.client("batch").meta.events.register(
        "provide-client-params.batch.TerminateJob", lambda params, **_: calls.append(dict(params))
    )
    return calls


def summary(world, launch_id):
    return world.execution_items(launch_id)["status"]


def children(world, launch_id) -> dict[int, ChildState]:
    """The launch's stored children (its shards' range items), read by the aggregator's own adapter."""
    shards = ExecutionsShards(world.config.table_name("executions"))
    size = int(world.execution_items(launch_id)["launch"]["size"])
    return {c.index: c for c in shards.iter_children(world.key(launch_id), size)}


def status_changes(world):
    return [a["detail"] for a in world.answers() if a["detail-type"] == "Task Status Changed"]


def s3_put_json(uri, value):
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode())


def s3_json(uri):
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def metric(stdout: str, name: str, **dimensions: str) -> float:
    """Sum of one metric in the EMF lines the handler printed (optionally with dimensions)."""
    total = 0.0
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        if name in blob and all(blob.get(k) == v for k, v in dimensions.items()):
            value = blob[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def writes():
    return aggregator.runtime().store.write_requests


def test_single_job_lifecycle_with_log_links_and_unwrapped_outputs(world, launched, deliver):
    record = launched("s-1", input={"x": 1})
    job = record["jobId"]
    pending, runnable, starting, running, succeeded = launch_events(job, [ChildPlan(pending=True)])
    s3_put_json(f"{record['outputsUri']}0/outputs.json", {"y": 2})

    assert deliver(pending, runnable) == {"batchItemFailures": []}
    assert summary(world, "s-1")["phase"] == "queued"
    assert [c["phase"] for c in status_changes(world)] == ["queued"]

    deliver(starting, running)
    s = summary(world, "s-1")
    assert s["phase"] == "running" and s["jobId"] == job and s["queue"] == "batchlane-dev-default"
    assert [c["phase"] for c in status_changes(world)] == ["running"]
    [child] = children(world, "s-1").values()
    [link] = child_log_links(child, "us-east-1", log_group=record.get("logGroup"))
    assert link.name == "AWS Batch #0-0 (PhaseRunning)"
    assert link.url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:")

    deliver(succeeded)
    s = summary(world, "s-1")
    assert s["phase"] == "succeeded" and s["n_SUCCEEDED"] == 1
    [change] = status_changes(world)
    assert change["phase"] == "succeeded" and change["previousPhase"] == "running"
    assert change["outputsUri"] == assembled_of(record)
    assert s3_json(change["outputsUri"]) == {"y": 2}  # a single task's outputs are unwrapped
    [child] = children(world, "s-1").values()
    assert [link.name for link in child_log_links(child, "us-east-1")] == ["AWS Batch #0-0 (PhaseSuccess)"]


def test_sample_event_of_a_running_job_gives_its_log_link(world, launched, deliver, event_sample):
    record = launched("s-2")
    sample = event_sample("single-running.json", record["jobId"])
    assert deliver(sample) == {"batchItemFailures": []}
    [child] = children(world, "s-2").values()
    [link] = child_log_links(child, "us-east-1")
    assert link.url.endswith("/log-events/first-run-job-definition$252Fdefault$252F770a2f9cd4bb407c84227223b775ca25")
    assert summary(world, "s-2")["phase"] == "running"


@pytest.fixture
def event_sample():
    def load(name, job_id):
        e = json.loads((FIXTURES / name).read_text())
        old = e["detail"]["jobId"]
        return json.loads(json.dumps(e).replace(old, job_id))

    return load


def test_array_with_retries_fails_fast_and_terminates_the_rest(world, launched, deliver, terminated):
    record = launched("a-1", inputs=[{"i": i} for i in range(4)])
    job = record["jobId"]
    plans = [ChildPlan(), ChildPlan(attempts=(FAIL, OK)), ChildPlan(attempts=(NOSTART, FAIL)), ChildPlan()]
    events = launch_events(job, plans, rng=random.Random(3))
    # Child 3 is still running when child 2 has failed for good: the launch can no longer succeed.
    child3 = [e for e in events if e["detail"]["jobId"] == f"{job}:3"]
    upto_running = [e for e in events if e not in child3 or e["detail"]["status"] != "SUCCEEDED"]
    upto_running = [
        e
        for e in upto_running
        if "size" not in e["detail"].get("arrayProperties", {}) or e["detail"]["status"] == "PENDING"
    ]
    for k in range(0, len(upto_running), 7):
        assert deliver(*upto_running[k : k + 7]) == {"batchItemFailures": []}
    s = summary(world, "a-1")
    assert s["phase"] == "failed" and s["terminated"] is True
    assert s["error"] == "[2]: Essential container in task exited (exit code 1)"
    assert [t["jobId"] for t in terminated] == [job]
    final = [c for c in status_changes(world) if c["phase"] == "failed"]
    assert len(final) == 1 and final[0]["counts"]["FAILED"] == 1
    kids = children(world, "a-1")
    assert kids[1].status == "SUCCEEDED" and kids[1].attempt_count == 2 and kids[1].attempts[0].exit_code == 1
    assert [link.name for link in child_log_links(kids[1], "us-east-1")] == [
        "AWS Batch #1-0 (PhaseRetryableFailure)",
        "AWS Batch #1-1 (PhaseSuccess)",
    ]
    assert kids[2].status == "FAILED" and kids[2].attempt_count == 2
    # Later events change child states, never the final phase, and terminate nothing more.
    deliver(*[e for e in events if e not in upto_running])
    assert summary(world, "a-1")["phase"] == "failed" and len(terminated) == 1


def test_duplicates_and_out_of_order_events_make_no_write(world, launched, deliver):
    record = launched("a-2", inputs=[{"i": i} for i in range(30)], minSuccessRatio=0.9)
    job = record["jobId"]
    plans = [ChildPlan(pending=True, attempts=(FAIL, OK) if i % 5 == 0 else (OK,)) for i in range(30)]
    plans[7] = ChildPlan(attempts=(NOSTART, FAIL, FAIL))
    events = launch_events(job, plans, rng=random.Random(1))
    shuffled = events[:]
    random.Random(2).shuffle(shuffled)
    for k in range(0, len(shuffled), 10):
        assert deliver(*shuffled[k : k + 10]) == {"batchItemFailures": []}
    first_pass = writes()
    assert first_pass <= len(events)
    # The stored record is the one the pure fold builds from the events in their true order.
    expected = fold_events(record, events)
    s = summary(world, "a-2")
    assert s["phase"] == expected.phase == "succeeded"
    assert set(children(world, "a-2").values()) == set(expected.children)
    before = world.execution_items("a-2")
    # Every event again, in another order, in other batches: no write at all, no event.
    world.answers()
    random.Random(5).shuffle(shuffled)
    for k in range(0, len(shuffled), 25):
        assert deliver(*shuffled[k : k + 25]) == {"batchItemFailures": []}
    assert writes() == first_pass
    assert world.execution_items("a-2") == before
    assert status_changes(world) == []


def test_stale_event_after_the_end_makes_no_write(world, launched, deliver):
    record = launched("s-3")
    events = launch_events(record["jobId"], [ChildPlan(pending=True)])
    deliver(events[-1])  # SUCCEEDED first
    n = writes()
    for e in events[:-1]:
        deliver(e)
    assert writes() == n
    assert summary(world, "s-3")["phase"] == "succeeded"


def test_malformed_and_foreign_events_do_not_fail_the_batch(world, launched, deliver, capsys):
    record = launched("s-4")
    good = launch_events(record["jobId"], [ChildPlan()])[0]
    no_status = json.loads(json.dumps(good))
    del no_status["detail"]["status"]
    foreign = {
        "version": "0",
        "id": "x",
        "detail-type": "Something Else",
        "source": "my.app",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    capsys.readouterr()
    response = deliver(good, no_status, foreign, raw_bodies=("not json", "[1, 2]"))
    assert response == {"batchItemFailures": []}
    assert summary(world, "s-4")["phase"] == "queued"
    out = capsys.readouterr().out
    assert metric(out, "StatusEventMalformed") == 4 and metric(out, "StatusEventProcessed") == 1


def test_foreign_job_is_acknowledged_and_counted(world, launched, deliver, capsys):
    """A job in our queues that batchlane did not launch (no batchlane:launchId tag, no record)."""
    record = launched("s-5")
    ours = launch_events(record["jobId"], [ChildPlan()])[0]
    stranger = launch_events("0000aaaa-0000-4000-8000-000000000000", [ChildPlan()])[0]
    capsys.readouterr()
    response = aggregator.handler(
        sqs_event(json.dumps(ours), json.dumps(stranger), json.dumps(stranger)), LambdaContext()
    )
    assert response == {"batchItemFailures": []}
    assert summary(world, "s-5")["phase"] == "queued"
    out = capsys.readouterr().out
    assert metric(out, "StatusEventForeign") == 2 and metric(out, "StatusEventProcessed") == 1
    # Remembered: a later event of the same foreign job costs no lookup.
    store = aggregator.runtime().store
    lookups = []
    original = store.find_launch
    store.find_launch = lambda job_id: lookups.append(job_id) or original(job_id)
    try:
        deliver(stranger)
    finally:
        store.find_launch = original
    assert lookups == []


def test_tagged_job_without_its_record_yet_is_retried(world, launched, deliver):
    """Our tag but no completed launch record yet (the launcher has not recorded the job id):
    the message fails and SQS retries it (bounded by maxReceiveCount), then it is folded."""
    job = "0000bbbb-0000-4000-8000-000000000000"
    early = launch_events(job, [ChildPlan()], tags={"batchlane:launchId": "s-7", "batchlane:team": "platform"})[0]
    bodies = sqs_event(json.dumps(early))
    response = aggregator.handler(bodies, LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": bodies["Records"][0]["messageId"]}]}
    record = launched("s-7")  # the launcher completes; the job id differs in moto, so re-tag its events
    events = launch_events(
        record["jobId"], [ChildPlan()], tags={"batchlane:launchId": "s-7", "batchlane:team": "platform"}
    )
    assert deliver(events[0]) == {"batchItemFailures": []}
    assert summary(world, "s-7")["phase"] == "queued"
    # A job that carries our tag but is not the launch's job (e.g. an orphan) is foreign, not retried.
    assert deliver(early) == {"batchItemFailures": []}


def test_a_record_that_failed_for_a_passing_reason_is_back_in_seconds_not_after_the_visibility_timeout(
    world, agg, monkeypatch
):
    """Its own visibility is changed (per record, by its receive count): the buffer's 360 s do not apply."""
    monkeypatch.setattr(aggregator, "RETRY_REDELIVERY", (1.0, 1.0))
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="status-buffer", Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    job = "0000cccc-0000-4000-8000-000000000000"  # tagged, but no launch record names it yet: transient
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps(launch_events(job, [ChildPlan()], tags={"batchlane:launchId": "s-9"})[0])
    )
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    event = sqs_event(message["Body"])
    event["Records"][0].update(
        receiptHandle=message["ReceiptHandle"], eventSourceARN=arn, messageId=message["MessageId"]
    )
    assert agg.handler(event, LambdaContext()) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # not at once
    time.sleep(1.1)
    (again,) = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again["MessageId"] == message["MessageId"] and again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_retry_waits_longer_with_each_receive_and_is_capped():
    waits = [aggregator.retry_delay(n) for n in range(1, 12)]
    base, cap = aggregator.RETRY_REDELIVERY
    assert base / 2 <= waits[0] <= base and all(cap / 2 <= w <= cap for w in waits[-2:])
    # What maxReceiveCount 10 gives a throttled record at least before the dead-letter queue (docs/status.md):
    # ten waits, never less than the hour ten visibility timeouts (360 s) gave before.
    assert backoff_budget(10, base=base, cap=cap) >= 3600


def test_queue_blocked_is_attached_and_counted(world, launched, deliver, capsys, event_sample):
    record = launched("s-6")
    blocked = event_sample("queue-blocked.json", record["jobId"])
    capsys.readouterr()
    assert deliver(blocked) == {"batchItemFailures": []}
    assert summary(world, "s-6")["blocked"]
    out = capsys.readouterr().out
    assert metric(out, "QueueBlocked", queue="critical") == 1


def test_outputs_of_a_map_task_are_lists_with_none_for_failed_children(world, launched, deliver):
    record = launched("a-3", inputs=[{"i": i} for i in range(3)], minSuccessRatio=0.6)
    plans = [ChildPlan(), ChildPlan(attempts=(FAIL,)), ChildPlan()]
    for i in (0, 2):
        s3_put_json(f"{record['outputsUri']}{i}/outputs.json", {"y": i * 10, "z": f"v{i}"})
    events = launch_events(record["jobId"], plans, rng=random.Random(4))
    assert deliver(*events) == {"batchItemFailures": []}
    s = summary(world, "a-3")
    assert s["phase"] == "succeeded" and s["error"].startswith("[1]: ")
    assert s3_json(s["outputsUri"]) == {"y": [0, None, 20], "z": ["v0", None, "v2"]}
    assert s["outputsUri"] == assembled_of(record)


def test_map_task_of_one_input_keeps_lists(world, launched, deliver):
    record = launched("a-4", inputs=[{"only": True}])
    assert record["isMapTask"] is True and record["size"] == 1
    s3_put_json(f"{record['outputsUri']}0/outputs.json", {"y": 1})
    deliver(*launch_events(record["jobId"], [ChildPlan()]))
    assert s3_json(summary(world, "a-4")["outputsUri"]) == {"y": [1]}


def test_writes_per_event_on_a_shuffled_array(world, launched, deliver):
    """Write requests per event with batches of 100 (the configured batch size), 10% duplicates."""
    size = 200
    record = launched("a-5", inputs=[{"i": i} for i in range(size)])
    events = launch_events(record["jobId"], [ChildPlan(pending=True)] * size, rng=random.Random(8))
    rng = random.Random(9)
    delivered = events + rng.sample(events, len(events) // 10)
    rng.shuffle(delivered)
    for k in range(0, len(delivered), 100):
        assert deliver(*delivered[k : k + 100]) == {"batchItemFailures": []}
    store = aggregator.runtime().store
    per_event = writes() / len(delivered)
    print(
        f"write requests per event: {per_event:.3f} ({writes()} for {len(delivered)} events); "
        f"items written per event: {store.items_written / len(delivered):.3f}"
    )
    assert per_event <= 1.2
    assert store.items_written <= len(delivered)
    assert summary(world, "a-5")["phase"] == "succeeded"


def abort_body(launch_id, reason=None):
    from tests.integration.conftest import eventbridge_event

    detail = {"launchId": launch_id} if launch_id is not None else {}
    if reason:
        detail["reason"] = reason
    return json.dumps(eventbridge_event(detail, "Task Abort Requested"))


def answers_of(world, detail_type):
    """The details of ``detail_type`` published, without their eventId (checked here: 32 hex digits)."""
    details = [dict(a["detail"]) for a in world.answers() if a["detail-type"] == detail_type]
    assert all(re.fullmatch("[0-9a-f]{32}", d.pop("eventId")) for d in details)
    return details


def test_abort_terminates_the_job_and_the_launch_ends_aborted(world, launched, deliver, terminated, agg):
    record = launched("ab-1", inputs=[{"i": i} for i in range(3)])
    job = record["jobId"]
    events = launch_events(job, [ChildPlan()] * 3, rng=random.Random(1))
    running = [e for e in events if e["detail"]["status"] in ("PENDING", "RUNNABLE", "STARTING", "RUNNING")]
    assert deliver(*running) == {"batchItemFailures": []}
    world.answers()

    response = agg.handler(sqs_event(abort_body("ab-1", "user cancelled")), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert [t["jobId"] for t in terminated] == [job]
    s = summary(world, "ab-1")
    assert s["phase"] == "aborted" and s["reason"] == "aborted on request: user cancelled" and s["terminated"]
    [change] = answers_of(world, "Task Status Changed")
    assert change["phase"] == "aborted" and change["previousPhase"] == "running" and change["kind"] == "phase"

    # The children's own end (FAILED by TerminateJob) is recorded; the phase stays aborted.
    killed = [simulate_terminated(e) for e in running if e["detail"]["status"] == "RUNNING"]
    assert deliver(*killed) == {"batchItemFailures": []}
    assert summary(world, "ab-1")["phase"] == "aborted"
    assert answers_of(world, "Task Status Changed") == []

    # Aborting it again, or an unknown launch, or an event without launchId: answered, acknowledged.
    bodies = sqs_event(abort_body("ab-1"), abort_body("no-such-launch"), abort_body(None))
    assert agg.handler(bodies, LambdaContext()) == {"batchItemFailures": []}
    rejected = sorted(answers_of(world, "Task Abort Rejected"), key=lambda d: str(d["launchId"]))
    assert rejected == [
        {"launchId": None, "team": None, "reason": "the event names no launchId"},
        {"launchId": "ab-1", "team": "platform", "reason": "the launch has already aborted", "phase": "aborted"},
        {"launchId": "no-such-launch", "team": "platform", "reason": "no such launch"},
    ]
    assert len(terminated) == 1


def simulate_terminated(event):
    e = json.loads(json.dumps(event))
    e["detail"]["status"] = "FAILED"
    e["detail"]["statusReason"] = "batchlane: aborted on request"
    return e


def test_abort_before_any_batch_event_and_of_a_finished_launch(world, launched, deliver, terminated, agg):
    record = launched("ab-2")
    assert agg.handler(sqs_event(abort_body("ab-2")), LambdaContext()) == {"batchItemFailures": []}
    assert summary(world, "ab-2")["phase"] == "aborted"
    assert [t["jobId"] for t in terminated] == [record["jobId"]]

    done = launched("ab-3")
    deliver(*launch_events(done["jobId"], [ChildPlan()]))
    world.answers()
    assert agg.handler(sqs_event(abort_body("ab-3")), LambdaContext()) == {"batchItemFailures": []}
    assert answers_of(world, "Task Abort Rejected") == [
        {"launchId": "ab-3", "team": "platform", "reason": "the launch has already succeeded", "phase": "succeeded"}
    ]
    assert summary(world, "ab-3")["phase"] == "succeeded" and len(terminated) == 1


def test_abort_of_a_launch_still_being_submitted_is_retried(world, agg, terminated):
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.put_item(Item={"pk": world.key("ab-4"), "sk": "launch", "state": "SUBMITTING", "size": 1})
    bodies = sqs_event(abort_body("ab-4"))
    assert agg.handler(bodies, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": bodies["Records"][0]["messageId"]}]
    }
    assert terminated == [] and answers_of(world, "Task Abort Rejected") == []


def test_progress_of_a_large_map_task_is_rate_limited(world, launched, deliver, agg):
    size = 120
    record = launched("p-1", inputs=[{"i": i} for i in range(size)])
    events = launch_events(record["jobId"], [ChildPlan(pending=True)] * size, rng=random.Random(5))
    clock = Clock()
    agg.runtime().clock = clock
    batches = [events[k : k + 25] for k in range(0, len(events), 25)]
    for batch in batches:
        assert deliver(*batch) == {"batchItemFailures": []}
        clock.t += 20  # 20 s between batches: at most one progress event per 60 s (the default interval)
    changes = status_changes(world)
    progress = [c for c in changes if c["kind"] == "progress"]
    phases = [c["phase"] for c in changes if c["kind"] == "phase"]
    assert phases == ["queued", "running", "succeeded"]
    elapsed = 20 * len(batches)
    assert 1 <= len(progress) <= elapsed // 60 + 1 and len(progress) < len(batches)
    assert all(sum(p["counts"].values()) == size and p["phase"] == "running" for p in progress)
    assert [p["final"] for p in progress] == sorted(p["final"] for p in progress)


def test_small_launches_report_no_progress(world, launched, deliver, agg):
    record = launched("p-2", inputs=[{"i": i} for i in range(5)])
    clock = Clock()
    agg.runtime().clock = clock
    for e in launch_events(record["jobId"], [ChildPlan()] * 5, rng=random.Random(1)):
        deliver(e)
        clock.t += 120
    assert [c["kind"] for c in status_changes(world)] == ["phase"] * 3


def test_a_failed_map_task_has_outputs_with_none_for_failed_children(world, launched, deliver, terminated):
    record = launched("f-1", inputs=[{"i": i} for i in range(4)])
    for i in (0, 2):
        s3_put_json(f"{record['outputsUri']}{i}/outputs.json", {"y": i * 10})
    plans = [ChildPlan(), ChildPlan(attempts=(FAIL,)), ChildPlan(), ChildPlan()]
    events = launch_events(record["jobId"], plans, rng=random.Random(2))
    job = record["jobId"]
    # Children 0 and 2 succeed, child 1 fails while child 3 still runs: the launch fails fast.
    first = [
        e
        for e in events
        if e["detail"]["jobId"] in (f"{job}:0", f"{job}:2", f"{job}:1")
        or (e["detail"]["jobId"] == f"{job}:3" and e["detail"]["status"] != "SUCCEEDED")
    ]
    first = [e for e in first if e["detail"]["jobId"] != job]
    assert deliver(*first) == {"batchItemFailures": []}
    s = summary(world, "f-1")
    assert s["phase"] == "failed" and s["terminated"] is True and len(terminated) == 1
    assert s3_json(s["outputsUri"]) == {"y": [0, None, 20, None]}
    [change] = [c for c in status_changes(world) if c["phase"] == "failed"]
    assert change["outputsUri"] == s["outputsUri"]


def test_a_failed_single_task_has_no_outputs(world, launched, deliver):
    record = launched("f-2")
    assert deliver(*launch_events(record["jobId"], [ChildPlan(attempts=(FAIL,))])) == {"batchItemFailures": []}
    s = summary(world, "f-2")
    assert s["phase"] == "failed" and "outputsUri" not in s
    assert s["error"] == "[0]: Essential container in task exited (exit code 1)"


def test_concurrent_invocations_announce_each_phase_once_and_assemble_outputs_once(world, launched, atomic_moto):
    import threading

    from batchlane.common.events import EventBusAnnouncer
    from batchlane.common.observability import PowertoolsCounter
    from batchlane.common.settings_store import SsmSettingsSource
    from batchlane.status.adapters.batch import BatchTerminator
    from batchlane.status.adapters.executions import ExecutionsStatusStore
    from batchlane.status.adapters.outputs import S3Outputs
    from batchlane.status.adapters.shards import ExecutionsShards
    from batchlane.status.service import StatusService

    size = 12
    record = launched("c-1", inputs=[{"i": i} for i in range(size)])
    for i in range(size):
        s3_put_json(f"{record['outputsUri']}{i}/outputs.json", {"y": i})
    events = launch_events(
        record["jobId"],
        [ChildPlan(pending=True)] * size,
        rng=random.Random(3),
        tags={"batchlane:launchId": "c-1", "batchlane:team": "platform"},
    )
    writes_of_outputs = []
    outputs = S3Outputs()
    real_write = outputs.write_stream  # a map task's outputs are streamed
    outputs.write_stream = lambda uri, parts: (writes_of_outputs.append(uri), real_write(uri, parts))

    def invocation():  # one Lambda container each: its own service, caches and clients
        return StatusService(
            store=ExecutionsStatusStore(world.config.table_name("executions")),
            shards=ExecutionsShards(world.config.table_name("executions")),
            jobs=BatchTerminator(),
            outputs=outputs,
            announcer=EventBusAnnouncer(world.config.bus_name),
            metrics=PowertoolsCounter(),
            log=aggregator.logger,
            settings=SsmSettingsSource(os.environ["SETTINGS_PATH"]),
            data_bucket=os.environ["DATA_BUCKET"],
        )

    services = [invocation() for _ in range(4)]
    barrier = threading.Barrier(4)
    failures = []

    def run(svc, part):
        barrier.wait()
        for k in range(0, len(part), 4):
            failures.append(svc.process((f"m{k}-{j}", json.dumps(e)) for j, e in enumerate(part[k : k + 4])))

    threads = [threading.Thread(target=run, args=(svc, events[n::4])) for n, svc in enumerate(services)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    services[0].process(
        (f"late-{j}", json.dumps(e)) for j, e in enumerate(events[-3:])
    )  # a redelivery settles the rest
    assert all(f == {} for f in failures)
    phase_changes = [c["phase"] for c in status_changes(world) if c["kind"] == "phase"]
    assert phase_changes.count("succeeded") == 1 and len(phase_changes) == len(set(phase_changes))
    assert writes_of_outputs == [assembled_of(record)]
    assert s3_json(writes_of_outputs[0]) == {"y": list(range(size))}
    assert summary(world, "c-1")["phase"] == "succeeded"


def test_a_queue_blocked_event_makes_routing_avoid_the_queue_while_a_healthy_one_shares_its_tag(world, deliver, capsys):
    from batchlane.routing import decide
    from batchlane.routing.items import table_from_items

    routing = boto3.resource("dynamodb").Table(world.config.table_name("routing"))
    blocked_queue = f"{world.config.prefix}-default"
    routing.put_item(Item={"pk": "routing", "sk": "queue#peer", "attributes": ["default"]})  # shares tag default
    blocked = json.loads((FIXTURES / "queue-blocked.json").read_text())
    blocked["detail"]["jobQueue"] = f"arn:aws:batch:us-east-1:123456789012:job-queue/{blocked_queue}"
    capsys.readouterr()
    assert deliver(blocked) == {"batchItemFailures": []}  # a job batchlane did not launch: acknowledged
    assert metric(capsys.readouterr().out, "QueueMarkedUnhealthy", queue=blocked_queue) == 1
    items = {i["sk"]: values.from_dynamo(i) for i in routing.scan()["Items"]}
    marked = items[f"queue#{blocked_queue}"]
    assert marked["blockedReason"].startswith("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
    assert marked["capabilities"]["platform"] == "EC2"  # the seed's capabilities are kept
    table, problems = table_from_items(items)
    assert problems == []
    now = marked["unhealthyUntil"] - 1
    routed = {decide(table, "any", "development", "wf", f"l-{i}", now=now).queue for i in range(200)}
    assert routed == {"peer"}
    after = {
        decide(table, "any", "development", "wf", f"l-{i}", now=marked["unhealthyUntil"]).queue for i in range(200)
    }
    assert after == {"peer", blocked_queue}  # the mark runs out: both share the tag again
    assert deliver(blocked) == {"batchItemFailures": []}  # a second report within the mark does not shorten it
    assert (
        values.from_dynamo(routing.get_item(Key={"pk": "routing", "sk": f"queue#{blocked_queue}"})["Item"])[
            "unhealthyUntil"
        ]
        >= marked["unhealthyUntil"]
    )


def test_a_queue_blocked_event_for_a_queue_routing_does_not_know_creates_nothing(world, deliver):
    routing = boto3.resource("dynamodb").Table(world.config.table_name("routing"))
    before = routing.scan()["Items"]
    assert deliver(json.loads((FIXTURES / "queue-blocked.json").read_text())) == {"batchItemFailures": []}
    assert routing.scan()["Items"] == before  # job-queue/critical is not a routing item here
