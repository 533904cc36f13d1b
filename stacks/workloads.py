"""IAM for what jobs mount and read beyond their launch data (issue 28): the secrets of a
``secretsAllowed`` grant, read by ECS with that grant's own execution role (batchlane.common.secrets)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from batchlane.common.secrets import SECRETS_MANAGER_PREFIX, SSM_PREFIX, SecretGrant


def secret_resources(scope: Stack, grant: SecretGrant) -> tuple[list[str], list[str]]:
    """The grant's SSM parameter ARNs and Secrets Manager secret ARNs: its patterns, whose * and ?
    mean in IAM what they mean to the launcher (fnmatch)."""
    parameters = [
        scope.format_arn(service="ssm", resource="parameter", resource_name=p.removeprefix(SSM_PREFIX + "/"))
        for p in grant.value_from
        if p.startswith(SSM_PREFIX)
    ]
    secrets = [p.removeprefix(SECRETS_MANAGER_PREFIX) for p in grant.value_from if p.startswith(SECRETS_MANAGER_PREFIX)]
    return parameters, secrets


def grant_secret_reads(role: iam.Role, grant: SecretGrant) -> None:
    """What ECS needs to read the grant's secrets into a container: nothing of any other grant."""
    parameters, secrets = secret_resources(Stack.of(role), grant)
    if parameters:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadGrantedParameters", actions=["ssm:GetParameters"], resources=parameters)
        )
    if secrets:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadGrantedSecrets", actions=["secretsmanager:GetSecretValue"], resources=secrets)
        )
