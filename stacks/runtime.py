"""How every batchlane function runs: one code asset, one dependency layer, the same settings."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from batchlane.common.environment import METRICS_NAMESPACE, CommonEnvironment, FunctionEnvironment
from batchlane.deployment.config import LOG_RETENTION_DAYS, ConfigError, DeploymentConfig, FunctionConfig

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / "build" / "layer"
# lambdas/ holds exactly what the functions run (tests/unit/test_lambda_asset.py keeps it so).
CODE_DIR = ROOT / "lambdas"
CODE_EXCLUDES = ["**/__pycache__", "*.egg-info", "requirements.txt"]


class LambdaRuntime(Construct):
    def __init__(self, scope: Construct, id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, id)
        if not (LAYER_DIR / "python").is_dir():
            raise ConfigError(f"{LAYER_DIR} is missing: run `make setup` (it builds the Lambda dependency layer)")
        self._config = config
        # Built by `make setup` from lambdas/requirements.txt for arm64/python3.12: no Docker needed.
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(LAYER_DIR)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="batchlane runtime dependencies (lambdas/requirements.txt)",
        )
        self.code = lambda_.Code.from_asset(str(CODE_DIR), exclude=CODE_EXCLUDES)

    def function(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        service: str,
        settings: FunctionConfig,
        environment: FunctionEnvironment,
        description: str,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope,
            f"{id}Logs",
            retention=log_retention(self._config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        function = lambda_.Function(
            scope,
            id,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            code=self.code,
            handler=handler,
            layers=[self.layer],
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=_function_role(scope, id, log_group),
            description=description,
            environment={
                **CommonEnvironment(
                    service_name=service,
                    metrics_namespace=METRICS_NAMESPACE,
                    log_level="INFO",
                    deployment=self._config.name,
                ).variables(),
                **environment.variables(),
            },
        )
        return function


def _function_role(scope: Construct, id: str, log_group: logs.ILogGroup) -> iam.Role:
    """A function's role: it writes its own log group only (aws-cdk-lib's default,
    AWSLambdaBasicExecutionRole, may create and write any log group of the account)."""
    role = iam.Role(scope, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    return role


def log_retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a validated ``logRetentionDays`` value."""
    return list(logs.RetentionDays)[LOG_RETENTION_DAYS.index(days)]
