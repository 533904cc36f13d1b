"""`batchlane status` in-process: records written by the real launcher and aggregator (moto), and
`status replay` offline (no AWS at all)."""

from __future__ import annotations

import json
import random

import boto3
import pytest

from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status import handler as aggregator
from batchlane.status.fold import fold_events
from tests.integration.conftest import LambdaContext, assembled_of, launch, sqs_event, world  # noqa: F401 - fixtures

FAIL = AttemptPlan("exit", 1)


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
def deliver(world):
    aggregator.runtime.cache_clear()

    def send(*events):
        return aggregator.handler(sqs_event(*(json.dumps(e) for e in events)), LambdaContext())

    yield send
    aggregator.runtime.cache_clear()


@pytest.fixture
def launched(world, launch):
    def make(launch_id, **overrides):
        assert launch(task(launch_id, **overrides)) == {"batchItemFailures": []}
        world.answers()
        table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
        return table.get_item(Key={"pk": world.key(launch_id), "sk": "launch"})["Item"]

    return make


def put_json(uri, value):
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode())


def test_status_of_a_running_array_shows_children_and_log_links(cli, launched, deliver):
    record = launched("c-1", inputs=[{"i": i} for i in range(3)])
    job = record["jobId"]
    events = launch_events(
        job, [ChildPlan(), ChildPlan(attempts=(FAIL, AttemptPlan())), ChildPlan()], rng=random.Random(2)
    )
    # everything up to child 1's second attempt running
    upto = [
        e
        for e in events
        if not (e["detail"]["jobId"] == f"{job}:1" and e["detail"]["status"] == "SUCCEEDED")
        and "size" not in e["detail"].get("arrayProperties", {})
    ]
    assert deliver(*upto) == {"batchItemFailures": []}

    result = cli("status", "c-1", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["launchId"] == "c-1" and doc["jobId"] == job and doc["queue"] == record["queue"]
    assert doc["phase"] == "running"
    assert doc["counts"]["SUCCEEDED"] == 2 and doc["counts"]["RUNNING"] == 1
    assert [c["index"] for c in doc["children"]] == [0, 1, 2]
    one = doc["children"][1]
    assert one["status"] == "RUNNING" and one["attempts"] == 2
    assert [link["name"] for link in one["logs"]] == [
        "AWS Batch #1-0 (PhaseRetryableFailure)",
        "AWS Batch #1-1 (PhaseRunning)",
    ]
    assert all(
        link["url"].startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home") for link in one["logs"]
    )
    assert doc["console"]["url"].endswith(f"#jobs/detail/{job}")
    assert "outputs" not in doc

    text = cli("status", "c-1")
    assert text.code == 0
    assert "Launch c-1: running" in text.out and "AWS Batch #1-1 (PhaseRunning): https://" in text.out
    assert "SUCCEEDED 2" in text.out


def test_status_of_a_finished_map_task_includes_outputs(cli, launched, deliver):
    record = launched("c-2", inputs=[{"i": i} for i in range(2)])
    for i in range(2):
        put_json(f"{record['outputsUri']}{i}/outputs.json", {"y": i})
    assert deliver(*launch_events(record["jobId"], [ChildPlan(), ChildPlan()])) == {"batchItemFailures": []}
    doc = json.loads(cli("status", "c-2", "--json").out)
    assert doc["phase"] == "succeeded"
    assert doc["outputs"] == {"y": [0, 1]}
    assert doc["outputsUri"] == assembled_of(record)
    assert "outputs:" in cli("status", "c-2").out


def test_unknown_launch_exits_1(cli, world):
    result = cli("status", "nope", "--json")
    assert result.code == 1 and result.out == ""
    assert "no launch 'nope'" in result.err and result.err.count("\n") == 1


def test_replay_folds_offline_like_the_aggregator(cli, tmp_path, monkeypatch, unused_endpoint):
    monkeypatch.setenv("AWS_ENDPOINT_URL", unused_endpoint)  # any AWS call would fail
    job = "11111111-2222-4333-8444-555555555555"
    plans = [ChildPlan(pending=True), ChildPlan(attempts=(FAIL, FAIL)), ChildPlan()]
    events = launch_events(job, plans, rng=random.Random(1))
    shuffled = events + events[:4]
    random.Random(3).shuffle(shuffled)
    lines = [json.dumps(e) for e in shuffled]
    weird = json.loads(json.dumps(events[0]))
    weird["detail"]["status"] = "TELEPORTED"  # an unknown Batch status: malformed, as in the aggregator
    lines[2:2] = [
        "",
        "{not json",
        json.dumps({"source": "my.app", "detail-type": "x", "detail": {}}),
        json.dumps(weird),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = cli("status", "replay", path, "--json", "--min-success-ratio", "0.6")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    expected = fold_events({"jobId": job, "size": 3, "isArray": True, "minSuccessRatio": 0.6}, events)
    assert doc["phase"] == expected.phase == "succeeded"
    assert doc["jobId"] == job and doc["size"] == 3 and doc["counts"] == expected.counts
    assert [c["status"] for c in doc["children"]] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert [link["name"] for link in doc["children"][1]["logs"]] == [
        "AWS Batch #1-0 (PhaseRetryableFailure)",
        "AWS Batch #1-1 (PhaseRetryableFailure)",
    ]
    assert doc["error"] == "[1]: Essential container in task exited (exit code 1)"
    assert "outputs" not in doc and "outputsUri" not in doc
    assert doc["replay"] == {"events": len(shuffled), "malformed": 2, "foreign": 1, "otherJobs": 0}
    assert "malformed" in result.err

    strict = json.loads(cli("status", "replay", path, "--json").out)  # ratio 1: child 1 failed
    assert strict["phase"] == "failed"
    text = cli("status", "replay", path, "--size", "5")
    assert text.code == 0 and "5" in text.out and "2 without any yet" in text.out


def test_replay_usage_errors(cli, tmp_path):
    assert cli("status", "replay").code == 2
    assert cli("status", "replay", tmp_path / "missing.jsonl").code == 2
    assert cli("status", "some-launch", "--size", "3").code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert cli("status", "replay", empty).code == 1
    assert cli("status", "replay", empty, "--min-success-ratio", "2").code == 2
