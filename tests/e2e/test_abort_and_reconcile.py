"""Aborts (``batchlane abort``, "Task Abort Requested" through its own buffer) and the scheduled
reconciler repairing a launch whose events were all lost, in the sandbox."""

from __future__ import annotations

import json
import re
import time

import pytest

from batchlane.cli.main import main
from batchlane.deployment.config import load_config
from batchlane.sandbox.core import Sandbox
from batchlane.sandbox.executor import peak_running
from batchlane.sandbox.provision import status_path_available
from batchlane.sandbox.scenario import parse_scenario
from waiting import wait_for

pytestmark = pytest.mark.skipif(not status_path_available(), reason="no status path in this checkout")

LONG = 30.0  # children that would run this long unless stopped
SILENT = 1  # the reconciler's silentSeconds, compressed (the deployment says 1800)
EVERY = 1.0  # and its schedule (the deployment says 10 minutes)
# The abort map: VCPUS a child, so 12 of its 16 children run at once in the default queue (8 in its
# spot environment's 512 vCPUs, 4 in ondemand's 256: config/dev.yaml), 4 wait for them.
SIZE, VCPUS, QUEUE_VCPUS = 16, 64, 768
RUNNING_AT_ONCE = 512 // VCPUS + 256 // VCPUS
SANDBOX_TEAM = ("--source", "sandbox.client")  # the CLI as the sandbox team's client: the sandbox reads as it

