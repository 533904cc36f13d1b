"""Tenancy against moto, through the real handlers (docs/security.md): the dev deployment's teams
(platform, sandbox, genomics), its per-project job roles and its inputs allow-list."""

from __future__ import annotations

import json
import random

import boto3
import pytest

from batchlane.common import aws, values
from batchlane.common.tenancy import LaunchData
from batchlane.launch import handler as launcher
from batchlane.sandbox.simulate import ChildPlan, launch_events
from batchlane.status import handler as aggregator
from tests.integration.conftest import LambdaContext, eventbridge_event, sqs_event

GENOMICS = "genomics.pipelines"
SANDBOX = "sandbox.client"  # team sandbox: launches anywhere, aborts its own only


def task(launch_id, project="genomics", **overrides):
    detail = {
        "launchId": launch_id,
        "project": project,
        "domain": "production",
        "workflow": "wf",
        "task": "my.task",
        "container": {"image": "busybox:1.36"},
        "input": {},
    }
    return {**detail, **overrides}


def body(detail, source, detail_type="Task Launch Requested") -> str:
    return json.dumps({**eventbridge_event(detail, detail_type), "source": source})


@pytest.fixture
def agg(world):
    aggregator.runtime.cache_clear()
    yield aggregator
    aggregator.runtime.cache_clear()


@pytest.fixture
def terminated(world):
    calls: list[dict] = []
    aws.client("batch").meta.events.register(
        "provide-client-params.batch.TerminateJob", lambda params, **_: calls.append(dict(params))
    )
    return calls


def launch_as(source, detail) -> None:
    assert launcher.handler(sqs_event(body(detail, source)), LambdaContext()) == {"batchItemFailures": []}


def answer(world, detail_type) -> dict:
    [found] = [a["detail"] for a in world.answers() if a["detail-type"] == detail_type]
    return found


def keys(world) -> list[str]:
    return [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=world.deployment.bucket).get("Contents", [])]


def test_a_producer_not_allowed_for_the_project_is_rejected(world):
    launch_as(GENOMICS, task("t-1", project="flytesnacks"))
    rejected = answer(world, "Task Launch Rejected")
    assert rejected["problems"][0]["field"] == "source"
    assert (
        'producer "genomics.pipelines" (account 123456789012) (team genomics) may not launch into project '
        '"flytesnacks"' in rejected["problems"][0]["message"]
    )
    assert world.jobs() == [] and world.launch_record("t-1", GENOMICS) is None and keys(world) == []


def test_an_allowed_producer_is_recorded_and_its_data_lives_under_its_project(world):
    launch_as(GENOMICS, task("t-2"))
    launched = answer(world, "Task Launched")
    bucket = world.deployment.bucket
    data = LaunchData("genomics", "genomics", "production", "t-2")
    assert launched["outputsUri"] == f"s3://{bucket}/{data.children_prefix}" and launched["team"] == "genomics"
    assert keys(world) == [data.inputs_key]
    producer = values.from_dynamo(world.launch_record("t-2", GENOMICS))["producer"]
    assert producer == {"source": GENOMICS, "account": "123456789012", "team": "genomics"}


def test_an_abort_from_another_producer_is_rejected_and_the_job_keeps_running(world, agg, terminated):
    launch_as(GENOMICS, task("t-3"))
    record = values.from_dynamo(world.launch_record("t-3", GENOMICS))
    events = launch_events(record["jobId"], [ChildPlan()], rng=random.Random(1))
    running = [e for e in events if e["detail"]["status"] in ("PENDING", "RUNNABLE", "STARTING", "RUNNING")]
    agg.handler(sqs_event(*(json.dumps(e) for e in running)), LambdaContext())
    world.answers()

    # Sandbox's "t-3" is its own (there is none); naming genomics' launch is for an admin team only.
    mine = body({"launchId": "t-3", "reason": "not mine"}, SANDBOX, "Task Abort Requested")
    theirs = body({"launchId": "t-3", "team": "genomics"}, SANDBOX, "Task Abort Requested")
    assert agg.handler(sqs_event(mine, theirs), LambdaContext()) == {"batchItemFailures": []}
    rejected = sorted((a["detail"]["team"], a["detail"]["reason"]) for a in world.answers())
    assert rejected == [("genomics", "team sandbox may abort its own launches only"), ("sandbox", "no such launch")]
    assert terminated == [] and world.execution_items("t-3", GENOMICS)["status"]["phase"] == "running"

    # Its own team may; so may an admin team (platform: abort any).
    agg.handler(sqs_event(body({"launchId": "t-3"}, GENOMICS, "Task Abort Requested")), LambdaContext())
    assert [c["jobId"] for c in terminated] == [record["jobId"]]
    assert world.execution_items("t-3", GENOMICS)["status"]["phase"] == "aborted"


