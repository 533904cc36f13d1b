"""Where batchlane keeps state: the data bucket, the three tables and its own event bus."""

from __future__ import annotations

from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batchlane.common.event_types import EVENT_SOURCE
from batchlane.deployment.config import DeploymentConfig, StateNames
from batchlane.deployment.contract import TABLES, Key

ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


def _attribute(key: Key | None) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=key.name, type=ATTRIBUTE_TYPES[key.type]) if key else None


def _table(
    scope: Construct, id: str, config: DeploymentConfig, kind: Literal["routing", "executions"]
) -> dynamodb.Table:
    """The table ``kind`` of batchlane.deployment.contract.TABLES (keys, time to live, indexes)."""
    shape = TABLES[kind]
    table = dynamodb.Table(
        scope,
        id,
        table_name=config.table_name(kind),
        partition_key=_attribute(shape.partition),
        sort_key=_attribute(shape.sort),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=shape.ttl,
        # A fixed name: kept on delete and update, but not when its own first create rolls back
        # (plain Retain would leave it behind and make every retry fail with "already exists").
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
    for index in shape.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_attribute(index.partition),
            sort_key=_attribute(index.sort),
            projection_type=dynamodb.ProjectionType.INCLUDE if index.attributes else dynamodb.ProjectionType.KEYS_ONLY,
            non_key_attributes=list(index.attributes) or None,
        )
    return table


class StateStore(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, id)
        self.bucket = self._data_bucket(config)
        # Queues and rules, edited by operators (see docs/routing.md for the item shape).
        self.routing_table = _table(self, "Routing", config, "routing")
        # One partition per launch: the launch record, then the status path's items.
        # Keyed by launch key since issue 23: DynamoDB cannot change a table's key and CloudFormation
        # replaces no fixed-name resource in place, so the table is a new resource under the same
        # name (docs/security.md#migrating-to-launch-keys-issue-23: the old one is deleted first).
        self.executions_table = _table(self, "LaunchKeyExecutions", config, "executions")
        self.bus = self._bus(config)
        self.event_source = EVENT_SOURCE

    def _data_bucket(self, config: DeploymentConfig) -> s3.Bucket:
        """Inputs and outputs of every launch, under launches/<launchId>/, with its access logs."""
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.data_retention_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        return s3.Bucket(
            self,
            "Data",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="data/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-launch-data",
                    prefix="launches/",
                    expiration=Duration.days(config.data_retention_days),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _bus(self, config: DeploymentConfig) -> events.EventBus:
        """batchlane's own bus: launch and abort requests, and every answer."""
        bus = events.EventBus(self, "Bus", event_bus_name=config.bus_name)
        if config.event_archive_days:
            # Every launch request and answer can be replayed.
            bus.archive(
                "Archive",
                archive_name=f"{config.prefix}-archive",
                description="batchlane task events, for replay",
                event_pattern=events.EventPattern(source=events.Match.prefix("")),
                retention=Duration.days(config.event_archive_days),
            )
        return bus

    @property
    def names(self) -> StateNames:
        """The resources' names (tokens) as the function environments carry them."""
        return StateNames(
            routing_table=self.routing_table.table_name,
            executions_table=self.executions_table.table_name,
            data_bucket=self.bucket.bucket_name,
            event_bus=self.bus.event_bus_name,
        )
