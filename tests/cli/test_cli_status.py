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
    # what the finished attempts used so far, in the full document and in the summary a page comes with
    assert doc["cost"]["vcpuSeconds"] > 0 and doc["cost"]["gpuSeconds"] == 0
    paged = json.loads(cli("status", "c-1", "--limit", "1", "--json").out)
    assert paged["cost"] == doc["cost"]

    text = cli("status", "c-1")  # compact: no failed child, no links
    assert text.code == 0
    assert "Launch c-1: running" in text.out and "https://" not in text.out
    assert "SUCCEEDED 2" in text.out and "no failed child   (every child: --children; log links: --links)" in text.out
    assert "  cost   " in text.out and "Spot (EC2 " in text.out
    long = cli("status", "c-1", "--links", "--children").out
    assert "AWS Batch #1-1 (PhaseRunning): https://" in long
    assert [line.split()[:2] for line in long.splitlines() if line.startswith("    1 ")] == [["1", "RUNNING"]]


def test_status_of_a_finished_map_task_includes_outputs(cli, launched, deliver):
    record = launched("c-2", inputs=[{"i": i} for i in range(2)])
    for i in range(2):
        put_json(f"{record['outputsUri']}{i}/outputs.json", {"y": i})
    assert deliver(*launch_events(record["jobId"], [ChildPlan(), ChildPlan()])) == {"batchItemFailures": []}
    doc = json.loads(cli("status", "c-2", "--json").out)
    assert doc["phase"] == "succeeded"
    assert doc["outputs"] == {"y": [0, 1]}
    assert doc["outputsUri"] == assembled_of(record)
    assert "    y: 2 values   (all of them: --outputs or --json)" in cli("status", "c-2").out
    assert '    {"y": [0, 1]}' in cli("status", "c-2", "--outputs").out


def test_unknown_launch_exits_1(cli, world):
    result = cli("status", "nope", "--json")
    assert result.code == 1 and result.out == ""
    assert "no launch 'nope'" in result.err and result.err.count("\n") == 1
    named_replay = cli("status", "replay")  # a launch id like any other ('batchlane replay' replays)
    assert named_replay.code == 1 and "no launch 'replay'" in named_replay.err


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

    strict = json.loads(cli("replay", path, "--json").out)  # its own command; ratio 1: child 1 failed
    assert strict["phase"] == "failed"
    text = cli("status", "replay", path, "--size", "5", "--children")
    assert text.code == 0 and "5" in text.out and "2 without any yet" in text.out


def test_replay_usage_errors(cli, tmp_path):
    assert cli("replay").code == 2
    assert cli("replay", tmp_path / "missing.jsonl").code == 2
    assert cli("status", "replay", tmp_path / "missing.jsonl").code == 2  # the old spelling
    assert cli("status", "some-launch", "--size", "3").code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert cli("replay", empty).code == 1
    assert cli("replay", empty, "--min-success-ratio", "2").code == 2


def test_status_follow_prints_progress_until_the_launch_ends(capsys, launched, deliver):
    import threading

    from batchlane.cli.main import main

    record = launched("c-follow", inputs=[{"i": 0}, {"i": 1}])
    events = launch_events(record["jobId"], [ChildPlan(), ChildPlan(attempts=(FAIL,))])
    final = [e for e in events if e["detail"]["status"] in ("SUCCEEDED", "FAILED")]
    assert deliver(*[e for e in events if e not in final]) == {"batchItemFailures": []}

    capsys.readouterr()
    codes: list[int] = []
    follower = threading.Thread(
        target=lambda: codes.append(main(["status", "c-follow", "--follow", "--poll", "0.05"])), daemon=True
    )
    follower.start()
    follower.join(0.3)
    assert follower.is_alive(), "it stopped while the launch was running"
    assert deliver(*final) == {"batchItemFailures": []}
    follower.join(10)
    assert not follower.is_alive() and codes == [1]  # the launch failed: exit 1, as `launch --wait`
    out = [line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"_aws"')]
    assert out[0] == "Following c-follow (Ctrl-C stops following, not the launch):"
    assert any("phase running" in line for line in out) and any("phase failed" in line for line in out)
    assert "Launch c-follow: failed" in "\n".join(out[2:])

    ended = cli_main_json(capsys, "status", "c-follow", "--follow", "--json")  # already ended: no following
    assert ended["phase"] == "failed"


def cli_main_json(capsys, *argv):
    from batchlane.cli.main import main

    capsys.readouterr()
    assert main(list(argv)) == 1
    captured = capsys.readouterr()
    assert "Following" not in captured.err
    return json.loads(captured.out[captured.out.index("{\n") :])
