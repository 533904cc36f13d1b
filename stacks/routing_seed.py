"""Seed the routing table with the configured queues and rules, once: operators own it afterwards.

Every item (``queue#<batch queue name>`` and ``rule#<id>``, shape in
``batchlane.routing.items``) is written by its own ``AwsCustomResource`` as a *conditional*
``PutItem`` (``attribute_not_exists(sk)``). ``ConditionalCheckFailedException`` (the item is
already there) is ignored, so:

* the first deploy writes every configured item;
* a later deploy writes only items that are new in the configuration (a queue or rule added);
* an item an operator edited in DynamoDB is never overwritten, and removing an item from the
  configuration never deletes it from the table (routing is operator data).

Resetting on purpose (docs/deploying.md, "Resetting routing"): delete the items to reset from the
table, then deploy with a new seed generation, ``cdk deploy -c routingSeedGeneration=<new value>``:
the changed generation makes every seed resource run again, and the conditional put writes the
configured value of each item that is missing (and still leaves the others alone).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from batchlane.deployment.config import DeploymentConfig
from batchlane.routing.items import SORT_ATTR, items_from_table
from stacks.runtime import log_retention

GENERATION_CONTEXT_KEY = "routingSeedGeneration"


def seed_items(config: DeploymentConfig) -> list[dict[str, Any]]:
    """The routing items the configuration describes, in the item codec's shape (plain Python)."""
    return items_from_table(config.routing_table())


def to_attribute_value(value: Any) -> dict[str, Any]:
    """Plain Python -> DynamoDB AttributeValue (what PutItem's low-level API expects)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attribute_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot seed a value of type {type(value).__name__}: {value!r}")


class RoutingSeed(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig, table: dynamodb.ITable) -> None:
        super().__init__(scope, id)
        generation = str(self.node.try_get_context(GENERATION_CONTEXT_KEY) or "1")
        self.items = seed_items(config)
        # One log group for the (singleton) custom-resource function, with the configured retention.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = self._provider_role(table)
        self.resources: list[cr.AwsCustomResource] = []
        for item in self.items:
            sk = item[SORT_ATTR]
            call = cr.AwsSdkCall(
                service="DynamoDB",
                action="PutItem",
                parameters={
                    "TableName": table.table_name,
                    "Item": {k: to_attribute_value(v) for k, v in item.items()},
                    "ConditionExpression": "attribute_not_exists(#sk)",
                    "ExpressionAttributeNames": {"#sk": SORT_ATTR},
                },
                # The generation is part of the resource's properties: changing it re-runs the seed.
                physical_resource_id=cr.PhysicalResourceId.of(f"routing-seed/{sk}/{generation}"),
                ignore_error_codes_matching="ConditionalCheckFailedException",
            )
            resource = cr.AwsCustomResource(
                self,
                f"Seed-{sk.replace('#', '-')}",
                on_create=call,
                on_update=call,
                # on_delete: nothing. Routing items outlive the configuration entry that seeded them.
                role=self.role,
                install_latest_aws_sdk=False,
                log_group=self.log_group,
                resource_type="Custom::BatchlaneRoutingSeed",
            )
            self.resources.append(resource)

    def _provider_role(self, table: dynamodb.ITable) -> iam.Role:
        """The seed function's one role and one policy, whatever the number of items: a policy per
        item (AwsCustomResource's ``policy``) would pass IAM's 10,240-character inline quota at about
        60 items. Least privilege: PutItem on the routing table and the function's own log group."""
        role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="batchlane routing seed: conditional PutItem of the configured routing items",
        )
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            )
        )
        return role
