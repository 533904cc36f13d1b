"""The wire-level fault injector sits below botocore's retry loop: it spoils one HTTP attempt, and
botocore's retries see it as they would see the network."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from fault_injection import Crash
from wire_faults import WireFault, WireInjector

from batchlane.common import aws


@pytest.fixture
def batch_setup(world):
    """A job queue and a job definition to submit to, straight through boto3."""
    batch = boto3.client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName="wire", type="container", containerProperties={"image": "busybox", "vcpus": 1, "memory": 128}
    )["jobDefinitionArn"]
    queue = next(iter(world.deployment.queue_arns.values()))
    return queue, definition


def jobs_named(queue: str, name: str) -> list[dict]:
    found = boto3.client("batch").list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}])
    return found["jobSummaryList"]


def submit(client, queue: str, definition: str, name: str) -> dict:
    return client.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)


def test_a_response_lost_after_the_job_was_created_makes_a_retrying_client_create_a_second_job(batch_setup):
    queue, definition = batch_setup
    injector = WireInjector()
    fault = injector.plan(WireFault("batch", "SubmitJob", "timeout-after"))
    retrying = boto3.client("batch", config=Config(retries={"mode": "standard", "max_attempts": 2}))
    with injector.installed(), injector.active():
        answer = submit(retrying, queue, definition, "twice")  # botocore's retry succeeds: no error seen
    assert fault.injected == 1 and injector.attempts[(None, "batch", "SubmitJob")] == 2
    jobs = jobs_named(queue, "twice")
    assert len(jobs) == 2 and answer["jobId"] in {j["jobId"] for j in jobs}  # the first job is never seen


@pytest.mark.parametrize(
    "kind,error",
    [("timeout-after", ReadTimeoutError), ("reset-after", ConnectionClosedError), ("crash-after", Crash)],
)
def test_a_lost_answer_reaches_a_single_attempt_caller_after_the_job_exists(batch_setup, kind, error):
    queue, definition = batch_setup
    injector = WireInjector()
    injector.plan(WireFault("batch", "SubmitJob", kind))
    once = boto3.client("batch", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with injector.installed(), injector.active(), pytest.raises(error):
        submit(once, queue, definition, f"once-{kind}")
    assert len(jobs_named(queue, f"once-{kind}")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_after_the_effect_is_an_error_response_and_the_job_exists(batch_setup, status):
    queue, definition = batch_setup
    injector = WireInjector()
    injector.plan(WireFault("batch", "SubmitJob", "5xx-after", status=status))
    once = boto3.client("batch", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with injector.installed(), injector.active(), pytest.raises(ClientError) as raised:
        submit(once, queue, definition, f"five-{status}")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert aws.is_transient(raised.value) and not aws.is_throttle(raised.value)
    assert len(jobs_named(queue, f"five-{status}")) == 1


@pytest.mark.parametrize("kind", ["throttle", "5xx-before"])
def test_a_fault_before_the_effect_creates_nothing_and_botocore_retries_it(batch_setup, kind):
    queue, definition = batch_setup
    injector = WireInjector()
    injector.plan(WireFault("batch", "SubmitJob", kind))
    once = boto3.client("batch", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    retrying = boto3.client("batch", config=Config(retries={"mode": "standard", "max_attempts": 2}))
    with injector.installed(), injector.active():
        with pytest.raises(ClientError) as raised:
            submit(once, queue, definition, f"before-{kind}")
        assert jobs_named(queue, f"before-{kind}") == []
        assert aws.is_throttle(raised.value) == (kind == "throttle")
        injector.plan(WireFault("batch", "SubmitJob", kind))
        submit(retrying, queue, definition, f"before-{kind}")
    assert len(jobs_named(queue, f"before-{kind}")) == 1


def test_faults_are_matched_by_path_and_by_attempt(world):
    injector = WireInjector()
    ssm = boto3.client("ssm", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    injector.plan(WireFault("ssm", "GetParametersByPath", "5xx-before", path="status", skip=1))
    with injector.installed():
        for path in ("launch", "status", "launch"):
            with injector.active(path):
                ssm.get_parameters_by_path(Path="/")
        with injector.active("status"), pytest.raises(ClientError):
            ssm.get_parameters_by_path(Path="/")
    assert injector.attempts[("launch", "ssm", "GetParametersByPath")] == 2
    assert injector.attempts[("status", "ssm", "GetParametersByPath")] == 2
    assert injector.injected == 1
