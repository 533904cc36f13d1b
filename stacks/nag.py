"""cdk-nag (AwsSolutions) for batchlane, and every accepted finding with the reason it is accepted.

cdk-nag 3.x runs as a CDK policy-validation plugin: ``app.synth()`` (and ``cdk synth``) fails on
any finding that is not acknowledged (``Validations.of(construct).acknowledge(...)``).

:func:`add_checks` (called by ``stacks.app_factory.build_app`` once the stacks are built) adds the
AwsSolutions pack and then acknowledges, on the narrowest construct that carries it, each finding
this module knows a reason for:

* IAM5 (wildcards) is examined statement by statement on every IAM policy of the app: a finding
  is acknowledged on that policy only, with its exact id (``AwsSolutions-IAM5[Resource::...]`` or
  ``[Action::...]``), and only when every statement behind it matches one of the reasons below.
  A new wildcard anywhere else (or ``Resource: *`` on an action that has resource-level
  permissions) stays a finding and fails the synth: give it a reason here, or narrow it.
* IAM4 (AWS managed policies) on the roles that need exactly those policies.
* L1 (Lambda runtime) on functions pinned to the runtime the dependency layer is built for.

Actions batchlane grants on ``Resource: *`` because the API has no resource-level permissions
(see :data:`STAR_ONLY_ACTIONS`): ``ecr:GetAuthorizationToken``, ``batch:DescribeJobs``,
``batch:ListJobs``, ``batch:DescribeJobDefinitions``, ``batch:DescribeJobQueues``,
``batch:DescribeComputeEnvironments``, ``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``,
``cloudwatch:PutMetricData``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

# The singleton Lambda behind every AwsCustomResource of a stack (construct id fixed by aws-cdk-lib).
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"

# API actions that only accept Resource "*" (no resource-level permissions), with what they do.
STAR_ONLY_ACTIONS: dict[str, str] = {
    "ecr:GetAuthorizationToken": "returns a registry login token; pulls still need the scoped ecr:BatchGetImage",
    "batch:DescribeJobs": "Batch has no resource-level permissions for DescribeJobs",
    "batch:ListJobs": "Batch has no resource-level permissions for ListJobs",
    "batch:DescribeJobDefinitions": "Batch has no resource-level permissions for DescribeJobDefinitions",
    "batch:DescribeJobQueues": "Batch has no resource-level permissions for DescribeJobQueues",
    "batch:DescribeComputeEnvironments": "Batch has no resource-level permissions for DescribeComputeEnvironments",
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (active tracing)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (active tracing)",
    "cloudwatch:PutMetricData": "CloudWatch PutMetricData has no resource-level permissions",
}

# Action wildcards aws-cdk-lib's grant methods use, each standing for a small fixed family.
GRANT_ACTION_WILDCARDS: dict[str, str] = {
    "s3:Abort*": "aws-cdk-lib's bucket.grant_put adds s3:Abort* (AbortMultipartUpload: clean up a failed upload)",
    "s3:GetObject*": "aws-cdk-lib's bucket.grant_read: GetObject and its Acl/Attributes/Tagging/Version variants",
    "s3:GetBucket*": "aws-cdk-lib's bucket.grant_read: bucket metadata (location, versioning) for S3 clients",
    "s3:List*": "aws-cdk-lib's bucket.grant_read: list the bucket, scoped to the bucket and its prefix grant",
    "s3:DeleteObject*": "aws-cdk-lib's bucket.grant_delete: DeleteObject and DeleteObjectVersion",
    "kms:GenerateDataKey*": "aws-cdk-lib's key grants: GenerateDataKey and GenerateDataKeyWithoutPlaintext",
    "kms:ReEncrypt*": "aws-cdk-lib's key grants: ReEncryptFrom / ReEncryptTo on the same key",
    "ssm:GetParameter*": "aws-cdk-lib's parameter grants: GetParameter/GetParameters/GetParameterHistory",
}

_BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
_ECS_INSTANCE_POLICY = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
# The finding id, for explicit acknowledgements elsewhere (stacks/runtime.py).
LAMBDA_BASIC_EXECUTION = f"AwsSolutions-IAM4[{_BASIC_EXECUTION}]"

MANAGED_POLICY_REASONS: dict[str, str] = {
    _BASIC_EXECUTION: (
        "AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch logs (logs:CreateLogGroup, "
        "CreateLogStream, PutLogEvents); aws-cdk-lib attaches it to every Lambda role, including its own "
        "custom-resource provider, and the functions' log groups are created by the stack with retention."
    ),
    _ECS_INSTANCE_POLICY: (
        "The ECS container-instance role of Batch EC2 compute environments: AWS maintains this policy as exactly "
        "what the ECS agent needs (register the instance, pull images, write logs). Jobs cannot use it: instances "
        "require IMDSv2 with hop limit 1 and jobs get their job role from the ECS agent."
    ),
}

# Python runtimes acknowledged for L1 and why.
PINNED_RUNTIMES: dict[str, str] = {
    "python3.12": (
        "Pinned on purpose: the dependency layer (make setup, lambdas/requirements.txt) is built for "
        "cp312/arm64 and the tests run the same interpreter family; move runtime and layer together."
    ),
}


def flatten_cfn_reference(node: Any) -> str:
    """The string cdk-nag writes for a (resolved) CloudFormation value in a finding id."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key == "Fn::Join":
            delimiter, items = value
            return delimiter.join(flatten_cfn_reference(i) for i in items)
        if key == "Fn::Sub":
            return flatten_cfn_reference(value)
        if key == "Fn::GetAtt":
            return f"<{flatten_cfn_reference(value[0])}.{flatten_cfn_reference(value[1])}>"
        if key == "Fn::ImportValue":
            return flatten_cfn_reference(value)
        if key == "Ref":
            return f"<{flatten_cfn_reference(value)}>"
    return json.dumps(node, separators=(",", ":"))


