"""The event path every batchlane function sits on: rule -> SQS buffer (with DLQ) -> function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batchlane.deployment.config import FunctionConfig


def buffered_queue(scope: Construct, id: str, settings: FunctionConfig) -> tuple[sqs.Queue, sqs.Queue]:
    """An encrypted, TLS-only SQS buffer and its dead-letter queue, sized for a function."""
    dlq = sqs.Queue(
        scope, f"{id}DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    queue = sqs.Queue(
        scope, id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # AWS's advice: six times the function timeout, so a slow batch is not redelivered early.
        visibility_timeout=Duration.seconds(6 * settings.timeout_seconds),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=settings.max_receive_count, queue=dlq),
    )
    return queue, dlq


def deliver(rule: events.Rule, queue: sqs.IQueue, dlq: sqs.IQueue) -> None:
    """Rule -> buffer; delivery failures (EventBridge retries for 24 h) end in the same dead-letter queue."""
    rule.add_target(targets.SqsQueue(queue, dead_letter_queue=dlq, retry_attempts=185, max_event_age=Duration.hours(24)))


def consume(function: lambda_.Function, queue: sqs.IQueue, *, batch_size: int, batching_window_seconds: int = 0) -> None:
    """Buffer -> function, reporting partial batch failures (SQS retries only the failed messages)."""
    function.add_event_source(sources.SqsEventSource(
        queue,
        batch_size=batch_size,
        max_batching_window=Duration.seconds(batching_window_seconds) if batching_window_seconds else None,
        report_batch_item_failures=True,
    ))
