"""Launcher Lambda: SQS batch of "Task Launch Requested" events -> Batch jobs (partial failures)."""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from batchlane.common.event_types import CHUNK_DUE
from batchlane.common.observability import PowertoolsCounter, logger, metrics, tracer
from batchlane.common.rate import Throttled, backoff

# The service, its adapters and boto3 are imported by ``runtime()`` at the first invocation, not at
# import (tests/unit/test_cold_start.py): the handler's import is a cold start's fixed cost.
if TYPE_CHECKING:
    from batchlane.launch.service import LaunchService

# A launch throttled by Batch comes back after this back-off (seconds: base, cap) by its receive
# count, not after the visibility timeout: the budget it gives within maxReceiveCount is in
# docs/throughput.md. Stop submitting this long before the function's timeout.
THROTTLED_REDELIVERY = (15, 300)
DEADLINE_MARGIN_SECONDS = 5.0


def _report_malformed(problems: list[str]) -> None:
    logger.warning("skipping malformed routing items", extra={"problems": problems})
    PowertoolsCounter().count("RoutingItemMalformed", len(problems))


@cache
def runtime() -> LaunchService:
    """The service and its adapters, built once per container (after any test mock). Exactly-once
    is the launch record's job (docs/exactly-once.md), not an idempotency cache: every delivery,
    duplicates included, must be answered, and a rejected launch id may be sent again."""
    from batchlane.common.environment import LauncherEnvironment
    from batchlane.common.events import EventBusAnnouncer
    from batchlane.common.settings_store import SsmSettingsSource
    from batchlane.launch.adapters import BatchJobDefinitions, BatchJobs, ExecutionsLedger, S3InputStore
    from batchlane.launch.service import LaunchService
    from batchlane.routing.store import DynamoRoutingSource

    env = LauncherEnvironment.from_environ()
    service = LaunchService(
        settings=SsmSettingsSource(env.settings_path, max_age=env.settings_max_age),
        routing=DynamoRoutingSource(env.routing_table, on_malformed=_report_malformed),
        definitions=BatchJobDefinitions(),
        inputs=S3InputStore(env.data_bucket),
        jobs=BatchJobs(rate=env.submit_rate_per_container),
        ledger=ExecutionsLedger(env.executions_table, retention_seconds=env.retention_seconds),
        announcer=EventBusAnnouncer(env.event_bus),
        metrics=PowertoolsCounter(),
        bucket=env.data_bucket,
        lease_seconds=env.lease_seconds,
    )
    return service


def record_handler(record) -> dict:
    from batchlane.launch.envelope import launcher_event

    detail_type, detail, producer = launcher_event(record.body)
    try:
        if detail_type == CHUNK_DUE:
            result = runtime().handle_chunk_due(detail, producer)
        else:
            result = runtime().handle(detail, producer)
    except Throttled:
        from batchlane.common import aws

        # Nothing was submitted and the claim is released: retry after a back-off that grows with
        # the receive count, so a long throttle spends maxReceiveCount slowly.
        PowertoolsCounter().count("SubmitThrottled")
        delay = backoff(
            int(record.attributes.approximate_receive_count or 1),
            base=THROTTLED_REDELIVERY[0],
            cap=THROTTLED_REDELIVERY[1],
        )
        if not aws.defer_message(record.event_source_arn, record.receipt_handle, int(delay)):
            logger.warning("could not delay a throttled launch; it returns after the visibility timeout")
        raise
    logger.info("launch processed", extra=result)
    return result


def _submit_until(deadline: float) -> None:
    """The invocation's deadline for SubmitJob's waits, on the Batch adapter runtime() made."""
    from batchlane.launch.adapters import BatchJobs

    jobs = runtime().jobs
    if not isinstance(jobs, BatchJobs):
        raise TypeError("the launcher submits through BatchJobs")
    jobs.deadline = deadline


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    # Submissions wait for a rate slot, or retry a throttle, only while the invocation has time.
    _submit_until(time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS)
    # Report every failed record, even when all fail: SQS retries exactly those, then dead-letters
    # them. A processor per invocation: the sandbox runs invocations concurrently in one process.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
