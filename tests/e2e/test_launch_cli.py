"""``batchlane launch`` against the sandbox: routing edits within the cache lifetime, a map task
that cannot succeed any more (its remaining children terminated), ``--wait --json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

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
            {
                "detail": {"launchId": "e2e-reclaimed"},
                "children": {"1": {"failures": [{"attempt": 1, "reclaimed": True}]}},  # its only attempt: Spot took it
                "delivery": {"duplicate": 0.3, "reorder": 0.3, "reorderWindowSeconds": 0.3},
            },
        ],
    }
)


def with_graviton_queue(tmp: Path) -> Path:
    """The dev deployment plus a Graviton (m7g) queue tagged ``graviton``: a file the sandbox and the
    CLI ($BATCHLANE_DEPLOYMENT) both read."""
    raw = yaml.safe_load(Path("config/dev.yaml").read_text())
    raw["computeEnvironments"].append({"name": "graviton", "kind": "ec2", "maxVcpus": 64, "instanceTypes": ["m7g"]})
    raw["jobQueues"].append(
        {"name": "graviton", "priority": 10, "computeEnvironments": ["graviton"], "attributes": ["graviton"]}
    )
    path = tmp / "dev.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    path = with_graviton_queue(tmp_path_factory.mktemp("deployment"))
    config = load_config(path).model_copy(update={"routing_cache_seconds": CACHE_SECONDS})
    with (
        pytest.MonkeyPatch.context() as env,
        Sandbox.started(config, scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox,
    ):
        env.setenv("BATCHLANE_DEPLOYMENT", str(path))
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


def test_an_arm64_launch_routes_only_to_an_arm64_queue(sandbox, capfd):
    # One rule offers the x86 default queue first, then the Graviton one: each launch takes the first
    # queue whose instances run its architecture (queues' architectures come from their instance types).
    assert main(["routes", "set", "rule", "e2e-arm", "--project", "e2e-arm", "--tags", "default,graviton"]) == 0
    time.sleep(CACHE_SECONDS + 0.5)  # the launcher's routing cache
    capfd.readouterr()
    queues = {}
    for arch in ("ARM64", "X86_64"):
        code, out, err = launch(capfd, "--project", "e2e-arm", "--arch", arch, "--input", "{}", "--json")
        assert code == 0, err
        queues[arch] = json.loads(out)["queue"]
    assert queues == {"ARM64": "batchlane-dev-graviton", "X86_64": "batchlane-dev-default"}
    # The catch-all rule's EC2 queues run x86 only: an ARM64 job passes over them to Fargate, which
    # runs either architecture and is told which (runtimePlatform).
    code, out, _ = launch(capfd, "--project", "e2e-other", "--arch", "ARM64", "--input", "{}", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["queue"] == "batchlane-dev-fargate", out
    assert "batchlane-dev-default cannot run the job (it runs X86_64 instances" in answer["routing"]["reason"]
    job = sandbox.executor.job_of_launch(answer["launchId"])
    assert job.definition["containerProperties"]["runtimePlatform"]["cpuArchitecture"] == "ARM64"


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