_REGION = r"(?:<AWS::Region>|[a-z]{2}(?:-gov)?-[a-z]+-\d)"


# ---- resource wildcards: (predicate on the flattened resource, reason) ------------------------
ResourceReason = tuple[Callable[[str, list[str]], bool], str]


def _only(actions: list[str], allowed: Iterable[str]) -> bool:
    allowed = set(allowed)
    return all(a in allowed for a in actions)


def _resource_reasons() -> list[ResourceReason]:
    """The first that matches a wildcard resource (and its actions) gives the reason."""
    return _data_reasons() + _compute_reasons() + _secret_reasons()


def _data_reasons() -> list[ResourceReason]:
    """batchlane's data bucket, allow-listed inputs, its table's indexes."""
    return [
        (
            lambda r, a: re.fullmatch(r".*\.Arn>/launches/(inputs|children|outputs|parts)/\*", r) is not None,
            "One kind of launch data of batchlane's data bucket (launches/<kind>/t=<team>/p=<project>/d=<domain>/"
            "l=<launchId>/): launch ids are only known at run time, so a function's grant covers that kind's "
            "prefix (the launcher writes inputs; the aggregator reads children and parts, writes outputs and parts).",
        ),
        (
            lambda r, a: (
                re.fullmatch(
                    r".*\.Arn>/launches/(inputs|children|outputs)/t=([A-Za-z0-9_-]+|\*/p=[A-Za-z0-9_.~*-]+/d=[A-Za-z0-9_.~*-]+)/\*",
                    r,
                )
                is not None
                and _only(a, ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"))
            ),
            "Launch data of one team (a producer's own launches) or of the projects a job role is configured "
            "for, under one kind's fixed prefix: launch ids are only known at run time, so the grant ends in the "
            "launch id's segment; typed, encoded segments keep it from matching another team's or project's keys.",
        ),
        (
            lambda r, a: (
                re.fullmatch(r"arn:<AWS::Partition>:s3:::[a-z0-9][a-z0-9.-]+/\S*\*", r) is not None
                and _only(a, ("s3:GetObject",))
            ),
            "An inputsLocation prefix the deployment configuration allow-lists for the role's projects "
            "(inputsLocations): read only, objects under that prefix only.",
        ),
        (
            lambda r, a: (
                re.fullmatch(r"arn:<AWS::Partition>:s3:::[a-z0-9][a-z0-9.-]+/\S*\*", r) is not None
                and _only(a, ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"))
            ),
            "A Flyte metadata or raw-data prefix the deployment configuration grants the role's projects "
            "(flyteData): a Flyte task reads its inputs and writes its outputs under it, objects under that "
            "prefix only; Flyte names the objects per execution at run time.",
        ),
        (
            lambda r, a: r.endswith(".Arn>/index/*") and _only(a, _DYNAMODB_READ_WRITE),
            "aws-cdk-lib's table grants include the table's secondary indexes (<table>/index/*); batchlane "
            "queries its byJobId index. Scoped to batchlane's own table.",
        ),
    ]


def _compute_reasons() -> list[ResourceReason]:
    """Images, job definitions and jobs named at run time."""
    return [
        (
            lambda r, a: (
                re.fullmatch(rf"arn:<AWS::Partition>:ecr:{_REGION}:<AWS::AccountId>:repository/\*", r) is not None
                and _only(a, ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"))
            ),
            "Jobs run images named at launch time, so the execution role may pull (read-only) from any ECR "
            "repository of this account and region; other accounts' repositories are not included.",
        ),
        (
            lambda r, a: (
                re.fullmatch(rf"arn:<AWS::Partition>:batch:{_REGION}:<AWS::AccountId>:job-definition/batchlane-\*", r)
                is not None
                and _only(
                    a,
                    (
                        "batch:RegisterJobDefinition",
                        "batch:SubmitJob",
                        "batch:TagResource",
                        "batch:DeregisterJobDefinition",
                    ),
                )
            ),
            "The launcher registers one job definition per (image, role, platform) at run time, all named "
            "batchlane-*; the wildcard covers those names and their revisions, no other definitions.",
        ),
        (
            lambda r, a: (
                re.fullmatch(rf"arn:<AWS::Partition>:batch:{_REGION}:<AWS::AccountId>:job/\*", r) is not None
                and _only(a, ("batch:TagResource", "batch:TerminateJob", "batch:CancelJob"))
            ),
            "Batch job ids are generated at submit time, so actions on the jobs batchlane submits (tag on "
            "create, cancel/terminate on abort) name job/*; SubmitJob itself is limited to batchlane's queues.",
        ),
    ]


def _secret_reasons() -> list[ResourceReason]:
    """A secretsAllowed grant's patterns on its own execution role (stacks/workloads.py)."""
    reason = (
        "A secretsAllowed pattern of the deployment configuration (reviewed with it): ECS reads these secrets "
        "into the containers of the grant's projects with the grant's own execution role, which reads nothing else."
    )
    return [
        (
            lambda r, a: (
                re.fullmatch(rf"arn:<AWS::Partition>:ssm:{_REGION}:<AWS::AccountId>:parameter/[A-Za-z0-9_.*?/-]+", r)
                is not None
                and _only(a, ("ssm:GetParameters",))
            ),
            reason,
        ),
        (
            lambda r, a: (
                re.fullmatch(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@*?-]+", r)
                is not None
                and _only(a, ("secretsmanager:GetSecretValue",))
            ),
            reason,
        ),
    ]


_DYNAMODB_READ_WRITE = {
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
}


def bucket_arn_token(bucket: s3.IBucket) -> str:
    """How cdk-nag spells ``bucket.bucket_arn`` in a finding id: ``<LogicalId.Arn>``."""
    cfn = bucket.node.default_child
    if cfn is None:  # an imported bucket: its ARN is a literal
        return bucket.bucket_arn
    return f"<{Stack.of(bucket).get_logical_id(cfn)}.Arn>"  # type: ignore[arg-type]


def add_checks(app: IConstruct) -> None:
    """Run the AwsSolutions pack at synth and acknowledge the findings this module has reasons for."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge_known_findings(app)


def acknowledge(scope: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """Acknowledge ``(finding id, reason)`` pairs on ``scope`` (and the resources under it)."""
    acks = [Acknowledgment(id=_qualified(i), reason=r) for i, r in findings]
    if acks:
        Validations.of(scope).acknowledge(*acks)


def _qualified(rule_id: str) -> str:
    """``AwsSolutions-X`` -> ``AwsSolutions::AwsSolutions-X``: the pack-qualified id cdk-nag reports."""
    pack = rule_id.split("-", 1)[0]
    return rule_id if "::" in rule_id.split("[", 1)[0] else f"{pack}::{rule_id}"


def acknowledge_known_findings(root: IConstruct) -> None:
    for node in root.node.find_all():
        if isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            stack = Stack.of(node)
            acknowledge(node, wildcard_acknowledgements([stack.resolve(node.policy_document)]))
        elif isinstance(node, iam.CfnRole):
            stack = Stack.of(node)
            inline = stack.resolve(node.policies) or []
            documents = [p.get("PolicyDocument") or p.get("policyDocument") for p in inline]
            acknowledge(node, wildcard_acknowledgements([d for d in documents if d]))
            managed = [flatten_cfn_reference(a) for a in (stack.resolve(node.managed_policy_arns) or [])]
            acknowledge(node, managed_policy_acknowledgements(node, managed))
        elif isinstance(node, lambda_.CfnFunction):
            runtime = Stack.of(node).resolve(node.runtime)
            if runtime in PINNED_RUNTIMES:
                acknowledge(node, [("AwsSolutions-L1", f"Runtime {runtime}: {PINNED_RUNTIMES[runtime]}")])


def wildcard_acknowledgements(documents: Iterable[dict]) -> list[tuple[str, str]]:
    """IAM5 findings of these policy documents that have an accepted reason, with the reason."""
    by_finding: dict[str, list[str | None]] = {}
    for document in documents:
        for statement in document.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action"))
            resources = [flatten_cfn_reference(r) for r in _as_list(statement.get("Resource"))]
            for action in actions:
                if "*" in action:
                    by_finding.setdefault(f"Action::{action}", []).append(GRANT_ACTION_WILDCARDS.get(action))
            for resource in resources:
                if "*" in resource:
                    by_finding.setdefault(f"Resource::{resource}", []).append(_resource_reason(resource, actions))
    accepted = []
    for finding, reasons in by_finding.items():
        if reasons and all(reasons):
            accepted.append((f"AwsSolutions-IAM5[{finding}]", " / ".join(dict.fromkeys(reasons))))  # type: ignore[arg-type]
    return accepted


def _resource_reason(resource: str, actions: list[str]) -> str | None:
    if resource == "*":
        if actions and all(a in STAR_ONLY_ACTIONS for a in actions):
            return "Resource '*' is required by the API: " + "; ".join(f"{a} ({STAR_ONLY_ACTIONS[a]})" for a in actions)
        return None
    for predicate, reason in _resource_reasons():
        if predicate(resource, actions):
            return reason
    return None


def managed_policy_acknowledgements(role: iam.CfnRole, managed: list[str]) -> list[tuple[str, str]]:
    accepted = []
    configured = _configured_job_role_policies(role)
    for arn in managed:
        finding = f"Policy::{arn}"
        if finding in MANAGED_POLICY_REASONS:
            accepted.append((f"AwsSolutions-IAM4[{finding}]", MANAGED_POLICY_REASONS[finding]))
        elif arn in configured:
            accepted.append(
                (
                    f"AwsSolutions-IAM4[{finding}]",
                    f"Attached on purpose by the deployment configuration ({configured[arn]}): what the team's task "
                    "code needs, reviewed with the configuration.",
                )
            )
    return accepted


def _configured_job_role_policies(role: iam.CfnRole) -> dict[str, str]:
    """AWS managed policies the deployment configuration attaches to this job role, if it is one."""
    from stacks.compute import BatchCompute  # local import: compute imports nothing from here

    scope = role.node.scope
    while scope is not None and not isinstance(scope, BatchCompute):
        scope = scope.node.scope
    if scope is None:
        return {}
    result = {}
    for role_config in scope.config.job_roles:
        role_resource = scope.job_roles[role_config.name].node.default_child
        if role_resource is None or role_resource.node.path != role.node.path:
            continue
        for policy in role_config.managed_policies:
            if not policy.startswith("arn:"):
                result[f"arn:<AWS::Partition>:iam::aws:policy/{policy}"] = (
                    f"jobRoles.{role_config.name}.managedPolicies: {policy}"
                )
    return result


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
