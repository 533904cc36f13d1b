"""Every AWS call the launcher and the aggregator make in a launch's life (against moto, recorded
below boto3) is evaluated against their synthesized roles, with resources and conditions: a call no
grant allows fails, and so does a grant on the deployment's data that no call uses. moto checks
none of it (its IAM enforcement is off, and checks actions only when on)."""

from __future__ import annotations

import json

import boto3
import pytest

from batchlane.sandbox.simulate import ChildPlan, launch_events
from tests.integration.conftest import LambdaContext, eventbridge_event, moto_world, sqs_event
from tests.support.aws_calls import Call, as_function, authorizations, recording
from tests.support.iam_policy import allowed, listed, render, template_refs

pytestmark = pytest.mark.infra
ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's, where the calls were made
# Used with the function's role by others: Lambda's log agent and X-Ray tracing, and the SQS poller of
# its event source mapping (ChangeMessageVisibility is also the code's deferral of a throttled launch).
NOT_CALLED_BY_THE_CODE = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ChangeMessageVisibility",
}


def _task(launch_id: str, **overrides) -> dict:
    container = {"image": "busybox:1.36", "command": ["echo", "hi"]}
    return {"launchId": launch_id, "project": "flytesnacks", "domain": "development", "workflow": "wf",
            "task": "t", "container": container, **overrides}  # fmt: skip


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    """A single task and a map task launched, a rejected launch, the single task's events folded,
    the map task repaired by the reconciler."""
    from batchlane.launch import handler as launcher
    from batchlane.status import handler as aggregator

    environment = pytest.MonkeyPatch()
    try:
        with recording() as made, moto_world(environment.setenv) as world:
            launch = as_function("launcher", launcher.handler)
            for detail in (_task("one", input={"x": 1}), _task("map", inputs=[{"i": 1}, {"i": 2}]), _task("bad!")):
                launch(sqs_event(json.dumps(eventbridge_event(detail))), LambdaContext())
            aggregator.runtime.cache_clear()
            record = world.launch_record("one") or {}
            outputs = f"{record['outputsUri']}0/outputs.json".removeprefix("s3://").split("/", 1)
            boto3.client("s3").put_object(Bucket=outputs[0], Key=outputs[1], Body=b'{"y": 2}')
            fold = as_function("aggregator", aggregator.handler)
            for event in launch_events(record["jobId"], [ChildPlan()]):
                fold(sqs_event(json.dumps(event)), LambdaContext())
            environment.setenv("SILENT_SECONDS", "0")  # every open launch is silent: the map task is repaired
            aggregator.reconciler.cache_clear()
            as_function("reconciler", aggregator.reconcile)({}, LambdaContext())
            aggregator.runtime.cache_clear()
            aggregator.reconciler.cache_clear()
            return list(made)
    finally:
        environment.undo()


def _role_statements(synth, function, bucket: str) -> list[dict]:
    """The function's role's statements with the names moto gave the deployment's resources."""
    refs = template_refs(synth.json["Resources"], account=ACCOUNT, region=REGION)
    refs[f"{synth.logical_id(synth.stack.state.bucket)}.Arn"] = f"arn:aws:s3:::{bucket}"
    role = synth.json["Resources"][synth.logical_id(function)]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in render(
            policy["Properties"]["PolicyDocument"]["Statement"], refs, account=ACCOUNT, region=REGION
        )
    ]


def _roles(dev) -> dict[str, object]:
    status = dev.stack.status
    return {"launcher": dev.stack.launch.function, "aggregator": status.function, "reconciler": status.reconciler}


def _refused(statements: list[dict], calls: list[Call]) -> list[str]:
    return sorted(
        {
            f"{call.operation}: {action} on {resource}"
            for call in calls
            for action, resource, context in authorizations(call, ACCOUNT, REGION)
            if not allowed(statements, service=None, action=action, resource=resource, context=context)
        }
    )


def test_every_call_the_functions_make_is_allowed_by_their_synthesized_roles(dev, calls):
    # the life covered: submissions, the fold's reads and writes, the reconciler's repair
    operations = {(c.function, c.operation) for c in calls}
    assert {("launcher", "SubmitJob"), ("aggregator", "GetObject"), ("reconciler", "DescribeJobs")} <= operations
    bucket = f"batchlane-dev-data-{ACCOUNT}"
    for name, function in _roles(dev).items():
        made = [c for c in calls if c.function == name]
        assert not _refused(_role_statements(dev, function, bucket), made), name


def test_a_removed_grant_is_a_refused_call(dev, calls):
    statements = _role_statements(dev, dev.stack.launch.function, f"batchlane-dev-data-{ACCOUNT}")
    without_submit = [s for s in statements if "batch:SubmitJob" not in listed(s["Action"])]
    refused = _refused(without_submit, [c for c in calls if c.function == "launcher"])
    assert refused and all(r.startswith("SubmitJob: batch:SubmitJob") for r in refused)


def test_every_grant_of_the_launcher_is_used_by_a_call(dev, calls):
    """A statement no recorded call needs is a grant beyond what the code does."""
    statements = _role_statements(dev, dev.stack.launch.function, f"batchlane-dev-data-{ACCOUNT}")
    needs = [n for c in calls if c.function == "launcher" for n in authorizations(c, ACCOUNT, REGION)]
    unused = [
        s.get("Sid") or listed(s["Action"])
        for s in statements
        if s["Effect"] == "Allow"
        and not any(allowed([s], service=None, action=a, resource=r, context=ctx) for a, r, ctx in needs)
        and not set(listed(s["Action"])) <= NOT_CALLED_BY_THE_CODE
    ]
    assert not unused
