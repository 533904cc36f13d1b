"""The launcher end to end against moto: what a client sees on the bus, and what lands in Batch."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from batchlane.common.tenancy import INPUTS, LaunchData
from batchlane.launch import handler
from tests.integration.conftest import LambdaContext, eventbridge_event, sqs_event

ROLE = "arn:aws:iam::123456789012:role/batchlane-dev-us-east-1-job-default"


def task(launch_id="l-1", **overrides):
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


def job_detail(job_id: str) -> dict:
    return boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


@pytest.fixture
def submitted(world):
    """Every SubmitJob request the launcher makes, as sent (moto does not echo all of it back)."""
    from batchlane.common import aws

    requests: list[dict] = []
    aws.single_attempt_client("batch").meta.events.register(
        "provide-client-params.batch.SubmitJob", lambda params, **_: requests.append(dict(params))
    )
    return requests


def s3_text(uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def only(answers: list[dict], detail_type: str) -> dict:
    assert [a["detail-type"] for a in answers] == [detail_type], answers
    return answers[0]["detail"]


def test_single_task_becomes_a_plain_job_with_its_input_in_s3(world, launch, submitted):
    assert launch(task(input={"x": 1}, retries=2, timeoutSeconds=600)) == {"batchItemFailures": []}
    launched = only(world.answers(), "Task Launched")
    assert launched["arraySize"] == 0 and launched["queue"] == "batchlane-dev-default"
    assert launched["routing"]["tag"] == "default" and launched["routing"]["rule"]["id"] == "0004"
    assert launched["consoleUrl"].startswith(
        "https://us-east-1.console.aws.amazon.com/batch/home?region=us-east-1#jobs/detail/"
    )
    [request] = submitted
    assert "arrayProperties" not in request
    assert request["retryStrategy"] == {"attempts": 3} and request["timeout"] == {"attemptDurationSeconds": 600}
    assert request["jobQueue"] == "batchlane-dev-default" and request["propagateTags"] is True
    assert request["tags"]["batchlane:launchId"] == "l-1"
    env = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
    assert env["BATCHLANE_INPUTS_URI"] == launched["inputsUri"] and env["BATCHLANE_ARRAY_SIZE"] == "1"
    assert env["BATCHLANE_OUTPUTS_URI"] == launched["outputsUri"].rstrip("/") + "/"
    assert s3_text(launched["inputsUri"]) == '{"x":1}\n'
    record = world.launch_record("l-1")
    assert record["state"] == "SUBMITTED" and record["jobId"] == launched["jobId"] and record["size"] == 1
    assert record["isArray"] is False and record["queueArn"].endswith(":job-queue/batchlane-dev-default")


def test_map_task_becomes_one_array_job_and_its_inputs_with_their_index(world, launch, submitted):
    inputs = [{"i": i} for i in range(5)]
    launch(task(inputs=inputs, minSuccessRatio=0.8))
    launched = only(world.answers(), "Task Launched")
    assert launched["arraySize"] == 5
    assert submitted[0]["arrayProperties"] == {"size": 5}
    assert s3_text(launched["inputsUri"]).splitlines() == [json.dumps(d, separators=(",", ":")) for d in inputs]
    objects = boto3.client("s3").list_objects_v2(Bucket=world.deployment.bucket)["Contents"]
    # The JSON Lines and their index (docs/chunked-maps.md#inputs-and-their-index): written once, nothing else.
    assert [o["Key"] for o in objects] == [
        LaunchData("platform", "flytesnacks", "development", "l-1").index_key,
        LaunchData("platform", "flytesnacks", "development", "l-1").inputs_key,
    ]
    record = world.launch_record("l-1")
    assert record["size"] == 5 and record["isArray"] is True and float(record["minSuccessRatio"]) == 0.8


def test_map_task_of_one_input_is_a_plain_job(world, launch, submitted):
    launch(task(inputs=[{"only": True}]))
    assert only(world.answers(), "Task Launched")["arraySize"] == 0
    assert "arrayProperties" not in submitted[0]


def test_inputs_already_in_s3_are_not_copied(world, launch):
    own = LaunchData("platform", "flytesnacks", "development", "l-1").prefix(INPUTS)
    uri = f"s3://{world.deployment.bucket}/{own}run-7.jsonl"  # its own inputs prefix
    launch(task(inputsLocation={"uri": uri, "size": 40}))
    launched = only(world.answers(), "Task Launched")
    assert launched["arraySize"] == 40 and launched["inputsUri"] == uri
    assert boto3.client("s3").list_objects_v2(Bucket=world.deployment.bucket).get("KeyCount") == 0


def test_container_overrides_stay_small_whatever_the_inputs(world, launch, submitted):
    launch(
        task(
            inputs=[{"blob": "x" * 5000} for _ in range(20)],
            container={"image": "busybox", "command": ["run"], "resources": {"vcpu": 4, "memory": 8192, "gpu": 1}},
        )
    )
    assert only(world.answers(), "Task Launched")["arraySize"] == 20
    overrides = submitted[0]["containerOverrides"]
    assert len(json.dumps(overrides)) < 1500
    assert {"type": "GPU", "value": "1"} in overrides["resourceRequirements"]


def test_every_problem_is_listed_and_nothing_is_submitted(world, launch):
    bad = task(
        retries=12,
        timeoutSeconds=30,
        retry=1,
        role="arn:aws:iam::123456789012:role/someone-else",
        container={
            "image": "",
            "platform": "FARGATE",
            "resources": {"gpu": 1, "vcpu": 3},
            "environment": {"AWS_BATCH_JOB_ID": "x"},
        },
        inputs=[],
        minSuccessRatio=0,
    )
    del bad["task"]
    assert launch(bad) == {"batchItemFailures": []}
    rejected = only(world.answers(), "Task Launch Rejected")
    assert rejected["launchId"] == "l-1"
    fields = {p["field"] for p in rejected["problems"]}
    assert {
        "task",
        "retries",
        "retry",
        "role",
        "container.image",
        "container.environment.AWS_BATCH_JOB_ID",
        "inputs",
        "minSuccessRatio",
        "timeoutSeconds",
        "container.resources.gpu",
        "container.resources.vcpu",
    } <= fields
    assert all(p["message"] for p in rejected["problems"])
    assert world.jobs() == []
    assert boto3.client("batch").describe_job_definitions()["jobDefinitions"] == []
    assert world.launch_record("l-1") is None


def test_unreadable_detail_is_rejected_without_launch_id(world, launch):
    launch("not an object")
    rejected = only(world.answers(), "Task Launch Rejected")
    assert rejected["launchId"] is None and rejected["problems"][0]["field"] == "detail"


def test_only_allowed_roles_may_be_used(world, launch):
    launch(task("bad-role", role="arn:aws:iam::123456789012:role/admin"))
    launch(task("good-role", role=ROLE))
    answers = world.answers()
    rejected = next(a["detail"] for a in answers if a["detail-type"] == "Task Launch Rejected")
    assert rejected["launchId"] == "bad-role"
    assert rejected["problems"] == [{"field": "role", "message": rejected["problems"][0]["message"]}]
    assert (
        "not an allowed job role" in rejected["problems"][0]["message"] and ROLE in rejected["problems"][0]["message"]
    )
    definitions = boto3.client("batch").describe_job_definitions()["jobDefinitions"]
    assert [d["containerProperties"]["jobRoleArn"] for d in definitions] == [ROLE]


def test_launch_without_role_runs_as_the_default_role(world, launch):
    launch(task())
    definition = boto3.client("batch").describe_job_definitions()["jobDefinitions"][0]
    assert definition["containerProperties"]["jobRoleArn"] == ROLE


def test_no_matching_rule_is_a_clear_rejection(world, launch):
    boto3.resource("dynamodb").Table("batchlane-dev-routing").delete_item(Key={"pk": "routing", "sk": "rule#0004"})
    launch(task())
    rejected = only(world.answers(), "Task Launch Rejected")
    assert rejected["problems"] == [
        {
            "field": "routing",
            "message": "no routing rule applies to project=flytesnacks, domain=development, workflow=wf",
        }
    ]


def test_rule_whose_queues_are_disabled_is_rejected_not_rerouted(world, launch):
    table = boto3.resource("dynamodb").Table("batchlane-dev-routing")
    table.update_item(
        Key={"pk": "routing", "sk": "queue#batchlane-dev-critical"},
        UpdateExpression="SET enabled = :f",
        ExpressionAttributeValues={":f": False},
    )
    launch(task(project="my_queue_1", domain="production", workflow="my_workflow_1"))
    rejected = only(world.answers(), "Task Launch Rejected")
    assert "disabled" in rejected["problems"][0]["message"]


def test_seed_routes_reach_their_queues(world, launch):
    launch(task("a", project="my_queue_1", domain="production", workflow="my_workflow_1"))
    launch(task("b", project="production", domain="staging", workflow="my_workflow_2"))
    launch(task("c", project="my_queue_3", domain="production", workflow="my_workflow_3"))
    launch(task("d", project="my_queue_3", domain="development", workflow="my_workflow_3"))
    queues = {a["detail"]["launchId"]: a["detail"]["queue"] for a in world.answers()}
    assert queues == {
        "a": "batchlane-dev-critical",
        "b": "batchlane-dev-gpu_dynamic",
        "c": "batchlane-dev-critical",
        "d": "batchlane-dev-default",
    }


def test_too_large_map_task_is_rejected(world, launch):
    launch(task(inputsLocation={"uri": "s3://b-1/x.jsonl", "size": 1_000_001}))
    rejected = only(world.answers(), "Task Launch Rejected")
    assert rejected["problems"][0]["field"] == "inputsLocation.size"
    assert "at most 1000000" in rejected["problems"][0]["message"]


def test_oversized_command_and_environment_are_rejected_before_submission(world, launch):
    launch(task(container={"image": "busybox", "environment": {f"V{i}": "y" * 200 for i in range(30)}}))
    rejected = only(world.answers(), "Task Launch Rejected")
    assert rejected["problems"][0]["field"] == "container" and "limit is 4096" in rejected["problems"][0]["message"]
    assert world.jobs() == []


def test_same_launch_delivered_twice_submits_one_job_and_answers_both(world, launch):
    launch(task())
    launch(task())
    assert len(world.jobs()) == 1
    answers = world.answers()
    assert [a["detail-type"] for a in answers] == ["Task Launched", "Task Launched"]
    assert answers[0]["detail"]["jobId"] == answers[1]["detail"]["jobId"] == world.jobs()[0]["jobId"]


def test_duplicates_in_one_batch_submit_one_job(world, launch):
    result = launch(task(), task(), task())
    assert len(world.jobs()) == 1
    # a duplicate still in progress is handed back for a later retry, never lost
    assert len(result["batchItemFailures"]) <= 2


def test_concurrent_deliveries_submit_one_job(world, launch, atomic_moto):
    barrier = threading.Barrier(4)
    results = []

    def deliver():
        barrier.wait()
        results.append(launch(task()))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    retried = sum(len(r["batchItemFailures"]) for r in results)
    for _ in range(retried):  # SQS redelivers what was handed back
        assert launch(task()) == {"batchItemFailures": []}
    assert len(world.jobs()) == 1


def test_duplicate_a_day_later_submits_nothing_and_repeats_the_answer(world, launch, monkeypatch):
    launch(task())
    first = only(world.answers(), "Task Launched")
    service = handler.runtime()
    later = service.clock() + 24 * 3600 + 1
    monkeypatch.setattr(service, "clock", lambda: later)
    launch(task())
    again = only(world.answers(), "Task Launched")
    assert again["jobId"] == first["jobId"] and len(world.jobs()) == 1


def test_crash_after_submit_is_recovered_without_a_second_job(world, launch, monkeypatch):
    from batchlane.launch.adapters import ExecutionsLedger

    real_complete = ExecutionsLedger.complete

    def crash(self, *args, **kwargs):
        raise RuntimeError("Lambda died between SubmitJob and recording it")

    monkeypatch.setattr(ExecutionsLedger, "complete", crash)
    assert len(launch(task())["batchItemFailures"]) == 1
    assert len(world.jobs()) == 1 and world.launch_record("l-1")["state"] == "SUBMITTING"
    monkeypatch.setattr(ExecutionsLedger, "complete", real_complete)
    # redelivered while the lease still runs: handed back again, nothing submitted
    assert len(launch(task())["batchItemFailures"]) == 1
    # redelivered after the lease: the job is found by its name, not submitted again
    service = handler.runtime()
    monkeypatch.setattr(service, "clock", lambda: 4_000_000_000.0)
    assert launch(task()) == {"batchItemFailures": []}
    assert len(world.jobs()) == 1
    record = world.launch_record("l-1")
    assert record["state"] == "SUBMITTED" and record["jobId"] == world.jobs()[0]["jobId"]
    assert only(world.answers(), "Task Launched")["jobId"] == record["jobId"]


def _throttle_submit(times: int):
    """The first ``times`` SubmitJob calls are throttled (Batch's 429), before they reach Batch."""
    from batchlane.common import aws

    calls = {"n": 0}

    def throttle(**kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise ClientError(
                {
                    "Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                    "ResponseMetadata": {"HTTPStatusCode": 429},
                },
                "SubmitJob",
            )

    aws.single_attempt_client("batch").meta.events.register("before-call.batch.SubmitJob", throttle)
    return calls


def test_a_throttled_submit_is_retried_at_once_and_launches_one_job(world, launch):
    """A 429 is a request Batch did not process (docs/throughput.md): retried after a short back-off
    in the same invocation, it makes the one job."""
    calls = _throttle_submit(2)
    assert launch(task()) == {"batchItemFailures": []}
    assert calls["n"] == 3 and len(world.jobs()) == 1
    assert world.launch_record("l-1")["state"] == "SUBMITTED"
    assert only(world.answers(), "Task Launched")["jobId"] == world.jobs()[0]["jobId"]


def test_a_launch_throttled_past_its_retries_frees_its_claim_and_comes_back_later(world, launch, monkeypatch):
    """Still throttled after the in-process retries: no job and no claim (the next delivery need not
    wait for a lease), and SQS brings the message back after a back-off, not at once."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="launches", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    receipt = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    monkeypatch.setattr(handler.runtime().jobs, "THROTTLE_RETRY_SECONDS", 0.3)
    calls = _throttle_submit(1_000)
    event = sqs_event(json.dumps(eventbridge_event(task())))
    event["Records"][0]["receiptHandle"] = receipt
    assert len(handler.handler(event, LambdaContext())["batchItemFailures"]) == 1
    assert calls["n"] >= 2 and world.jobs() == [] and world.launch_record("l-1") is None and world.answers() == []
    time.sleep(2.2)  # the queue's own visibility timeout has passed: the back-off (>= 7 s) holds it
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    calls["n"] = 1_000  # Batch has room again
    assert launch(task()) == {"batchItemFailures": []} and len(world.jobs()) == 1


def test_unreadable_message_fails_alone_and_the_rest_of_the_batch_launches(world, launch):
    wrong_type = json.dumps(
        {
            "version": "0",
            "id": "1",
            "detail-type": "Something Else",
            "source": "x",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
    )
    result = launch(task(), raw_bodies=("{not json", wrong_type))
    assert len(result["batchItemFailures"]) == 2
    assert only(world.answers(), "Task Launched")["launchId"] == "l-1"


def _age_routing_cache():
    service = handler.runtime()
    store = service.routing.provider.store
    for key, value in list(store.items()):
        store[key] = value._replace(ttl=datetime.now() - timedelta(seconds=1))


def test_routing_edit_is_followed_once_the_cache_lifetime_has_passed(world, launch):
    launch(task("before"))
    boto3.resource("dynamodb").Table("batchlane-dev-routing").put_item(
        Item={"pk": "routing", "sk": "rule#urgent", "project": "flytesnacks", "tags": ["critical"]}
    )
    launch(task("cached"))  # within the cache lifetime the old routing may still apply
    _age_routing_cache()  # ... the configured lifetime (30 s) passes
    launch(task("after"))
    queues = {a["detail"]["launchId"]: a["detail"]["queue"] for a in world.answers()}
    assert queues["before"] == "batchlane-dev-default" and queues["after"] == "batchlane-dev-critical"


def test_malformed_routing_item_is_skipped_logged_and_counted(world, launch, capsys, caplog):
    table = boto3.resource("dynamodb").Table("batchlane-dev-routing")
    table.put_item(Item={"pk": "routing", "sk": "rule#broken", "project": "flytesnacks", "tags": "critical"})
    table.put_item(Item={"pk": "routing", "sk": "queue#nameless"})
    launch(task())
    assert only(world.answers(), "Task Launched")["queue"] == "batchlane-dev-default"
    logged = [p for r in caplog.records for p in getattr(r, "problems", [])]
    assert logged == [
        "queue#nameless: attributes must be a non-empty list of strings",
        "rule#broken: tags must be a non-empty list of strings",
    ]
    output = capsys.readouterr().out
    metric = next(json.loads(line) for line in output.splitlines() if '"RoutingItemMalformed"' in line)
    assert metric["RoutingItemMalformed"] == [2.0]


def test_job_definitions_are_reused_and_found_again_after_a_cold_start(world, launch):
    launch(task("a"))
    launch(task("b", inputs=[1, 2]))
    handler.runtime.cache_clear()  # a new Lambda container
    launch(task("c"))
    launch(task("d", container={"image": "other:1"}))
    definitions = boto3.client("batch").describe_job_definitions()["jobDefinitions"]
    assert sorted(d["containerProperties"]["image"] for d in definitions) == ["busybox:1.36", "other:1"]
    assert all(d["jobDefinitionName"].startswith("batchlane-") for d in definitions)


def test_fargate_definition_carries_execution_role_and_log_group(world, launch):
    launch(task(container={"image": "busybox", "platform": "FARGATE", "resources": {"vcpu": 0.5, "memory": 1024}}))
    definition = boto3.client("batch").describe_job_definitions()["jobDefinitions"][0]
    assert definition["platformCapabilities"] == ["FARGATE"]
    props = definition["containerProperties"]
    assert props["executionRoleArn"].endswith(":role/batchlane-dev-us-east-1-execution")
    assert props["logConfiguration"]["options"]["awslogs-group"] == "/aws/batch/batchlane-dev"
