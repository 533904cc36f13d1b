"""Create, in an AWS emulator, the resources a deployment's stack would have.

Names and settings come from the deployment configuration (batchlane.deployment.config), and
the shapes (table keys and indexes, event patterns, buffers, event source mappings, function
environments) from batchlane.deployment.contract: the same sources the CDK stacks build from,
so the sandbox and the tests see what a deployment sees (tests/infrastructure/
test_sandbox_drift.py compares the two). Batch compute is emulated: an unmanaged compute
environment stands for each configured one.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import boto3

from batchlane.deployment import contract
from batchlane.deployment.config import DeploymentConfig, StateNames
from batchlane.routing.items import items_from_table

ECS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BATCH_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


@dataclass(frozen=True)
class Provisioned:
    config: DeploymentConfig
    account: str
    bucket: str
    queue_arns: dict[str, str]  # Batch queue name -> ARN

    @property
    def settings_path(self) -> str:
        return self.config.ssm_prefix

    @property
    def state_names(self) -> StateNames:
        """What the functions are told the resources are called (the stack lets CloudFormation name
        the bucket; here it is named after the account)."""
        return StateNames(
            routing_table=self.config.table_name("routing"),
            executions_table=self.config.table_name("executions"),
            data_bucket=self.bucket,
            event_bus=self.config.bus_name,
        )

    def function_environment(self) -> dict[str, str]:
        """Every function's environment, as the stacks give it, in one mapping: for tests and
        benchmarks that play every function in one process (shared variables have equal values)."""
        config, names = self.config, self.state_names
        return {
            **config.launcher_environment(names).variables(),
            **config.aggregator_environment(names).variables(),
            **config.reconciler_environment(names).variables(),
        }


def provision(config: DeploymentConfig, session: boto3.session.Session | None = None) -> Provisioned:
    session = session or boto3.session.Session(region_name=config.region)
    account = session.client("sts").get_caller_identity()["Account"]
    _create_tables(session.client("dynamodb"), config)
    bucket = _create_data_bucket(session.client("s3"), config, account)
    session.client("events").create_event_bus(Name=config.bus_name)
    service_role_arn = _create_roles(session.client("iam"), config)
    ssm = session.client("ssm")
    for name, value in config.settings_parameters(account).items():
        ssm.put_parameter(
            Name=f"{config.ssm_prefix}/{name}",
            Value=value,
            Type="StringList" if name == "allowed-role-arns" else "String",
        )
    queue_arns = _create_job_queues(session.client("batch"), config, service_role_arn)
    routing = session.resource("dynamodb").Table(config.table_name("routing"))
    with routing.batch_writer() as writer:
        for item in items_from_table(config.routing_table()):
            writer.put_item(Item=item)
    return Provisioned(config=config, account=account, bucket=bucket, queue_arns=queue_arns)


def _create_tables(ddb, config: DeploymentConfig) -> None:
    """The tables of stacks/state.py: contract.TABLES (keys, indexes, time to live)."""
    for kind, shape in contract.TABLES.items():
        name = config.table_name(kind)
        keys = [shape.partition, *([shape.sort] if shape.sort else [])]
        extra = {}
        if shape.indexes:
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition, index.sort),
                    "Projection": index.projection,
                }
                for index in shape.indexes
            ]
            keys += [k for index in shape.indexes for k in (index.partition, index.sort) if k]
        attributes = {k.name: k.type for k in keys}
        ddb.create_table(
            TableName=name,
            KeySchema=_key_schema(shape.partition, shape.sort),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
            **extra,
        )
        if shape.ttl:
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": shape.ttl}
            )


def _key_schema(partition: contract.Key, sort: contract.Key | None) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition.name, "KeyType": "HASH"},
        *([{"AttributeName": sort.name, "KeyType": "RANGE"}] if sort else []),
    ]


def _create_data_bucket(s3, config: DeploymentConfig, account: str) -> str:
    bucket = f"{config.prefix}-data-{account}"
    if config.region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": config.region})
    return bucket


def _create_roles(iam, config: DeploymentConfig) -> str:
    """The job roles and the execution roles, and a service role for the emulated compute (its ARN)."""
    for role in config.job_roles:
        iam.create_role(RoleName=config.job_role_name(role), AssumeRolePolicyDocument=ECS_TRUST)
    iam.create_role(RoleName=config.execution_role_name, AssumeRolePolicyDocument=ECS_TRUST)
    for grant in config.secrets_allowed:
        iam.create_role(RoleName=config.secrets_execution_role_name(grant), AssumeRolePolicyDocument=ECS_TRUST)
    return iam.create_role(RoleName=f"{config.prefix}-batch-service", AssumeRolePolicyDocument=BATCH_TRUST)["Role"][
        "Arn"
    ]


def compute_environment_name(config: DeploymentConfig, name: str) -> str:
    """The emulated compute environment standing for the configured one ``name``."""
    return f"{config.prefix}-{name}"


def _create_job_queues(batch, config: DeploymentConfig, service_role_arn: str) -> dict[str, str]:
    """Every configured job queue (Batch name -> ARN) in front of its compute environments, in
    the configured order; each an unmanaged one here (the emulator runs nothing on it)."""
    compute = {
        ce.name: batch.create_compute_environment(
            computeEnvironmentName=compute_environment_name(config, ce.name),
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=service_role_arn,
        )["computeEnvironmentArn"]
        for ce in config.compute_environments
    }
    queue_arns = {}
    for queue in config.job_queues:
        name = config.queue_name(queue)
        fair_share = {}
        if queue.fair_share is not None:  # as stacks/compute.py: a scheduling policy per fair-share queue
            fair_share["schedulingPolicyArn"] = batch.create_scheduling_policy(
                name=f"{config.prefix}-{queue.name}",
                fairsharePolicy={
                    "shareDecaySeconds": queue.fair_share.share_decay_seconds,
                    "computeReservation": queue.fair_share.compute_reservation,
                    "shareDistribution": [
                        {"shareIdentifier": k, "weightFactor": v} for k, v in queue.fair_share.shares.items()
                    ],
                },
            )["arn"]
        queue_arns[name] = batch.create_job_queue(
            jobQueueName=name,
            state="ENABLED",
            priority=queue.priority,
            computeEnvironmentOrder=[
                {"order": n, "computeEnvironment": compute[ce]}
                for n, ce in enumerate(queue.compute_environments, start=1)
            ],
            **fair_share,
        )["jobQueueArn"]
    return queue_arns


# ---------------------------------------------------------------------------------------------
# Event paths: the rules, SQS buffers and dead-letter queues of stacks/launch_path.py and
# stacks/status_path.py: contract.event_paths(), with the settings of config.launcher / config.aggregator.

AGGREGATOR_HANDLER = contract.FUNCTIONS["aggregator"].handler
RECONCILER_HANDLER = contract.FUNCTIONS["reconciler"].handler


def status_path_available() -> bool:
    """True when the aggregator (batchlane.status.handler) is part of this checkout."""
    import importlib.util

    try:
        return importlib.util.find_spec("batchlane.status.handler") is not None
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True)
class Buffer:
    """One event source mapping: a rule's SQS buffer, its DLQ, and the settings of the function it
    feeds. A function may have two (the aggregator: Batch events, and abort requests)."""

    function: str  # the function's name: "launcher" | "aggregator" (both its event source mappings)
    handler: str  # dotted path of the handler function
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    rule: str
    bus: str
    batch_size: int
    batching_window_seconds: int
    timeout_seconds: int
    max_receive_count: int
    visibility_timeout_seconds: int
    environment: dict


def _buffered_queue(sqs, name: str, *, visibility: int, max_receive_count: int) -> tuple[str, str, str, str]:
    """Like stacks.buffers.buffered_queue: SSE-SQS, a DLQ, the retention periods of the contract,
    redrive after N receives."""
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={
            "MessageRetentionPeriod": str(contract.DEAD_LETTER_RETENTION_DAYS * 24 * 3600),
            "SqsManagedSseEnabled": "true",
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "MessageRetentionPeriod": str(contract.BUFFER_RETENTION_DAYS * 24 * 3600),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url, dlq_arn


RULE_NAMES = {"launcher": "launch-requested", "aggregator": "batch-job-events", "abort": "abort-requested"}


def provision_event_paths(
    deployment: Provisioned, session: boto3.session.Session, *, visibility_timeout_seconds: int | None = None
) -> dict[str, Buffer]:
    """The launch path (always) and the status path (when its handler exists) in the emulator:
    ``{"launcher", "aggregator", "abort"}`` (the last two feed the same function).

    ``visibility_timeout_seconds`` replaces the stacks' ``6 x function timeout`` (a sandbox
    compresses time so that a retried message comes back in seconds, not minutes).
    """
    config = deployment.config
    sqs, events, logs = session.client("sqs"), session.client("events"), session.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=config.job_log_group)
    paths: dict[str, Buffer] = {}
    for name, path in contract.event_paths(config, sorted(deployment.queue_arns.values())).items():
        if path.function.name == "aggregator" and not status_path_available():
            continue
        visibility = (
            visibility_timeout_seconds
            if visibility_timeout_seconds is not None
            else contract.buffer_visibility_seconds(path.settings)
        )
        url, arn, dlq_url, dlq_arn = _buffered_queue(
            sqs,
            f"{config.prefix}-{name}-buffer",
            visibility=visibility,
            max_receive_count=path.settings.max_receive_count,
        )
        rule, bus = f"{config.prefix}-{RULE_NAMES[name]}", "default" if path.on_default_bus else config.bus_name
        _route_to_buffer(events, config.prefix, rule, bus, path, arn, dlq_arn)
        environment = contract.function_environment(config, path.function.name, deployment.state_names).variables()
        paths[name] = Buffer(
            function=path.function.name,
            handler=path.function.handler,
            queue_url=url,
            queue_arn=arn,
            dlq_url=dlq_url,
            dlq_arn=dlq_arn,
            rule=rule,
            bus=bus,
            batch_size=path.batch_size,
            batching_window_seconds=path.batching_window_seconds,
            timeout_seconds=path.settings.timeout_seconds,
            max_receive_count=path.settings.max_receive_count,
            visibility_timeout_seconds=visibility,
            environment=environment,
        )
    return paths


def _route_to_buffer(
    events: Any, prefix: str, rule: str, bus: str, path: contract.EventPath, arn: str, dlq_arn: str
) -> None:
    """The path's rule, and any further ones onto its buffer, with the stacks' retry policy and DLQ."""
    rules = [(rule, path.pattern, path.description)]
    rules += [(f"{prefix}-{extra['name']}", extra["pattern"], extra["description"]) for extra in path.extra_rules]
    for rule_name, pattern, description in rules:
        events.put_rule(
            Name=rule_name,
            EventBusName=bus,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description=description,
        )
        events.put_targets(
            Rule=rule_name,
            EventBusName=bus,
            Targets=[
                {
                    "Id": "buffer",
                    "Arn": arn,
                    "DeadLetterConfig": {"Arn": dlq_arn},
                    "RetryPolicy": {
                        "MaximumRetryAttempts": contract.DELIVERY_RETRY_ATTEMPTS,
                        "MaximumEventAgeInSeconds": contract.DELIVERY_MAX_EVENT_AGE_HOURS * 3600,
                    },
                }
            ],
        )


def reconciler_environment(deployment: Provisioned, *, silent_seconds: int | None = None) -> dict[str, str]:
    """The reconciler function's environment, as stacks/status_path.py gives it (``silent_seconds``
    replaces ``status.silentSeconds``: a sandbox may compress time)."""
    environment = deployment.config.reconciler_environment(deployment.state_names)
    if silent_seconds is not None:
        environment = environment.model_copy(update={"silent_seconds": silent_seconds})
    return environment.variables()
