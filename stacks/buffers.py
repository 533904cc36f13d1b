"""The event path every batchlane function sits on: rule -> SQS buffer (with DLQ) -> function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batchlane.deployment import contract
from batchlane.deployment.config import FunctionConfig


def buffered_queue(scope: Construct, id: str, settings: FunctionConfig) -> tuple[sqs.Queue, sqs.Queue]:
    """An encrypted, TLS-only SQS buffer and its dead-letter queue, sized for a function."""
    dlq = sqs.Queue(
        scope,
        f"{id}DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(contract.DEAD_LETTER_RETENTION_DAYS),
    )
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(contract.buffer_visibility_seconds(settings)),
        retention_period=Duration.days(contract.BUFFER_RETENTION_DAYS),
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=settings.max_receive_count, queue=dlq),
    )
    return queue, dlq


def event_rule(
    scope: Construct, id: str, path: contract.EventPath, bus: events.IEventBus, extra: dict | None = None
) -> events.Rule:
    """The rule of an event path (or one of its ``extra_rules``), on batchlane's bus (``bus``) or the default bus."""
    pattern = extra["pattern"] if extra else path.pattern
    rule = events.Rule(
        scope,
        id,
        event_bus=None if path.on_default_bus else bus,
        description=extra["description"] if extra else path.description,
        event_pattern=events.EventPattern(
            source=pattern.get("source"), detail_type=pattern.get("detail-type"), detail=pattern.get("detail")
        ),
    )
    if "$or" in pattern:  # CDK's EventPattern has no field for it; EventBridge and CloudFormation do
        cfn = rule.node.default_child
        assert isinstance(cfn, events.CfnRule)
        cfn.add_property_override("EventPattern.$or", pattern["$or"])
    return rule


def deliver(rule: events.Rule, queue: sqs.IQueue, dlq: sqs.IQueue) -> None:
    """Rule -> buffer; delivery failures (EventBridge retries for 24 h) end in the same dead-letter queue."""
    rule.add_target(
        targets.SqsQueue(
            queue,
            dead_letter_queue=dlq,
            retry_attempts=contract.DELIVERY_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(contract.DELIVERY_MAX_EVENT_AGE_HOURS),
        )
    )


def consume(
    function: lambda_.Function, queue: sqs.IQueue, path: contract.EventPath, max_concurrency: int | None = None
) -> None:
    """Buffer -> function, reporting partial batch failures (SQS retries only the failed messages);
    ``max_concurrency``: at most that many invocations at once (ScalingConfig.MaximumConcurrency)."""
    function.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=path.batch_size,
            max_concurrency=max_concurrency,
            max_batching_window=Duration.seconds(path.batching_window_seconds)
            if path.batching_window_seconds
            else None,
            report_batch_item_failures=True,
        )
    )
