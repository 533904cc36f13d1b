"""Create, in an AWS emulator, the resources a deployment's stack would have.

Names and settings come from the deployment configuration (stacks/config.py), the same source
the CDK stacks read, so the sandbox and the tests see what a deployment sees. Batch compute is
emulated: one unmanaged compute environment stands behind every job queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from batchlane.routing.items import items_from_table
from stacks.config import DeploymentConfig

ECS_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
BATCH_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@dataclass(frozen=True)
class Provisioned:
    config: DeploymentConfig
    account: str
    bucket: str
    queue_arns: dict[str, str]  # Batch queue name -> ARN

    @property
    def settings_path(self) -> str:
        return self.config.ssm_prefix

    def function_environment(self) -> dict[str, str]:
        """The environment the stacks give the functions."""
        return {
            "SETTINGS_PATH": self.config.ssm_prefix,
            "SETTINGS_MAX_AGE": str(self.config.routing_cache_seconds),
            "ROUTING_TABLE": self.config.table_name("routing"),
            "EXECUTIONS_TABLE": self.config.table_name("executions"),
            "IDEMPOTENCY_TABLE": self.config.table_name("idempotency"),
            "DATA_BUCKET": self.bucket,
            "EVENT_BUS": self.config.bus_name,
        }


def provision(config: DeploymentConfig, session: boto3.session.Session | None = None) -> Provisioned:
    session = session or boto3.session.Session(region_name=config.region)
    account = session.client("sts").get_caller_identity()["Account"]
    ddb = session.client("dynamodb")

    def table(name: str, pk: str, sk: str | None = None, gsi: str | None = None) -> None:
        keys = [{"AttributeName": pk, "KeyType": "HASH"}] + ([{"AttributeName": sk, "KeyType": "RANGE"}] if sk else [])
        attrs = {pk, sk, gsi} - {None}
        extra = {}
        if gsi:
            extra["GlobalSecondaryIndexes"] = [{"IndexName": "byJobId", "KeySchema": [{"AttributeName": gsi, "KeyType": "HASH"}],
                                                "Projection": {"ProjectionType": "KEYS_ONLY"}}]
        ddb.create_table(TableName=name, KeySchema=keys, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)], **extra)

    table(config.table_name("routing"), "pk", "sk")
    table(config.table_name("executions"), "launchId", "sk", gsi="jobId")
    table(config.table_name("idempotency"), "id")
    bucket = f"{config.prefix}-data-{account}"
    s3 = session.client("s3")
    if config.region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": config.region})
    session.client("events").create_event_bus(Name=config.bus_name)

    iam = session.client("iam")
    for role in config.job_roles:
        iam.create_role(RoleName=config.job_role_name(role), AssumeRolePolicyDocument=ECS_TRUST)
    iam.create_role(RoleName=config.execution_role_name, AssumeRolePolicyDocument=ECS_TRUST)
    service_role = iam.create_role(RoleName=f"{config.prefix}-batch-service", AssumeRolePolicyDocument=BATCH_TRUST)
    ssm = session.client("ssm")
    for name, value in config.settings_parameters(account).items():
        ssm.put_parameter(Name=f"{config.ssm_prefix}/{name}", Value=value,
                          Type="StringList" if name == "allowed-role-arns" else "String")

    batch = session.client("batch")
    compute = batch.create_compute_environment(
        computeEnvironmentName=f"{config.prefix}-emulated", type="UNMANAGED", state="ENABLED",
        serviceRole=service_role["Role"]["Arn"],
    )["computeEnvironmentArn"]
    queue_arns = {}
    for queue in config.job_queues:
        name = config.queue_name(queue)
        queue_arns[name] = batch.create_job_queue(
            jobQueueName=name, state="ENABLED", priority=queue.priority,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute}],
        )["jobQueueArn"]
    routing = session.resource("dynamodb").Table(config.table_name("routing"))
    with routing.batch_writer() as writer:
        for item in items_from_table(config.routing_table()):
            writer.put_item(Item=item)
    return Provisioned(config=config, account=account, bucket=bucket, queue_arns=queue_arns)
