"""IAM for what jobs mount and read beyond their launch data (issue 28): the secrets of a
``secretsAllowed`` grant, read by ECS with that grant's own execution role (batchlane.common.secrets);
the EFS volumes declared for a job role's projects, mounted with IAM authorization (batchlane.common.volumes)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from batchlane.common.secrets import SECRETS_MANAGER_PREFIX, SSM_PREFIX, SecretGrant
from batchlane.common.tenancy import patterns_overlap
from batchlane.common.volumes import VolumeGrant


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


def grant_volume_mounts(role: iam.Role, projects: list[str], volumes: list[VolumeGrant]) -> None:
    """Mount (and write, unless read-only) the IAM-authorized volumes declared for any of the role's
    projects; through the volume's access point only, when it has one."""
    stack = Stack.of(role)
    for volume in volumes:
        if not volume.efs.iam or not any(patterns_overlap(a, b) for a in volume.projects for b in projects):
            continue
        actions = ["elasticfilesystem:ClientMount"] + ([] if volume.read_only else ["elasticfilesystem:ClientWrite"])
        conditions = None
        if volume.efs.access_point_id:
            access_point = stack.format_arn(
                service="elasticfilesystem", resource="access-point", resource_name=volume.efs.access_point_id
            )
            conditions = {"StringEquals": {"elasticfilesystem:AccessPointArn": access_point}}
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"MountVolume{volume.name.replace('-', '').replace('_', '')}",
                actions=actions,
                resources=[
                    stack.format_arn(
                        service="elasticfilesystem", resource="file-system", resource_name=volume.efs.file_system_id
                    )
                ],
                conditions=conditions,
            )
        )
