"""Aggregator Lambda: SQS batch of AWS Batch events -> launch status (partial batch failures).

The whole batch is folded at once (one transaction per launch per batch); the BatchProcessor then
reports exactly the messages of the launches whose update failed, so SQS retries only those.
"""

from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from batchlane.common.events import EventBusAnnouncer
from batchlane.common.observability import PowertoolsCounter, logger, metrics, tracer
from batchlane.status.adapters import BatchTerminator, DynamoStatusStore, S3Outputs
from batchlane.status.service import StatusService

# Report every failed record, even when all fail: SQS retries exactly those, then dead-letters them.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def runtime() -> StatusService:
    """Adapters built once per container (after any test mock); the launch cache lives here."""
    env = os.environ
    return StatusService(
        store=DynamoStatusStore(env["EXECUTIONS_TABLE"]),
        jobs=BatchTerminator(),
        outputs=S3Outputs(),
        announcer=EventBusAnnouncer(env["EVENT_BUS"]),
        metrics=PowertoolsCounter(),
        log=logger,
        launch_cache_size=int(env.get("LAUNCH_CACHE_SIZE", "4096")),
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    records = event.get("Records") or []
    failures = runtime().process((r.get("messageId", ""), r.get("body", "")) for r in records)

    def record_handler(record) -> None:
        failure = failures.get(record.message_id)
        if failure is not None:
            raise failure

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