def test_an_abort_from_an_unknown_producer_is_rejected(world, agg, terminated):
    launch_as(GENOMICS, task("t-4"))
    world.answers()
    agg.handler(sqs_event(body({"launchId": "t-4"}, "stranger", "Task Abort Requested")), LambdaContext())
    assert "not a source of any team" in answer(world, "Task Abort Rejected")["reason"] and terminated == []


def without_input(detail: dict) -> dict:
    """An inputsLocation takes the place of the input: the field is left out (null is refused)."""
    return {k: v for k, v in detail.items() if k != "input"}


@pytest.mark.parametrize("where", ["another launch", "another project", "the layout before tenancy", "elsewhere"])
def test_inputs_location_at_other_data_is_rejected(world, where):
    bucket = world.deployment.bucket
    uri = {
        "another launch": f"s3://{bucket}/{LaunchData('genomics', 'genomics', 'production', 't-2').inputs_key}",
        "another project": f"s3://{bucket}/{LaunchData('genomics', 'flytesnacks', 'production', 't-5').inputs_key}",
        "the layout before tenancy": f"s3://{bucket}/launches/t-2/inputs.jsonl",
        "elsewhere": "s3://someone-else/inputs.jsonl",
    }[where]
    launch_as(GENOMICS, without_input(task("t-5", inputsLocation={"uri": uri, "size": 2})))
    [problem] = answer(world, "Task Launch Rejected")["problems"]
    assert problem["field"] == "inputsLocation.uri" and world.jobs() == []


def test_inputs_location_allow_listed_for_the_project_is_taken(world):
    uri = "s3://genomics-reference-data/cohorts/c1.jsonl"
    launch_as(GENOMICS, without_input(task("t-6", inputsLocation={"uri": uri, "size": 2})))
    assert answer(world, "Task Launched")["inputsUri"] == uri


def test_a_role_of_another_project_is_rejected(world):
    role = f"arn:aws:iam::123456789012:role/{world.config.account_wide_name()}-job-flytesnacks"
    launch_as(GENOMICS, task("t-7", role=role))
    [problem] = answer(world, "Task Launch Rejected")["problems"]
    assert problem["field"] == "role" and 'not a job role of project "genomics"' in problem["message"]


def test_reserved_variables_are_refused(world):
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://x",
        "AWS_SESSION_TOKEN": "x",
        "AWS_ENDPOINT_URL_S3": "http://x",
        "BATCHLANE_LAUNCH_ID": "forged",
        "OK_NAME": "fine",
    }
    launch_as(GENOMICS, task("t-8", container={"image": "busybox:1.36", "environment": environment}))
    fields = sorted(p["field"] for p in answer(world, "Task Launch Rejected")["problems"])
    assert fields == sorted(f"container.environment.{n}" for n in environment if n != "OK_NAME")
    assert world.jobs() == []


def test_a_forged_outputs_uri_is_not_read_nor_written(world, agg):
    launch_as(GENOMICS, task("t-9"))
    world.answers()
    bucket = world.deployment.bucket
    victim = LaunchData("flyte", "flytesnacks", "production", "victim")
    forged = f"s3://{bucket}/{victim.children_prefix}"
    boto3.client("s3").put_object(Bucket=bucket, Key=f"{victim.children_prefix}0/outputs.json", Body=b'{"secret": 1}')
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.update_item(
        Key={"pk": world.key("t-9", GENOMICS), "sk": "launch"},
        UpdateExpression="SET outputsUri = :u",
        ExpressionAttributeValues={":u": forged},
    )
    record = values.from_dynamo(world.launch_record("t-9", GENOMICS))
    agg.handler(
        sqs_event(*(json.dumps(e) for e in launch_events(record["jobId"], [ChildPlan()], rng=random.Random(2)))),
        LambdaContext(),
    )
    status = world.execution_items("t-9", GENOMICS)["status"]
    assert status["phase"] == "succeeded" and "outputsUri" not in status
    assert "is not this launch's outputs prefix" in status["error"]
    assert victim.assembled_key not in keys(world)
