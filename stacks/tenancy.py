"""Per team, a managed IAM policy its orchestrator's role attaches (docs/security.md).

``batchlane-<name>-<region>-producer-<team>`` allows ``events:PutEvents`` on batchlane's bus only with the
team's own sources (``events:source``) and only launch and abort requests (``events:detail-type``):
a team cannot speak as another, nor forge batchlane's answers. It also lets the team upload
``inputsLocation`` objects into, and read outputs from, the launch data of the projects it may
launch into, nothing else of the bucket.
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED
from batchlane.common.tenancy import DATA_PREFIX, Team
from batchlane.deployment.config import DeploymentConfig


class ProducerPolicies(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: DeploymentConfig, bus: events.IEventBus, bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, id)
        self.policies: dict[str, iam.ManagedPolicy] = {
            team.name: self._policy(config, team, bus, bucket) for team in config.teams
        }

    def _policy(
        self, config: DeploymentConfig, team: Team, bus: events.IEventBus, bucket: s3.IBucket
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
        data = [f"{DATA_PREFIX}{scope.project}/{scope.domain}/*" for scope in team.launch]
        if data:
            statements.append(
                iam.PolicyStatement(
                    sid="OwnProjectsLaunchData",
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[bucket.arn_for_objects(key) for key in data],
                )
            )
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
