"""Status path: AWS Batch events (default bus) -> SQS buffer (with DLQ) -> aggregator Lambda -> status items.

"Task Abort Requested" events (batchlane's bus) reach the same function through their own buffer.
A scheduled reconciler repairs launches whose events were missed (DescribeJobs, within a budget)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from batchlane.common.tenancy import CHILDREN, DATA_PREFIX, OUTPUTS, PARTS
from batchlane.deployment.config import DeploymentConfig
from batchlane.deployment.contract import (
    FUNCTIONS,
    RECONCILER_RETRY_ATTEMPTS,
    EventPath,
    event_paths,
    function_environment,
    function_settings,
)
from stacks.buffers import buffered_queue, consume, deliver, event_rule
from stacks.compute import BatchCompute
from stacks.grants import grant_items, grant_missing_as_absent, grant_objects
from stacks.runtime import LambdaRuntime
from stacks.settings import DeploymentSettings
from stacks.state import StateStore


class StatusPath(Construct):
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
        paths = event_paths(config, [q.job_queue_arn for q in compute.job_queues.values()])
        self._batch_events_to_aggregator(config, state, paths["aggregator"], runtime)
        self._abort_requests_to_aggregator(state, paths["abort"])
        self._grant(state, self.function)
        # Queue health: the aggregator marks the routing item of a queue whose jobs are blocked.
        state.routing_table.grant(self.function, "dynamodb:UpdateItem")
        settings.grant_read(self.function)  # who may abort what (the producers parameter)
        self._scheduled_reconciler(config, state, runtime)

    def _batch_events_to_aggregator(
        self, config: DeploymentConfig, state: StateStore, path: EventPath, runtime: LambdaRuntime
    ) -> None:
        self.queue, self.dlq = buffered_queue(self, "BatchEvents", path.settings)
        # AWS Batch publishes on the default bus only; batchlane's own queues, nobody else's jobs.
        self.rule = event_rule(self, "BatchJobEvents", path, state.bus)
        deliver(self.rule, self.queue, self.dlq)
        self.function = runtime.function(
            self,
            "Aggregator",
            handler=path.function.handler,
            service=path.function.name,
            settings=function_settings(config, path.function.name),
            description="Folds AWS Batch job events into one live status per launch",
            environment=function_environment(config, path.function.name, state.names),
        )
        consume(self.function, self.queue, path, max_concurrency=config.aggregator_max_concurrency)

    def _abort_requests_to_aggregator(self, state: StateStore, path: EventPath) -> None:
        """Their own small buffer: an abort never waits behind a burst of Batch events."""
        self.abort_queue, self.abort_dlq = buffered_queue(self, "AbortRequests", path.settings)
        self.abort_rule = event_rule(self, "AbortRequested", path, state.bus)
        deliver(self.abort_rule, self.abort_queue, self.abort_dlq)
        consume(self.function, self.abort_queue, path)

    def _scheduled_reconciler(self, config: DeploymentConfig, state: StateStore, runtime: LambdaRuntime) -> None:
        """On a schedule, never on the event path (no DescribeJobs while events flow)."""
        function = FUNCTIONS["reconciler"]
        self.reconciler = runtime.function(
            self,
            "Reconciler",
            handler=function.handler,
            service=function.name,
            settings=function_settings(config, function.name),
            description="Repairs launches whose AWS Batch events were missed (DescribeJobs, within a budget)",
            environment=function_environment(config, function.name, state.names),
        )
        self.schedule = events.Rule(
            self,
            "ReconcileSchedule",
            description="Runs the status reconciler",
            schedule=events.Schedule.rate(Duration.minutes(config.status.reconcile_every_minutes)),
        )
        self.schedule.add_target(targets.LambdaFunction(self.reconciler, retry_attempts=RECONCILER_RETRY_ATTEMPTS))
        self._grant(state, self.reconciler)
        self.reconciler.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeJobsToRepair",
                actions=["batch:DescribeJobs"],
                resources=["*"],
            )
        )

    def _grant(self, state: StateStore, fn: lambda_.Function) -> None:
        stack = Stack.of(self)
        # Query (byJobId and the launch's partition), GetItem/BatchGetItem, and the transaction's Put/Update.
        grant_items(
            state.executions_table,
            fn,
            *("dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
            on_indexes=("dynamodb:Query",),
        )
        # Children's outputs and parts in (and a rerun's original's assembled outputs); the assembled
        # outputs and parts out (no job role writes those; a multipart upload past 8 MB, aborted if it
        # fails); a missing child's outputs reads as absent.
        for kind in (CHILDREN, PARTS, OUTPUTS):
            grant_objects(state.bucket, fn, "s3:GetObject", prefix=f"{DATA_PREFIX}{kind}/*")
        for kind in (OUTPUTS, PARTS):
            grant_objects(state.bucket, fn, "s3:PutObject", "s3:AbortMultipartUpload", prefix=f"{DATA_PREFIX}{kind}/*")
        grant_missing_as_absent(state.bucket, fn)
        state.bus.grant_put_events_to(fn)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="TerminateFailedLaunches",
                actions=["batch:TerminateJob"],
                resources=[stack.format_arn(service="batch", resource="job", resource_name="*")],
            )
        )
