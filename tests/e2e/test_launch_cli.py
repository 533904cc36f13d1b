"""``batchlane launch`` against the sandbox: routing edits within the cache lifetime, a map task
that cannot succeed any more (its remaining children terminated), ``--wait --json``."""

from __future__ import annotations

import json
import time

import pytest

from batchlane.cli.main import main
from batchlane.deployment.config import load_config
from batchlane.sandbox.core import Sandbox
from batchlane.sandbox.scenario import parse_scenario

CACHE_SECONDS = 2
LONG = 120.0  # children that would run this long unless terminated (a loaded machine may take 20 s to stop them)

SCENARIO = parse_scenario(
    {
        "seed": 3,
        "defaults": {"runSeconds": 0.2},
        "launches": [
            {
                "detail": {"launchId": "e2e-doomed"},
                "children": {
                    **{str(i): {"failures": [{"attempt": 1, "exitCode": 7}]} for i in range(4)},
                    "4": {"runSeconds": LONG},
                    "5": {"runSeconds": LONG},
                },
                "delivery": {"duplicate": 0.3, "reorder": 0.3, "reorderWindowSeconds": 0.3},
            },
            {
                "detail": {"launchId": "e2e-reclaimed"},
                "children": {"1": {"failures": [{"attempt": 1, "reclaimed": True}]}},  # its only attempt: Spot took it
                "delivery": {"duplicate": 0.3, "reorder": 0.3, "reorderWindowSeconds": 0.3},
            },
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    config = load_config("dev").model_copy(update={"routing_cache_seconds": CACHE_SECONDS})
    with Sandbox.started(config, scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
        # One tag carried by the mixed Spot/on-demand queue and the on-demand one (onReclaim's peer): e2e-reclaim's.
        for queue, tags in (
            ("batchlane-dev-default", "default,reclaimable"),
            ("batchlane-dev-critical", "critical,reclaimable"),
        ):
            assert main(["routes", "set", "queue", queue, "--attributes", tags]) == 0
        assert main(["routes", "set", "rule", "e2e-reclaim", "--project", "e2e-reclaim", "--tags", "reclaimable"]) == 0
        yield sandbox


def launch(capfd, *argv: str) -> tuple[int, str, str]:
    code = main(
        [
            "launch",
            "--project",
            "e2e",
            "--domain",
            "development",
            "--workflow",
            "wf",
            "--task",
            "t",
            "--image",
            "busybox:1.36",
            *argv,
        ]
    )
    captured = capfd.readouterr()
    return code, captured.out, captured.err


def test_a_routing_edit_is_followed_within_the_cache_lifetime(sandbox, capfd):
    code, out, _ = launch(capfd, "--project", "e2e-reroute", "--input", "{}", "--json")
    assert code == 0 and json.loads(out)["queue"] == "batchlane-dev-default"
    assert main(["routes", "set", "rule", "e2e-reroute", "--project", "e2e-reroute", "--tags", "critical"]) == 0
    edited = time.monotonic()
    capfd.readouterr()
    queues = []
    while True:
        code, out, err = launch(capfd, "--project", "e2e-reroute", "--input", "{}", "--json")
        assert code == 0, err
        queues.append(json.loads(out)["queue"])
        if queues[-1] == "batchlane-dev-critical":
            break
        assert time.monotonic() - edited < CACHE_SECONDS + 3, f"still routed to {queues} after the cache lifetime"
        time.sleep(0.3)
    taken = time.monotonic() - edited
    assert taken <= CACHE_SECONDS + 3
    code, out, _ = launch(capfd, "--project", "e2e-reroute", "--input", "{}", "--json")
    assert json.loads(out)["queue"] == "batchlane-dev-critical"  # and it stays so


def test_launch_wait_json_prints_the_final_status(sandbox, capfd):
    code, out, err = launch(
        capfd,
        "--launch-id",
        "e2e-cli-single",
        "--input",
        '{"k": 1}',
        "--retries",
        "1",
        "--wait",
        "--wait-timeout",
        "30",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)  # only the document on stdout; progress went to stderr
    assert doc["launchId"] == "e2e-cli-single" and doc["phase"] == "succeeded"
    assert doc["counts"]["SUCCEEDED"] == 1 and doc["outputs"]["echo"] == {"k": 1}
    assert doc["children"][0]["logs"][0]["url"].startswith("https://")
    assert "phase succeeded" in err and "SUCCEEDED 1" in err


def test_a_map_task_that_can_no_longer_succeed_fails_and_its_other_children_are_terminated(sandbox, capfd):
    inputs = json.dumps([{"i": i} for i in range(6)])
    path = sandbox_tmp(inputs)
    t0 = time.monotonic()
    code, out, err = launch(
        capfd,
        "--launch-id",
        "e2e-doomed",
        "--inputs-file",
        str(path),
        "--min-success-ratio",
        "0.5",
        "--wait",
        "--wait-timeout",
        "40",
        "--json",
    )
    assert code == 1, err
    assert time.monotonic() - t0 < LONG / 2  # the long children were stopped, not waited for
    doc = json.loads(out)
    assert doc["phase"] == "failed" and doc["terminated"] is True
    assert "at most 2 can succeed, 3 needed" in doc["reason"]
    assert doc["counts"]["FAILED"] == 6 and doc["minSuccesses"] == 3
    children = {c["index"]: c for c in doc["children"]}
    for i in range(4):
        assert children[i]["exitCode"] == 7 and len(children[i]["logs"]) == 1
    for i in (4, 5):
        child = children[i]
        assert child["status"] == "FAILED" and child["statusReason"].startswith(
            "Terminated by batchlane: launch failed"
        )
        assert child["exitCode"] == 143 and len(child["logs"]) == 1  # the stopped attempt keeps its log link
    assert "exit code 7" in doc["error"]  # the failures that decided it
    assert "phase failed" in err and "TerminateJob" in err
    job = sandbox.executor.job_of_launch("e2e-doomed")
    assert job.terminated and job.children_final == {
        0: "FAILED",
        1: "FAILED",
        2: "FAILED",
        3: "FAILED",
        4: "FAILED",
        5: "FAILED",
    }


def test_a_rejection_is_shown_with_its_reasons_and_exit_code_1(sandbox, capfd):
    code, out, err = launch(capfd, "--launch-id", "e2e-cli-bad", "--retries", "12", "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert json.loads(out)["phase"] == "rejected" and [p["field"] for p in problems] == ["retries"]


def test_a_rejection_is_shown_from_the_executions_table_without_an_answers_queue(sandbox, capfd):
    """A real deployment has no answers queue: the CLI reads the rejection the launcher recorded."""
    from batchlane.client.answers import answers_queue_name

    sqs = sandbox.session.client("sqs")
    name = answers_queue_name(sandbox.config.prefix)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    try:
        code, out, err = launch(capfd, "--launch-id", "e2e-cli-no-queue", "--retries", "12", "--vcpu", "0", "--json")
    finally:  # the rule's target names the queue's ARN: the same name brings it back
        sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "600"})
    assert code == 1, err
    document = json.loads(out)
    assert document["phase"] == "rejected"
    assert sorted(p["field"] for p in document["problems"]) == ["container.resources.vcpu", "retries"]


def sandbox_tmp(text: str):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "inputs.json"
    path.write_text(text)
    return path


def test_a_child_whose_last_attempt_a_spot_reclaim_ended_falls_back_on_demand_and_the_launch_succeeds(
    sandbox, capfd, tmp_path
):
    capfd.readouterr()
    (tmp_path / "inputs.json").write_text(json.dumps([{"i": i} for i in range(3)]))
    code, out, err = launch(
        capfd,
        *("--project", "e2e-reclaim", "--launch-id", "e2e-reclaimed", "--inputs-file", str(tmp_path / "inputs.json")),
        *("--on-reclaim", "on-demand", "--wait", "--wait-timeout", "60", "--json"),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["phase"] == "succeeded" and doc["counts"]["SUCCEEDED"] == 3 and doc["fallbacks"] == 1
    [child] = [c for c in doc["children"] if c["index"] == 1]
    assert child["attempts"] == 2 and len(child["logs"]) == 2  # the reclaimed attempt's and the fallback's
    assert doc["outputs"]["echo"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    [fallback] = [j for j in sandbox.executor.jobs_of_launch("e2e-reclaimed") if j.fallback]
    assert fallback.queue_name == "batchlane-dev-critical" and fallback.children_final == {0: "SUCCEEDED"}
    [linked] = doc["fallbackJobs"]  # counted and linked in the status
    assert (linked["index"], linked["jobId"]) == (1, fallback.job_id) and linked["consoleUrl"].startswith("https://")
