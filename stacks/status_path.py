"""Status path: AWS Batch events (default bus) -> SQS buffer (with DLQ) -> aggregator Lambda -> status items."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from batchlane.status.events import DETAIL_TYPES, SOURCE
from stacks.compute import BatchCompute
from stacks.config import DeploymentConfig
from stacks.launch_path import buffered_queue
from stacks.runtime import LambdaRuntime
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
    ) -> None:
        super().__init__(scope, id)
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
        self.rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=self.dlq, retry_attempts=185,
                                              max_event_age=Duration.hours(24)))
        self.function = runtime.function(
            self, "Aggregator",
            handler="batchlane.status.handler.handler",
            service="aggregator",
            settings=settings,
            description="Folds AWS Batch job events into one live status per launch",
            environment={
                "EXECUTIONS_TABLE": state.executions_table.table_name,
                "EVENT_BUS": state.bus.event_bus_name,
            },
        )
        self.function.add_event_source(sources.SqsEventSource(
            self.queue,
            batch_size=settings.batch_size,
            max_batching_window=Duration.seconds(settings.batching_window_seconds) if settings.batching_window_seconds else None,
            report_batch_item_failures=True,
        ))
        self._grant(state)

    def _grant(self, state: StateStore) -> None:
        fn = self.function
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
