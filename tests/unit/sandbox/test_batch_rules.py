"""The emulator refuses what Batch refuses and moto accepts (batchlane.sandbox.batch_rules): through
boto3 against moto, with the rules installed as the sandbox installs them."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from batchlane.sandbox import batch_rules

ROLE = "arn:aws:iam::123456789012:role/job"


def definition(platform: str = "EC2", **properties) -> dict:
    return {
        "jobDefinitionName": "d",
        "type": "container",
        "platformCapabilities": [platform],
        "containerProperties": {
            "image": "busybox",
            "jobRoleArn": ROLE,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            **properties,
        },
    }


@pytest.fixture
def batch():
    with mock_aws():
        uninstall = batch_rules.install()
        try:
            yield boto3.client("batch", region_name="us-east-1")
        finally:
            uninstall()


@pytest.mark.parametrize(
    "request_, refused",
    [
        (
            definition("FARGATE", linuxParameters={"sharedMemorySize": 64}),
            "sharedMemorySize is not supported on Fargate",
        ),
        (definition("FARGATE", ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 1}]), "ulimits is not"),
        (definition("FARGATE", volumes=[{"name": "h", "host": {"sourcePath": "/etc"}}]), "host volumes"),
        (definition(ephemeralStorage={"sizeInGiB": 30}), "ephemeralStorage is supported on Fargate only"),
        (definition("FARGATE", ephemeralStorage={"sizeInGiB": 201}), "between 21 and 200"),
        (definition(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}]), "sourceVolume nope"),
        (
            definition(
                volumes=[
                    {
                        "name": "v",
                        "efsVolumeConfiguration": {
                            "fileSystemId": "fs-1",
                            "rootDirectory": "/data",
                            "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"},
                        },
                    }
                ]
            ),
            "need transitEncryption ENABLED; volume v: with an access point, rootDirectory",
        ),
    ],
)
def test_a_definition_batch_refuses_is_refused(batch, request_, refused):
    with pytest.raises(ClientError) as error:
        batch.register_job_definition(**request_)
    assert error.value.response["Error"]["Code"] == "ClientException"
    assert refused in error.value.response["Error"]["Message"]
