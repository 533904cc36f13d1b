"""Per team, a managed IAM policy its orchestrator's role attaches (docs/security.md).

``batchlane-<name>-<region>-producer-<team>`` allows ``events:PutEvents`` on batchlane's bus only with the
team's own sources (``events:source``) and only launch and abort requests (``events:detail-type``):
a team cannot speak as another, nor forge batchlane's answers. It is the team's client policy: it
lets the team upload ``inputsLocation`` objects into its own launches' inputs, read its own
launches' outputs, and read its own launches' items of the executions table
(``dynamodb:LeadingKeys`` ``<team>#*``), nothing of another team's. The Flyte connector's team (its
only source ``flyte.connector``) gets exactly what the connector calls: its requests and its
launches' items (the connector's data is Flyte's own metadata, which its Flyte role reaches).
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED
from batchlane.common.executions import BY_TEAM_INDEX, team_prefix
from batchlane.common.tenancy import CHILDREN, DATA_PREFIX, INPUTS, OUTPUTS, Team, team_key_pattern
from batchlane.deployment.config import DeploymentConfig
from batchlane.deployment.contract import FLYTE_CONNECTOR_SOURCE

# What the client API (BatchlaneClient, the CLI's status) reads: one launch's items by key (GetItem,
# BatchGetItem of the summary and record, Query of its children); and ``batchlane launches``: Query of
# the launchesByTeam index (launch_list_arn).
CLIENT_TABLE_READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
# What the Flyte connector reads (tests/flyte/test_connector_sandbox.py records it): the summary
# (BatchGetItem), a map's failed children and log links (Query). Its data is Flyte's, not batchlane's.
CONNECTOR_TABLE_READS = ("dynamodb:BatchGetItem", "dynamodb:Query")


def launch_list_arn(table: dynamodb.ITable) -> str:
    """The listing index: a Query of an index is authorised on the index's ARN, not the table's."""
    return f"{table.table_arn}/index/{BY_TEAM_INDEX}"


class ProducerPolicies(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DeploymentConfig,
        bus: events.IEventBus,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, id)
        self.policies: dict[str, iam.ManagedPolicy] = {
            team.name: self._policy(config, team, bus, bucket, table) for team in config.teams
        }

    def _policy(
        self, config: DeploymentConfig, team: Team, bus: events.IEventBus, bucket: s3.IBucket, table: dynamodb.ITable
    ) -> iam.ManagedPolicy:
        statements = [
            iam.PolicyStatement(
                sid="PutOwnRequestsOnly",
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={
                    "StringEquals": {
                        "events:source": list(team.sources),
                        "events:detail-type": [LAUNCH_REQUESTED, ABORT_REQUESTED],
                    }
                },
            )
        ]
        connector = set(team.sources) == {FLYTE_CONNECTOR_SOURCE}  # the Flyte connector's team
        if not connector:
            # Its own launches' data only: inputs it uploads (inputsLocation), outputs it reads.
            statements.append(
                iam.PolicyStatement(
                    sid="OwnInputs",
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[bucket.arn_for_objects(team_key_pattern(INPUTS, team.name))],
                )
            )
            statements.append(
                iam.PolicyStatement(
                    sid="OwnOutputs",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(team_key_pattern(k, team.name)) for k in (OUTPUTS, CHILDREN)],
                )
            )
        statements += _own_launch_items(team, table, connector)
        policy = iam.ManagedPolicy(
            self,
            f"Producer-{team.name}",
            managed_policy_name=config.producer_policy_name(team.name),
            description=f"batchlane: team {team.name} may put launch and abort requests with its sources only",
            statements=statements,
        )
        CfnOutput(
            self,
            f"ProducerPolicy-{team.name}",
            value=policy.managed_policy_arn,
            description=f"attach to team {team.name}'s orchestrator role (docs/security.md)",
        )
        return policy


def _own_launch_items(team: Team, table: dynamodb.ITable, connector: bool) -> list[iam.PolicyStatement]:
    """Its own launches' items (and, but for the Flyte connector's team, their listing) only: every
    partition key of the team's items begins with "<team>#", and so does the listing index's (a Query
    of an index: its key condition's partition key is the index's, which is what LeadingKeys holds)."""
    own = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{team_prefix(team.name)}*"]}}
    reads = CONNECTOR_TABLE_READS if connector else CLIENT_TABLE_READS
    statements = [
        iam.PolicyStatement(sid="OwnLaunchItems", actions=list(reads), resources=[table.table_arn], conditions=own)
    ]
    if not connector:
        statements.append(
            iam.PolicyStatement(
                sid="ListOwnLaunches", actions=["dynamodb:Query"], resources=[launch_list_arn(table)], conditions=own
            )
        )
    return statements


class OperatorPolicies(Construct):
    """Managed policies for the CLI's users, each exactly what its commands call (docs/security.md):

    * ``batchlane-<name>-<region>-operator-read``: ``batchlane status`` and ``launches`` of any team (``--team``) and
      ``routes list/show/explain``: reads of both tables and of launches' outputs;
    * ``batchlane-<name>-<region>-router-editor``: ``routes set/delete/enable/...``: the routing table's items.
    A team's client (its launches only) attaches the team's producer policy instead."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DeploymentConfig,
        bucket: s3.IBucket,
        executions: dynamodb.ITable,
        routing: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, id)
        reads = iam.PolicyStatement(
            sid="ReadTables",
            actions=list(CLIENT_TABLE_READS),
            resources=[t.table_arn for t in (executions, routing)],
        )
        listing = iam.PolicyStatement(
            sid="ListLaunches", actions=["dynamodb:Query"], resources=[launch_list_arn(executions)]
        )
        outputs = iam.PolicyStatement(
            sid="ReadOutputs",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{DATA_PREFIX}{k}/*") for k in (OUTPUTS, CHILDREN)],
        )
        self.read_only = iam.ManagedPolicy(
            self,
            "OperatorRead",
            managed_policy_name=config.account_wide_name("operator-read"),
            description="batchlane: read every launch's status and outputs and the routing table",
            statements=[reads, listing, outputs],
        )
        self.router_editor = iam.ManagedPolicy(
            self,
            "RouterEditor",
            managed_policy_name=config.account_wide_name("router-editor"),
            description="batchlane: read and edit the routing table's queues and rules",
            statements=[
                iam.PolicyStatement(
                    sid="EditRouting",
                    actions=[
                        *CLIENT_TABLE_READS,
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem",
                    ],
                    resources=[routing.table_arn],
                )
            ],
        )
        for name, policy in (("OperatorReadPolicy", self.read_only), ("RouterEditorPolicy", self.router_editor)):
            CfnOutput(
                self, name, value=policy.managed_policy_arn, description="attach to a CLI user (docs/security.md)"
            )
