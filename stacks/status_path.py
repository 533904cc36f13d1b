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

from batchlane import ABORT_REQUESTED
from batchlane.deployment.config import DeploymentConfig
from batchlane.status.events import DETAIL_TYPES, SOURCE
from stacks.compute import BatchCompute
from stacks.buffers import buffered_queue, consume, deliver
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
        self._batch_events_to_aggregator(config, state, compute, runtime)
        self._abort_requests_to_aggregator(config, state)
        self._grant(state, self.function)
        settings.grant_read(self.function)  # who may abort what (the producers parameter)
        self._scheduled_reconciler(config, state, runtime)

    def _batch_events_to_aggregator(
        self, config: DeploymentConfig, state: StateStore, compute: BatchCompute, runtime: LambdaRuntime
    ) -> None:
        settings = config.aggregator
        self.queue, self.dlq = buffered_queue(self, "BatchEvents", settings)
        queue_arns = [q.job_queue_arn for q in compute.job_queues.values()]
        # AWS Batch publishes on the default bus only; batchlane's own queues, nobody else's jobs.
        self.rule = events.Rule(
            self, "BatchJobEvents",
            description="AWS Batch state changes and queue blocks of batchlane's job queues to the aggregator",
            event_pattern=events.EventPattern(
                source=[SOURCE],
                detail_type=list(DETAIL_TYPES),
                detail={"jobQueue": queue_arns},
            ),
        )
        deliver(self.rule, self.queue, self.dlq)
        self.function = runtime.function(
            self, "Aggregator",
            handler="batchlane.status.handler.handler",
            service="aggregator",
            settings=settings,
            description="Folds AWS Batch job events into one live status per launch",
            environment=config.aggregator_environment(state.names),
        )
        consume(self.function, self.queue, batch_size=settings.batch_size,
                batching_window_seconds=settings.batching_window_seconds)

    def _abort_requests_to_aggregator(self, config: DeploymentConfig, state: StateStore) -> None:
        """Their own small buffer: an abort never waits behind a burst of Batch events."""
        self.abort_queue, self.abort_dlq = buffered_queue(self, "AbortRequests", config.aggregator)
        self.abort_rule = events.Rule(
            self, "AbortRequested",
            event_bus=state.bus,
            description="Task abort requests to the aggregator",
            event_pattern=events.EventPattern(detail_type=[ABORT_REQUESTED]),
        )
        deliver(self.abort_rule, self.abort_queue, self.abort_dlq)
        consume(self.function, self.abort_queue, batch_size=10)

    def _scheduled_reconciler(self, config: DeploymentConfig, state: StateStore, runtime: LambdaRuntime) -> None:
        """On a schedule, never on the event path (no DescribeJobs while events flow)."""
        self.reconciler = runtime.function(
            self, "Reconciler",
            handler="batchlane.status.handler.reconcile",
            service="reconciler",
            settings=config.reconciler,
            description="Repairs launches whose AWS Batch events were missed (DescribeJobs, within a budget)",
            environment=config.reconciler_environment(state.names),
        )
        self.schedule = events.Rule(
            self, "ReconcileSchedule",
            description="Runs the status reconciler",
            schedule=events.Schedule.rate(Duration.minutes(config.status.reconcile_every_minutes)),
        )
        self.schedule.add_target(targets.LambdaFunction(self.reconciler, retry_attempts=0))
        self._grant(state, self.reconciler)
        self.reconciler.add_to_role_policy(iam.PolicyStatement(
            sid="DescribeJobsToRepair",
            actions=["batch:DescribeJobs"],
            resources=["*"],
        ))

    def _grant(self, state: StateStore, fn: lambda_.Function) -> None:
        stack = Stack.of(self)
        # Query (byJobId and the launch's partition), GetItem/BatchGetItem, and the transaction's Put/Update.
        state.executions_table.grant(fn, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem",
                                     "dynamodb:PutItem", "dynamodb:UpdateItem")
        state.bucket.grant_read(fn, "launches/*")  # the children's outputs.json
        state.bucket.grant_put(fn, "launches/*")  # the launch's assembled outputs.json
        state.bus.grant_put_events_to(fn)
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="TerminateFailedLaunches",
            actions=["batch:TerminateJob"],
            resources=[stack.format_arn(service="batch", resource="job", resource_name="*")],
        ))
