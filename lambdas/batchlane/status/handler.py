"""Aggregator Lambda: SQS batch of AWS Batch events -> launch status (partial batch failures).

The whole batch is folded at once (one transaction per launch per batch); the BatchProcessor then
reports exactly the messages of the launches whose update failed, so SQS retries only those.
"Task Abort Requested" events arrive through their own buffer at the same ``handler``.
``reconcile`` is the scheduled reconciler's entry point (batchlane.status.reconcile).
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from batchlane.common.errors import TransientError
from batchlane.common.observability import PowertoolsCounter, logger, metrics, tracer
from batchlane.common.rate import backoff

# The service, its adapters, the reconciler and boto3 are imported where first used, not at import
# (tests/unit/test_cold_start.py): the handler's import is a cold start's fixed cost.
if TYPE_CHECKING:
    from batchlane.status.reconcile import Reconciler
    from batchlane.status.service import StatusService

# Report every failed record, even when all fail: SQS retries exactly those, then dead-letters them.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# A record whose update failed for a passing reason (a throttled or conflicting write, a launch record
# not visible yet) comes back after this back-off (seconds: base, cap) by its receive count, not after
# the buffer's visibility timeout (six function timeouts): a throttled backlog is retried within
# seconds, yet it spends maxReceiveCount slowly: 10 s doubling, capped at an hour, so within 10 receives
# the waits add up to at least 72 minutes (docs/status.md), never less than the hour ten 360 s
# visibility timeouts gave: a sustained throttle is not dead-lettered sooner than before.
RETRY_REDELIVERY = (10.0, 3600.0)


def retry_delay(receives: int) -> float:
    """Seconds until a record that failed for a passing reason on its ``receives``-th receipt is retried."""
    return backoff(receives, base=RETRY_REDELIVERY[0], cap=RETRY_REDELIVERY[1])


@cache
def runtime() -> StatusService:
    """Adapters built once per container (after any test mock); the launch cache lives here."""
    from batchlane.common.environment import AggregatorEnvironment
    from batchlane.common.events import EventBusAnnouncer
    from batchlane.common.settings_store import SsmSettingsSource
    from batchlane.routing.store import DynamoQueueHealth
    from batchlane.status.adapters.batch import BatchTerminator
    from batchlane.status.adapters.executions import ExecutionsStatusStore
    from batchlane.status.adapters.outputs import S3Outputs
    from batchlane.status.adapters.shards import ExecutionsShards
    from batchlane.status.service import StatusService

    env = AggregatorEnvironment.from_environ()
    return StatusService(
        store=ExecutionsStatusStore(env.executions_table, retention_seconds=env.retention_seconds),
        shards=ExecutionsShards(env.executions_table, retention_seconds=env.retention_seconds),
        jobs=BatchTerminator(),
        outputs=S3Outputs(),
        announcer=EventBusAnnouncer(env.event_bus),
        metrics=PowertoolsCounter(),
        log=logger,
        settings=SsmSettingsSource(env.settings_path, max_age=env.settings_max_age),
        data_bucket=env.data_bucket,
        launch_cache_size=env.launch_cache_size,
        progress_interval_seconds=env.progress_interval_seconds,
        progress_min_size=env.progress_min_size,
        health=DynamoQueueHealth(env.routing_table) if env.routing_table else None,
        unhealthy_seconds=env.unhealthy_seconds,
        claim_seconds=env.claim_seconds,
    )


@cache
def reconciler() -> Reconciler:
    from batchlane.common.environment import ReconcilerEnvironment
    from batchlane.status.adapters.batch import BatchJobReader
    from batchlane.status.adapters.executions import ExecutionsStatusStore
    from batchlane.status.reconcile import Reconciler

    service = runtime()
    store = service.store
    if not isinstance(store, ExecutionsStatusStore):
        raise TypeError("the reconciler reads the open-launches index of the executions table")  # runtime() made it
    env = ReconcilerEnvironment.from_environ()
    return Reconciler(
        store=store,
        index=store,
        batch=BatchJobReader(),
        service=service,
        metrics=service.metrics,
        log=logger,
        silent_seconds=env.silent_seconds,
        request_budget=env.reconcile_request_budget,
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    records = event.get("Records") or []
    failures = runtime().process((r.get("messageId", ""), r.get("body", "")) for r in records)

    def record_handler(record) -> None:
        failure = failures.get(record.message_id)
        if failure is None:
            return
        if isinstance(failure, TransientError) and record.receipt_handle and record.event_source_arn:
            _retry_soon(record)
        raise failure

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def _retry_soon(record) -> None:
    from batchlane.common import aws

    delay = math.ceil(retry_delay(int(record.attributes.approximate_receive_count or 1)))
    if aws.defer_message(record.event_source_arn, record.receipt_handle, delay):
        PowertoolsCounter().count("StatusRetryDeferred")
    else:
        logger.warning("could not set a failed status record's retry; it returns after the visibility timeout")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def reconcile(event, context):
    report = reconciler().run().as_dict()
    logger.info("reconciler run", extra=report)
    return report
