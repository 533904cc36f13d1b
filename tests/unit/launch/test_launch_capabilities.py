"""The launch side of issue 11: routing by the job's needs, the queue's platform, retryOn, and
refusals by AWS that become rejections (never retries into the DLQ)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from launch_examples import SETTINGS, detail

from batchlane.common import aws
from batchlane.common.event_types import LAUNCH_REJECTED
from batchlane.common.executions import launch_key
from batchlane.launch.adapters import BatchJobDefinitions, BatchJobs, S3InputStore
from batchlane.launch.models import LaunchRequest
from batchlane.launch.planner import INFRASTRUCTURE_RETRY, routing_needs
from batchlane.launch.service import LaunchService
from batchlane.routing import Capabilities, Needs, Queue, RoutingTable, Rule
from launch_fakes import FakeDefinitions, FakeInputs, FakeJobs, FakeLedger, FakeRouting, FakeSettings
from port_fakes import FakeAnnouncer, FakeCounter

EC2_Q = Queue("cpu", ("default",), capabilities=Capabilities("EC2", 96, 700_000, 0))
FARGATE_Q = Queue("fg", ("fargate",), capabilities=Capabilities("FARGATE", 16, 122_880, 0))
TABLE = RoutingTable((EC2_Q, FARGATE_Q), (Rule("0001", ("default", "fargate")),))


def service(table=TABLE, **ports) -> LaunchService:
    parts = dict(
        settings=FakeSettings(SETTINGS),
        routing=FakeRouting(table),
        definitions=FakeDefinitions(),
        inputs=FakeInputs(),
        jobs=FakeJobs(),
        ledger=FakeLedger(),
        announcer=FakeAnnouncer(),
        metrics=FakeCounter(),
        bucket="bucket",
        lease_seconds=180,
        clock=lambda: 1_800_000_000.0,
    )
    return LaunchService(**{**parts, **ports})


def test_routing_needs_are_read_from_the_validated_request():
    assert routing_needs(LaunchRequest.model_validate(detail())) == Needs()
    fargate = detail(
        container={"image": "b", "platform": "FARGATE", "resources": {"vcpu": 0.5, "memory": 1024, "gpu": 0}}
    )
    assert routing_needs(LaunchRequest.model_validate(fargate)) == Needs("FARGATE", 0.5, 1024, 0)


def test_a_fargate_launch_goes_to_the_fargate_queue_with_a_fargate_definition():
    svc = service()
    result = svc.handle(detail(container={"image": "busybox", "platform": "FARGATE"}))
    assert result["queue"] == "fg"
    [spec] = svc.definitions.registered.values()
    assert spec.platform == "FARGATE"


def test_a_launch_without_platform_gets_its_queue_s_platform():
    only_fargate = RoutingTable((FARGATE_Q,), (Rule("0001", ("fargate",)),))
    svc = service(only_fargate)
    assert svc.handle(detail())["outcome"] == "launched"
    [spec] = svc.definitions.registered.values()
    assert spec.platform == "FARGATE" and spec.register_request()["platformCapabilities"] == ["FARGATE"]
    svc = service()
    svc.handle(detail())
    assert [s.platform for s in svc.definitions.registered.values()] == ["EC2"]


def test_a_gpu_launch_with_no_gpu_queue_is_rejected_before_anything_is_registered():
    svc = service()
    result = svc.handle(detail(container={"image": "busybox", "resources": {"gpu": 1}}))
    assert result["outcome"] == "rejected"
    [problem] = result["problems"]
    assert problem["field"] == "routing" and "1 GPU asked, 0 available" in problem["message"]
    assert svc.definitions.registered == {} and svc.jobs.requests == []


def test_retry_on_infrastructure_retries_only_host_terminations():
    svc = service()
    svc.handle(detail(retries=3, retryOn="infrastructure"))
    strategy = svc.jobs.requests[0]["retryStrategy"]
    assert strategy == {"attempts": 4, "evaluateOnExit": [dict(r) for r in INFRASTRUCTURE_RETRY]}
    assert strategy["evaluateOnExit"][-1] == {"onReason": "*", "action": "EXIT"}
    svc = service()
    svc.handle(detail(launchId="M", retries=3))  # default "any": Batch retries every failure
    assert svc.jobs.requests[0]["retryStrategy"] == {"attempts": 4}


def test_retry_on_takes_only_the_documented_values():
    result = service().handle(detail(retryOn="sometimes"))
    assert result["outcome"] == "rejected" and result["problems"][0]["field"] == "retryOn"


# --- refusals by AWS -------------------------------------------------------------------------


def _stubbed(service_name: str, monkeypatch) -> Stubber:
    client = boto3.client(service_name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda name: client)
    monkeypatch.setattr(aws, "single_attempt_client", lambda name: client)
    stubber = Stubber(client)
    stubber.activate()
    return stubber


@pytest.mark.parametrize("code", ["AccessDeniedException", "ClientException", "ValidationException"])
def test_submit_job_refusals_reject_the_launch_and_release_the_claim(code, monkeypatch):
    stubber = _stubbed("batch", monkeypatch)
    stubber.add_client_error(
        "submit_job",
        service_error_code=code,
        service_message=f"{code}: not for you",
        http_status_code=403 if code.startswith("Access") else 400,
    )
    svc = service(jobs=BatchJobs())
    result = svc.handle(detail())
    assert result["outcome"] == "rejected"
    assert result["problems"] == [{"field": "submission", "message": f"AWS Batch refused it: {code}: not for you"}]
    assert svc.ledger.get(launch_key(None, "L")) is None  # the claim is released: the launch id may be sent again
    assert svc.announcer.of(LAUNCH_REJECTED)


@pytest.mark.parametrize("code", ["AccessDeniedException", "ClientException", "ValidationException"])
def test_register_job_definition_refusals_reject_the_launch(code, monkeypatch):
    stubber = _stubbed("batch", monkeypatch)
    stubber.add_response("describe_job_definitions", {"jobDefinitions": []})
    stubber.add_client_error(
        "register_job_definition",
        service_error_code=code,
        service_message="not authorized to perform: iam:PassRole",
        http_status_code=400,
    )
    svc = service(definitions=BatchJobDefinitions())
    result = svc.handle(detail())
    assert result["outcome"] == "rejected" and result["problems"][0]["field"] == "container"
    assert "iam:PassRole" in result["problems"][0]["message"] and svc.ledger.get(launch_key(None, "L")) is None


def test_describe_job_definitions_access_denied_rejects_the_launch(monkeypatch):
    stubber = _stubbed("batch", monkeypatch)
    stubber.add_client_error(
        "describe_job_definitions",
        service_error_code="AccessDeniedException",
        service_message="denied",
        http_status_code=403,
    )
    result = service(definitions=BatchJobDefinitions()).handle(detail())
    assert result["outcome"] == "rejected"


def test_put_object_access_denied_rejects_the_launch(monkeypatch):
    stubber = _stubbed("s3", monkeypatch)
    stubber.add_client_error(
        "put_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )
    svc = service(inputs=S3InputStore("bucket"))
    result = svc.handle(detail())
    assert result["outcome"] == "rejected" and "Access Denied" in result["problems"][0]["message"]
    assert svc.jobs.requests == []


def test_throttling_is_still_retried_not_rejected(monkeypatch):
    from batchlane.common.errors import TransientError

    stubber = _stubbed("batch", monkeypatch)
    stubber.add_client_error("describe_job_definitions", service_error_code="ThrottlingException", http_status_code=429)
    with pytest.raises(TransientError):
        service(definitions=BatchJobDefinitions()).handle(detail())


@pytest.mark.parametrize(
    "text,fields",
    [
        ('{"vcpu": 1e400}', ["container.resources.vcpu"]),  # valid JSON, read as infinity
        ('{"vcpu": Infinity, "memory": NaN}', ["container.resources.vcpu", "container.resources.memory"]),
        ('{"memory": 1e400, "gpu": 1e400}', ["container.resources.memory", "container.resources.gpu"]),
        ('{"gpu": 100000000000000000000000000000000000000}', ["container.resources.gpu"]),
    ],
)
def test_numbers_routing_cannot_read_are_rejected_before_routing_sees_them(text, fields):
    import json

    launch = detail(container={"image": "busybox", "resources": json.loads(text)})
    routing = FakeRouting(TABLE)
    announcer = FakeAnnouncer()
    answer = service(routing=routing, announcer=announcer).handle(launch)
    assert answer["outcome"] == "rejected" and routing.reads == 0
    [rejected] = announcer.of(LAUNCH_REJECTED)
    assert [p["field"] for p in rejected["problems"]] == fields
