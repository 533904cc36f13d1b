"""The SSM parameters every function reads (batchlane.common.settings), editable by operators."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from batchlane.deployment.config import DeploymentConfig


class DeploymentSettings(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, id)
        self.path = config.ssm_prefix
        for name, value in config.settings_parameters(Aws.ACCOUNT_ID, Aws.PARTITION).items():
            parameter_name = f"{config.ssm_prefix}/{name}"
            if name == "allowed-role-arns":
                ssm.StringListParameter(self, name, parameter_name=parameter_name, string_list_value=value.split(","))
            else:
                ssm.StringParameter(self, name, parameter_name=parameter_name, string_value=value)

    def grant_read(self, grantee: iam.IGrantable) -> None:
        stack = Stack.of(self)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParametersByPath"],
                resources=[stack.format_arn(service="ssm", resource="parameter", resource_name=self.path.lstrip("/"))],
            )
        )
