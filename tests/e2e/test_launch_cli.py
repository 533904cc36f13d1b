"""``batchlane launch`` against the sandbox: routing edits within the cache lifetime, a map task
that cannot succeed any more (its remaining children terminated), ``--wait --json``."""

from __future__ import annotations

import json
import time

import pytest

from batchlane.cli.main import main
from batchlane.common.executions import launch_key
from batchlane.deployment.config import load_config
from batchlane.launch.adapters import ExecutionsLedger
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
            {  # children 1 and 3 fail for good (no retry); its rerun (another launch id) runs as planned
                "detail": {"launchId": "e2e-rerun"},
                "children": {str(i): {"failures": [{"attempt": 1, "exitCode": 4}]} for i in (1, 3)},
            },
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    config = load_config("dev").model_copy(update={"routing_cache_seconds": CACHE_SECONDS})
    with Sandbox.started(config, scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
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


def test_relaunch_failed_runs_the_failed_children_and_merges_the_outputs(sandbox, capfd, tmp_path):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(5)))
    wait = ("--wait", "--wait-timeout", "30", "--poll", "0.1", "--json")
    code, out, err = launch(
        capfd, "--launch-id", "e2e-rerun", "--inputs-file", str(inputs), "--min-success-ratio", "0.6", *wait
    )
    original = json.loads(out)
    assert code == 0 and original["counts"]["FAILED"] == 2, err
    assert original["outputs"]["echo"] == [{"i": 0}, None, {"i": 2}, None, {"i": 4}]

    code = main(["relaunch", "e2e-rerun", "--failed", *wait])
    out, err = capfd.readouterr()
    rerun = json.loads(out)
    assert code == 0, err
    assert rerun["launchId"] == "e2e-rerun.rerun1" and rerun["size"] == 2 and rerun["counts"]["SUCCEEDED"] == 2
    assert rerun["rerunOf"] == {"launchId": "e2e-rerun", "indexes": [1, 3], "size": 5}
    assert rerun["outputs"]["echo"] == [{"i": i} for i in range(5)]  # one document, the original's index space

    assert rerun["cost"]["vcpuSeconds"] > 0 and rerun["cost"]["estimate"]["prices"].startswith("us-east-1")

    assert main(["status", "e2e-rerun.rerun1"]) == 0
    text = capfd.readouterr().out
    assert "rerun of e2e-rerun: child i reruns index [1, 3] of its 5 outputs" in text
    assert "  cost   " in text and " vCPU-s, " in text and " on-demand, $" in text
    ledger = ExecutionsLedger(sandbox.config.table_name("executions"))
    ledger.note_rerun(launch_key("platform", "e2e-rerun"), "e2e-rerun.rerun1")  # a redelivery notes it again
    ledger.note_rerun(launch_key("platform", "e2e-nothing"), "e2e-rerun.rerun1")  # no such launch: nothing made
    assert ledger.get(launch_key("platform", "e2e-nothing")) is None
    assert main(["status", "e2e-rerun", "--json"]) == 0  # the original names its rerun, once
    assert json.loads(capfd.readouterr().out)["reruns"] == ["e2e-rerun.rerun1"]
    assert main(["relaunch", "e2e-rerun.rerun1", "--failed"]) == 1  # nothing failed: nothing to rerun
    assert "no child failed" in capfd.readouterr().err
