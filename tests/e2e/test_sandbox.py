"""Launch events in on the batchlane bus; Batch events, logs, outputs and answers out."""

from __future__ import annotations

import json
import uuid

import pytest

from batchlane.cli.sandbox import _up_document
from batchlane.client.waiting import settled
from batchlane.deployment.config import load_config
from batchlane.sandbox.core import Sandbox
from batchlane.sandbox.provision import status_path_available
from batchlane.sandbox.scenario import parse_scenario
from tests.e2e.conftest import task
from waiting import wait_for

SCENARIO = parse_scenario(
    {
        "seed": 7,
        "defaults": {"runSeconds": 0.2},
        "launches": [
            {
                "detail": task("e2e-map", inputs=[{"i": i} for i in range(5)], retries=1),
                "children": {
                    "2": {"failures": [{"attempt": 1, "exitCode": 3, "reason": "Essential container in task exited"}]}
                },
                "delivery": {"duplicate": 0.3, "reorder": 0.3, "reorderWindowSeconds": 0.3},
            },
            {
                "detail": task("e2e-mnp", nodes={"count": 3, "mainNode": 0}),
                "children": {"2": {"failures": [{"attempt": 1, "exitCode": 1}]}},  # a worker node fails
                "delivery": {"duplicate": 0.3, "reorder": 0.3, "reorderWindowSeconds": 0.3},
            },
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    config = load_config("dev")
    # Two receives before the DLQ (the dev config says 10): the poison test ends in seconds.
    config = config.model_copy(update={"launcher": config.launcher.model_copy(update={"max_receive_count": 2})})
    with Sandbox.started(config, scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
        yield sandbox


def answer(sandbox, launch_id, detail_type, timeout=15.0):
    return wait_for(
        lambda: next((a["detail"] for a in sandbox.answers_for(launch_id) if a["detail-type"] == detail_type), None),
        timeout,
    )


def job_events(sandbox, job_id):
    return [e for e in list(sandbox.executor.emitted) if e["detail"]["jobId"].split(":")[0] == job_id]


def test_the_sandbox_mirrors_the_deployment(sandbox):
    assert sandbox.started_in < 15
    up = json.loads(json.dumps(_up_document(sandbox, sandbox.emulator.environment())))  # `sandbox up --json`
    assert up["endpoint"] == sandbox.endpoint and up["environment"]["AWS_ENDPOINT_URL"] == sandbox.endpoint
    assert set(up["functions"]) == set(sandbox.paths) and up["queues"] == dict(sandbox.deployment.queue_arns)
    assert set(sandbox.paths) == ({"launcher", "aggregator", "abort"} if status_path_available() else {"launcher"})
    launcher = sandbox.paths["launcher"]
    assert (launcher.batch_size, launcher.batching_window_seconds) == (
        sandbox.config.launcher.batch_size,
        sandbox.config.launcher.batching_window_seconds,
    )
    sqs = sandbox.session.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=launcher.queue_url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": launcher.dlq_arn, "maxReceiveCount": 2}
    rule = sandbox.session.client("events").describe_rule(Name=launcher.rule, EventBusName=sandbox.config.bus_name)
    assert json.loads(rule["EventPattern"]) == {"detail-type": ["Task Launch Requested"]}


def test_single_task_through_the_bus_is_launched_and_runs(sandbox):
    sandbox.put_launch(task("e2e-single", input={"x": 1}, retries=2))
    launched = answer(sandbox, "e2e-single", "Task Launched")
    assert launched["arraySize"] == 0
    wait_for(lambda: (j := sandbox.executor.job_of_launch("e2e-single")) and j.finished and j)
    events = job_events(sandbox, launched["jobId"])
    assert [e["detail"]["status"] for e in events] == ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    assert all(e["source"] == "aws.batch" and e["detail-type"] == "Batch Job State Change" for e in events)
    final = events[-1]["detail"]
    assert final["jobQueue"] == sandbox.deployment.queue_arns[launched["queue"]]
    assert final["retryStrategy"]["attempts"] == 3
    stream = final["attempts"][0]["container"]["logStreamName"]
    definition = launched["jobDefinition"].rsplit("/", 1)[-1].split(":")[0]
    assert stream.startswith(f"{definition}/default/") and final["attempts"][0]["container"]["exitCode"] == 0
    group = final["container"]["logConfiguration"]["options"]["awslogs-group"]
    assert group == sandbox.config.job_log_group
    lines = sandbox.session.client("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert any('"x": 1' in e["message"] for e in lines) and "exit code 0" in lines[-1]["message"]
    bucket, key = (launched["outputsUri"] + "0/outputs.json")[5:].split("/", 1)
    output = json.loads(sandbox.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert output["echo"] == {"x": 1} and output["digest"]
    if sandbox.has_status_path:
        status = wait_for(lambda: (s := sandbox.status("e2e-single")) and s.get("storedPhase") == "succeeded" and s)
        assert status["outputs"]["echo"] == {"x": 1}
        [child] = status["children"]
        assert child["status"] == "SUCCEEDED" and child["logs"] and child["logs"][0]["url"].startswith("https://")


def test_map_task_is_one_array_job_with_a_child_retried(sandbox):
    sandbox.put_launch(task("e2e-map", inputs=[{"i": i} for i in range(5)], retries=1))
    launched = answer(sandbox, "e2e-map", "Task Launched")
    assert launched["arraySize"] == 5
    batch = sandbox.session.client("batch")
    parents = [
        j
        for q in sandbox.deployment.queue_arns.values()
        for j in batch.list_jobs(jobQueue=q, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]
        if j["jobName"] == launched["jobName"] and ":" not in j["jobId"]
    ]
    assert len(parents) == 1
    wait_for(lambda: (j := sandbox.executor.job_of_launch("e2e-map")) and j.finished)
    events = job_events(sandbox, launched["jobId"])
    children = {}
    for e in events:
        index = (e["detail"].get("arrayProperties") or {}).get("index")
        if index is not None:
            children.setdefault(index, []).append(e["detail"])
    assert sorted(children) == [0, 1, 2, 3, 4]
    retried = [d for d in children[2] if d["status"] in ("SUCCEEDED", "FAILED")][-1]
    assert retried["status"] == "SUCCEEDED" and len(retried["attempts"]) == 2
    assert [a["container"]["exitCode"] for a in retried["attempts"]] == [3, 0]
    assert all(len([d for d in children[i] if d["status"] == "SUCCEEDED"][-1]["attempts"]) == 1 for i in (0, 1, 3, 4))
    parent = [e["detail"] for e in events if "size" in (e["detail"].get("arrayProperties") or {})]
    assert {d["status"] for d in parent} == {"PENDING", "SUCCEEDED"}
    if sandbox.has_status_path:
        # A SUCCEEDED parent event overtaking a child's (reorder) ends the launch first; the
        # child's own event is folded when it arrives.
        status = wait_for(
            lambda: (s := sandbox.status("e2e-map")) and s.get("storedPhase") == "succeeded" and settled(s) and s
        )
        assert status["outputs"]["echo"] == [{"i": i} for i in range(5)]
        assert status["counts"]["SUCCEEDED"] == 5
        retried_child = next(c for c in status["children"] if c["index"] == 2)
        assert retried_child["attempts"] == 2 and len(retried_child["logs"]) == 2


def test_poisoned_message_goes_to_the_dlq_and_the_rest_of_its_batch_is_processed(sandbox):
    launcher = sandbox.pollers["launcher"]
    good = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Task Launch Requested",
        "source": "sandbox.scenario",
        "account": sandbox.deployment.account,
        "time": "2026-11-24T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": task("e2e-batchmate", input={"y": 2}),
    }
    sqs = sandbox.session.client("sqs")
    launcher.pause()
    try:
        sqs.send_message_batch(
            QueueUrl=sandbox.paths["launcher"].queue_url,
            Entries=[{"Id": "poison", "MessageBody": "not json {"}, {"Id": "good", "MessageBody": json.dumps(good)}],
        )
    finally:
        launcher.resume()
    assert answer(sandbox, "e2e-batchmate", "Task Launched")["arraySize"] == 0
    assert 2 in launcher.stats.batch_sizes  # the two arrived together
    dead = wait_for(lambda: sandbox.dead_letters("launcher"), timeout=15)
    assert [m["Body"] for m in dead] == ["not json {"]
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= 2


def test_malformed_launch_is_rejected_with_its_reasons(sandbox):
    bad = task("e2e-bad", retries=12, container={"image": ""})
    del bad["task"]
    sandbox.put_launch(bad)
    rejected = answer(sandbox, "e2e-bad", "Task Launch Rejected")
    fields = {p["field"] for p in rejected["problems"]}
    assert {"task", "retries", "container.image"} <= fields and all(p["message"] for p in rejected["problems"])
    assert sandbox.launch_record("e2e-bad") is None
    assert sandbox.executor.job_of_launch("e2e-bad") is None


def test_a_child_whose_output_write_fails_leaves_the_rest_of_the_map_running(sandbox, monkeypatch):
    # The executor does many children's due work in one pass: one child's failed side effect (here
    # its output upload) must not drop the others' logs, outputs and events done in the same pass.
    put_json = sandbox.executor.backplane.put_json

    def failing_for_child_1(bucket, key, document):
        if "/l=e2e-side-effect/" in key and key.endswith("/1/outputs.json"):
            raise RuntimeError("the bucket refused the upload")
        put_json(bucket, key, document)

    monkeypatch.setattr(sandbox.executor.backplane, "put_json", failing_for_child_1)
    sandbox.put_launch(task("e2e-side-effect", inputs=[{"i": i} for i in range(3)]))
    launched = answer(sandbox, "e2e-side-effect", "Task Launched")
    job = wait_for(lambda: (j := sandbox.executor.job_of_launch("e2e-side-effect")) and j.finished and j)
    assert job.pending_actions == 0 and not job.outputs_pending
    finals = {
        e["detail"]["arrayProperties"]["index"]: e["detail"]["status"]
        for e in job_events(sandbox, launched["jobId"])
        if "index" in (e["detail"].get("arrayProperties") or {})
    }
    assert finals == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "SUCCEEDED"}
    s3 = sandbox.session.client("s3")
    bucket, prefix = launched["outputsUri"][5:].split("/", 1)
    written = sorted(
        o["Key"][len(prefix) :] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    )
    assert written == ["0/outputs.json", "2/outputs.json"]
    if sandbox.has_status_path:
        status = wait_for(
            lambda: (
                (s := sandbox.status("e2e-side-effect")) and s.get("storedPhase") == "succeeded" and settled(s) and s
            )
        )
        assert status["counts"]["SUCCEEDED"] == 3
        assert status["outputs"]["echo"] == [{"i": 0}, None, {"i": 2}]


def test_the_aggregator_reads_many_outputs_over_pooled_connections(sandbox, caplog):
    # The aggregator assembles a map task's outputs with a pool of threads sharing one S3 client:
    # beyond its connection pool every request would open (TLS, in AWS) a connection and drop it.
    from batchlane.status.adapters.outputs import S3Outputs

    s3 = sandbox.session.client("s3")
    bucket = sandbox.deployment.bucket
    uris = {}
    for i in range(120):
        s3.put_object(Bucket=bucket, Key=f"pool-test/{i}/outputs.json", Body=json.dumps({"o": i}).encode())
        uris[i] = f"s3://{bucket}/pool-test/{i}/outputs.json"
    outputs = S3Outputs()
    assert outputs.workers > 10  # more threads than botocore's default pool
    with caplog.at_level("WARNING", logger="urllib3.connectionpool"):
        assert outputs.read_many(uris) == {i: {"o": i} for i in range(120)}
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]


def test_a_three_node_multi_node_job_reports_each_node_and_ends_as_its_main_node(sandbox):
    scope = {"project": "my_queue_1", "domain": "production", "workflow": "my_workflow_1"}  # on-demand EC2
    sandbox.put_launch(task("e2e-mnp", input={"epochs": 2}, nodes={"count": 3, "mainNode": 0}, **scope))
    launched = answer(sandbox, "e2e-mnp", "Task Launched")
    assert launched["queue"].endswith("-critical") and launched["arraySize"] == 0
    definition = sandbox.session.client("batch").describe_job_definitions(jobDefinitions=[launched["jobDefinition"]])
    [registered] = definition["jobDefinitions"]
    assert registered["type"] == "multinode"  # (moto's DescribeJobDefinitions leaves nodeProperties out)
    job = wait_for(lambda: (j := sandbox.executor.job_of_launch("e2e-mnp")) and j.finished and j)
    events = [e["detail"] for e in sandbox.executor.emitted if e["detail"]["jobId"].startswith(launched["jobId"])]
    nodes = {d["jobId"] for d in events if "nodeDetails" in d}
    assert nodes == {f"{launched['jobId']}#{i}" for i in range(3)}
    assert [d["status"] for d in events if "nodeProperties" in d][-1] == "SUCCEEDED"  # the main node's end
    assert job.children_final == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "FAILED"}
    if sandbox.has_status_path:
        status = wait_for(
            lambda: (s := sandbox.status("e2e-mnp")) and s.get("storedPhase") == "succeeded" and settled(s) and s
        )
        assert {k: v for k, v in status["counts"].items() if v} == {"SUCCEEDED": 2, "FAILED": 1}
        assert status["nodes"] == {"count": 3, "mainNode": 0} and status["phase"] == "succeeded"
        by_node = {c["index"]: c for c in status["children"]}
        assert sorted(by_node) == [0, 1, 2] and by_node[2]["status"] == "FAILED"
        assert all(c["logs"] and c["logs"][0]["url"].startswith("https://") for c in by_node.values())
        assert status["outputs"]["echo"] == {"epochs": 2}  # the main node's
