"""The emulator's SubmitJob refuses what AWS Batch refuses and moto accepts: a shareIdentifier
missing on a fair-share queue or given to another queue, Fargate resources outside its combinations."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from batchlane.deployment.config import load_config
from batchlane.sandbox.provision import provision
from batchlane.sandbox.submit_rules import submit_rules


@pytest.fixture(scope="module")
def fargate_batch():
    with submit_rules(), mock_aws(config={"batch": {"use_docker": False}}):
        deployment = provision(load_config("fargate-existing-vpc"))
        batch = boto3.client("batch", region_name=deployment.config.region)
        definition = batch.register_job_definition(
            jobDefinitionName="d",
            type="container",
            platformCapabilities=["FARGATE"],
            containerProperties={
                "image": "busybox",
                "executionRoleArn": "arn:aws:iam::123456789012:role/x",
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            },
        )["jobDefinitionArn"]
        yield batch, definition


def _submit(fargate_batch, queue: str, **extra):
    batch, definition = fargate_batch
    return batch.submit_job(jobName="j", jobQueue=f"batchlane-fargate-{queue}", jobDefinition=definition, **extra)


@pytest.mark.parametrize(
    ("queue", "extra", "refused"),
    [
        ("shared", {}, "shareIdentifier is required"),
        ("default", {"shareIdentifier": "team_a"}, "shareIdentifier is not supported"),
        (
            "default",
            {"containerOverrides": {"resourceRequirements": [{"type": "MEMORY", "value": "1024"}]}},
            "1 vCPU with 1024 MiB is not a valid combination",
        ),
    ],
)
def test_what_batch_refuses_is_refused(fargate_batch, queue, extra, refused):
    with pytest.raises(ClientError) as info:
        _submit(fargate_batch, queue, **extra)
    assert info.value.response["Error"]["Code"] == "ClientException" and refused in str(info.value)


def test_what_batch_accepts_is_accepted(fargate_batch):
    assert _submit(fargate_batch, "shared", shareIdentifier="team_a")["jobId"]
    assert _submit(fargate_batch, "default")["jobId"]
