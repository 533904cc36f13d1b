"""Launch path: bus rule -> SQS buffer (with DLQ) -> launcher Lambda -> AWS Batch."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from batchlane.common.tenancy import DATA_PREFIX, INPUTS
from batchlane.deployment.config import DeploymentConfig
from batchlane.deployment.contract import event_paths, function_environment, function_settings
from stacks.buffers import buffered_queue, consume, deliver, event_rule
from stacks.compute import BatchCompute
from stacks.grants import grant_items, grant_objects
from stacks.runtime import LambdaRuntime
from stacks.settings import DeploymentSettings
from stacks.state import StateStore


def _construct_id(rule_name: str) -> str:
    return "".join(part.title() for part in rule_name.split("-"))  # "chunk-due" -> "ChunkDue"


class LaunchPath(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DeploymentConfig,
        state: StateStore,
        compute: BatchCompute,
        runtime: LambdaRuntime,
        settings: DeploymentSettings,
    ) -> None:
        super().__init__(scope, id)
        path = event_paths(config, [])["launcher"]
        self.queue, self.dlq = buffered_queue(self, "Requests", path.settings)
        self.rule = event_rule(self, "LaunchRequested", path, state.bus)
        deliver(self.rule, self.queue, self.dlq)
        # "Task Chunk Due" (docs/chunked-maps.md) into the same buffer: the launcher submits that chunk.
        self.extra_rules = [
            event_rule(self, _construct_id(extra["name"]), path, state.bus, extra) for extra in path.extra_rules
        ]
        for rule in self.extra_rules:
            deliver(rule, self.queue, self.dlq)
        self.function = runtime.function(
            self,
            "Launcher",
            handler=path.function.handler,
            service=path.function.name,
            settings=function_settings(config, path.function.name),
            description="Validates, routes and submits task launches to AWS Batch",
            environment=function_environment(config, path.function.name, state.names),
        )
        # The launcher's containers share the deployment's SubmitJob rate: each paces itself at
        # submitRatePerSecond / launcherMaxConcurrency (docs/throughput.md).
        consume(self.function, self.queue, path, max_concurrency=config.launcher_max_concurrency)
        self._grant(config, state, compute, settings)

    def _grant(
        self, config: DeploymentConfig, state: StateStore, compute: BatchCompute, settings: DeploymentSettings
    ) -> None:
        fn = self.function
        stack = Stack.of(self)
        settings.grant_read(fn)
        state.routing_table.grant(fn, "dynamodb:Query")
        grant_items(
            state.executions_table,
            fn,
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
        )
        # inputs.jsonl and inputs.idx only
        grant_objects(
            state.bucket, fn, "s3:PutObject", prefix=f"{DATA_PREFIX}{INPUTS}/*"
        )  # inputs.jsonl, inputs.idx only
        state.bus.grant_put_events_to(fn)
        definitions = stack.format_arn(service="batch", resource="job-definition", resource_name="batchlane-*")
        # The deployment's queues, and the queues outside it that routing items may name (extraJobQueueArns).
        queues = [q.job_queue_arn for q in compute.job_queues.values()] + config.extra_queues_in(
            Aws.ACCOUNT_ID, Aws.PARTITION
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="SubmitToOwnQueues",
                actions=["batch:SubmitJob"],
                resources=[definitions, *queues],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="TagOnCreate",
                actions=["batch:TagResource"],
                resources=[definitions, stack.format_arn(service="batch", resource="job", resource_name="*")],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="RegisterOwnDefinitions",
                actions=["batch:RegisterJobDefinition"],
                resources=[definitions],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeAndListDemandStar",
                actions=["batch:DescribeJobDefinitions", "batch:ListJobs"],
                resources=["*"],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassOnlyJobRoles",
                actions=["iam:PassRole"],
                resources=list(compute.passable_role_arns),
            )
        )
