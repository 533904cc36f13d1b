"""cdk-nag (AwsSolutions) for batchlane, and every acknowledged finding with the reason it is accepted.

cdk-nag 3.x runs as a CDK policy-validation plugin: ``app.synth()`` (and ``cdk synth``) fails on
any finding that is not acknowledged. Acknowledgements are made on the narrowest construct that
carries the finding, and IAM5 (wildcard) findings name the exact action or resource they accept
(``AwsSolutions-IAM5[Resource::...]``), so a new wildcard elsewhere is still reported.

Where batchlane needs ``*`` resources because the API has no resource-level permissions:
``ecr:GetAuthorizationToken`` (execution role), ``batch:DescribeJobs`` / ``batch:ListJobs``
(launcher, status path), ``xray:PutTraceSegments`` / ``xray:PutTelemetryRecords`` (tracing),
``cloudwatch:PutMetricData`` is not needed (metrics are EMF log lines).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

# Findings accepted everywhere they occur in a batchlane stack, with the reason.
LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)


def add_checks(app: IConstruct) -> None:
    """Run the AwsSolutions pack on every stack of ``app`` at synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """Acknowledge ``(finding id, reason)`` pairs on ``scope`` (and the resources under it)."""
    Validations.of(scope).acknowledge(*(Acknowledgment(id=i, reason=r) for i, r in findings))


def bucket_arn_token(bucket: s3.IBucket) -> str:
    """How cdk-nag spells ``bucket.bucket_arn`` in a finding id: ``<LogicalId.Arn>``."""
    cfn = bucket.node.default_child
    if cfn is None:  # an imported bucket: its ARN is a literal
        return bucket.bucket_arn
    return f"<{Stack.of(bucket).get_logical_id(cfn)}.Arn>"  # type: ignore[arg-type]


def acknowledge_compute(compute, data_bucket: s3.IBucket) -> None:  # compute: stacks.compute.BatchCompute
    from stacks.compute import DATA_PREFIX

    acknowledge(
        compute.execution_role,
        [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken has no resource-level permissions; the API requires Resource '*'. "
                "It only returns a registry login token: pulling still needs the scoped ecr:BatchGetImage.",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*]",
                "Jobs run images named at launch time, so the execution role may pull from any ECR repository of "
                "this account and region (read-only actions); other accounts' repositories are not included.",
            ),
        ],
    )
    objects = f"Resource::{bucket_arn_token(data_bucket)}/{DATA_PREFIX}*"
    for role in compute.job_roles.values():
        acknowledge(
            role,
            [
                (
                    f"AwsSolutions-IAM5[{objects}]",
                    "A job reads its inputs and writes its outputs under launches/<launchId>/ of the data bucket; "
                    "the launch id is only known at run time, so the grant covers the launches/ prefix "
                    "(GetObject/PutObject/AbortMultipartUpload, no delete, no list, no other prefix).",
                ),
            ],
        )
    for role_config in compute._config.job_roles:
        role = compute.job_roles[role_config.name]
        acknowledge(
            role,
            [
                (
                    f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                    f"Managed policy {policy} is attached on purpose by the deployment configuration "
                    f"(jobRoles.{role_config.name}.managedPolicies): what the team's task code needs.",
                )
                for policy in role_config.managed_policies
                if not policy.startswith("arn:")
            ],
        )
    if compute._instance_role is not None:
        acknowledge(
            compute._instance_role,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonEC2ContainerServiceforEC2Role]",
                    "The ECS container-instance role of Batch EC2 compute environments: AWS maintains this policy "
                    "as exactly what the ECS agent needs (register the instance, pull images, write logs); jobs "
                    "cannot use it (IMDSv2 with hop limit 1, jobs get their job role from the ECS agent).",
                ),
            ],
        )


# The singleton Lambda behind every AwsCustomResource of a stack (construct id fixed by aws-cdk-lib).
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"


def acknowledge_routing_seed(seed) -> None:  # seed: stacks.routing_seed.RoutingSeed
    singleton = Stack.of(seed).node.try_find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
    if singleton is None:
        return
    acknowledge(
        singleton,
        [
            (
                LAMBDA_BASIC_EXECUTION,
                "aws-cdk-lib's AwsCustomResource provider function (it seeds the routing table at deploy); its role "
                "only carries AWSLambdaBasicExecutionRole (write its own logs) plus the seed's PutItem on the routing "
                "table. The provider is generated by aws-cdk-lib and takes no custom role.",
            ),
        ],
    )