SCENARIO = parse_scenario(
    {
        "seed": 11,
        "defaults": {"runSeconds": 0.2},
        "launches": [
            {"detail": {"launchId": "e2e-abort-map"}, "children": {"*": {"runSeconds": LONG}}},
            {"detail": {"launchId": "e2e-lost"}, "delivery": {"drop": 1.0}},
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox.started(
        load_config("dev"),
        scenario=SCENARIO,
        visibility_timeout_seconds=1,
        reconcile_every_seconds=EVERY,
        silent_seconds=SILENT,
    ) as sandbox:
        yield sandbox


def cli(capfd, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capfd.readouterr()
    return code, captured.out, captured.err


def launch_map(capfd, launch_id: str, size: int, *extra: str) -> dict:
    code, out, err = cli(
        capfd,
        "launch",
        "--launch-id",
        launch_id,
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
        "--inputs-file",
        str(_inputs(size)),
        "--json",
        *SANDBOX_TEAM,
        *extra,
    )
    assert code == 0, out + err
    return json.loads(out)


def _inputs(size: int):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "inputs.json"
    path.write_text(json.dumps([{"i": i} for i in range(size)]))
    return path


def queue_empty(sandbox, url: str) -> bool:
    attributes = sandbox.session.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def test_the_abort_path_and_the_reconciler_mirror_the_stacks(sandbox):
    abort, aggregator = sandbox.paths["abort"], sandbox.paths["aggregator"]
    assert abort.handler == aggregator.handler == "batchlane.status.handler.handler"
    assert abort.bus == sandbox.config.bus_name and (abort.batch_size, abort.batching_window_seconds) == (10, 0)
    sqs = sandbox.session.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=abort.queue_url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": abort.dlq_arn,
        "maxReceiveCount": sandbox.config.aggregator.max_receive_count,
    }
    events = sandbox.session.client("events")
    rule = events.describe_rule(Name=abort.rule, EventBusName=sandbox.config.bus_name)
    assert json.loads(rule["EventPattern"]) == {"detail-type": ["Task Abort Requested"]}
    [target] = events.list_targets_by_rule(Rule=abort.rule, EventBusName=sandbox.config.bus_name)["Targets"]
    assert target["Arn"] == abort.queue_arn and target["DeadLetterConfig"]["Arn"] == abort.dlq_arn
    assert sandbox.reconciler is not None and sandbox.reconciler.every_seconds == EVERY


def test_aborting_a_running_map_task_stops_its_children(sandbox, capfd):
    launched = launch_map(capfd, "e2e-abort-map", SIZE, "--vcpu", str(VCPUS))
    assert launched["phase"] == "launched"
    wait_for(lambda: (s := sandbox.status("e2e-abort-map")) and s["counts"]["RUNNING"] == RUNNING_AT_ONCE)
    t0 = time.monotonic()
    code, out, err = cli(
        capfd, "abort", "e2e-abort-map", "--reason", "operator said so", "--wait", "--json", *SANDBOX_TEAM
    )
    assert code == 0, err
    assert time.monotonic() - t0 < LONG / 2  # stopped, not waited for
    doc = json.loads(out)
    assert doc["phase"] == "aborted" and doc["reason"] == "aborted on request: operator said so"
    assert doc["terminated"] is True and doc["counts"]["FAILED"] == SIZE
    for child in doc["children"]:
        assert child["status"] == "FAILED"
        assert child["statusReason"] == "Terminated by batchlane: aborted on request: operator said so"
    # The children that had vCPUs were stopped running; the others, waiting for them, never started.
    ran = [c for c in doc["children"] if c["attempts"] == 1]
    assert len(ran) == RUNNING_AT_ONCE and all(c["exitCode"] == 143 for c in ran)
    assert all(len(c["logs"]) == 1 for c in ran)  # the stopped attempt keeps its log link
    assert all(c["attempts"] == 0 and c["logs"] == [] for c in doc["children"] if c not in ran)
    job = sandbox.executor.job_of_launch("e2e-abort-map")
    assert job.terminated and job.children_final == dict.fromkeys(range(SIZE), "FAILED")
    assert sandbox.executor.capacity.vcpus(job.queue_name) == QUEUE_VCPUS and job.vcpus == VCPUS
    ours = [e for e in sandbox.executor.emitted if e["detail"]["jobId"].startswith(job.job_id)]
    assert peak_running(ours) == RUNNING_AT_ONCE
    changed = [a["detail"] for a in sandbox.answers_for("e2e-abort-map") if a["detail-type"] == "Task Status Changed"]
    assert [c["phase"] for c in changed if c["kind"] == "phase"][-1] == "aborted"
    # A second abort: the launch has ended, the abort is rejected (exit 1), and said so.
    code, out, err = cli(capfd, "abort", "e2e-abort-map", "--wait", "--json", *SANDBOX_TEAM)
    assert code == 1, err
    assert json.loads(out) == {
        "launchId": "e2e-abort-map",
        "abortRejected": True,
        "reason": "the launch has already aborted",
        "phase": "aborted",
    }


def test_aborting_an_unknown_launch_is_answered_not_retried(sandbox, capfd):
    before = sandbox.pollers["abort"].stats.invocations
    sandbox.abort("e2e-nobody", reason="typo")
    rejected = wait_for(
        lambda: next(
            (a["detail"] for a in sandbox.answers_for("e2e-nobody") if a["detail-type"] == "Task Abort Rejected"), None
        )
    )
    assert {k: v for k, v in rejected.items() if k != "eventId"} == {
        "launchId": "e2e-nobody",
        "team": "sandbox",
        "reason": "no such launch",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", rejected["eventId"])
    stats = sandbox.pollers["abort"].stats
    assert stats.invocations > before and stats.failures_reported == 0 and stats.errors == 0
    wait_for(lambda: queue_empty(sandbox, sandbox.paths["abort"].queue_url))  # acknowledged
    assert sandbox.dead_letters("abort") == []
    # The CLI reads the same answer from the answers queue: exit 1 and the reason.
    code, out, err = cli(capfd, "abort", "e2e-nobody-cli", "--wait", "--wait-timeout", "15", "--json")
    assert code == 1, err
    assert json.loads(out) == {
        "launchId": "e2e-nobody-cli",
        "abortRejected": True,
        "reason": "no such launch",
        "phase": None,
    }
    code, out, _ = cli(capfd, "abort", "e2e-nobody-cli")  # without --wait: requested
    assert code == 0 and "Sent Task Abort Requested e2e-nobody-cli" in out


def test_the_reconciler_repairs_a_launch_whose_events_were_all_lost(sandbox, capfd):
    runs_before = sandbox.reconciler.stats.invocations
    launch_map(capfd, "e2e-lost", 3)
    job = wait_for(lambda: (j := sandbox.executor.job_of_launch("e2e-lost")) and j.finished and j)
    assert job.events_emitted == 0 and job.events_dropped > 0  # the aggregator heard nothing
    [out] = sandbox.wait([("e2e-lost", "e2e-lost")], timeout=20)
    assert out.result == "succeeded", out.status
    assert out.status["counts"]["SUCCEEDED"] == 3 and len(out.status["children"]) == 3
    assert out.status["outputs"]["echo"] == [{"i": i} for i in range(3)]
    assert sandbox.reconciler.stats.invocations > runs_before and sandbox.reconciler.stats.errors == 0
    assert any((r or {}).get("repaired") for r in sandbox.reconciler.results)
    # Every DescribeJobs answer came from the simulated Batch: the children's attempts and log streams.
    child = out.status["children"][0]
    assert child["attempts"] == 1 and child["logs"] and child["exitCode"] == 0
