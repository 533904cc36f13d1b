"""Launcher Lambda: SQS batch of "Task Launch Requested" events -> Batch jobs (partial failures)."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from batchlane.common.environment import LauncherEnvironment
from batchlane.common.events import EventBusAnnouncer
from batchlane.common.observability import PowertoolsCounter, logger, metrics, tracer
from batchlane.common.settings_store import SsmSettingsSource
from batchlane.launch.adapters import BatchJobDefinitions, BatchJobs, DynamoLedger, S3InputStore
from batchlane import CHUNK_DUE
from batchlane.launch.envelope import launcher_event
from batchlane.launch.service import LaunchService
from batchlane.routing.store import DynamoRoutingSource

# Report every failed record, even when all fail: SQS retries exactly those, then dead-letters them.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _report_malformed(problems: list[str]) -> None:
    logger.warning("skipping malformed routing items", extra={"problems": problems})
    PowertoolsCounter().count("RoutingItemMalformed", len(problems))


@cache
def runtime() -> LaunchService:
    """The service and its adapters, built once per container (after any test mock). Exactly-once
    is the launch record's job (docs/exactly-once.md), not an idempotency cache: every delivery,
    duplicates included, must be answered, and a rejected launch id may be sent again."""
    env = LauncherEnvironment.from_environ()
    service = LaunchService(
        settings=SsmSettingsSource(env.settings_path, max_age=env.settings_max_age),
        routing=DynamoRoutingSource(env.routing_table, on_malformed=_report_malformed),
        definitions=BatchJobDefinitions(),
        inputs=S3InputStore(env.data_bucket),
        jobs=BatchJobs(),
        ledger=DynamoLedger(env.executions_table, retention_seconds=env.retention_seconds),
        announcer=EventBusAnnouncer(env.event_bus),
        metrics=PowertoolsCounter(),
        bucket=env.data_bucket,
        lease_seconds=env.lease_seconds,
    )
    return service


def record_handler(record) -> dict:
    detail_type, detail, producer = launcher_event(record.body)
    if detail_type == CHUNK_DUE:
        result = runtime().handle_chunk_due(detail, producer)
    else:
        result = runtime().handle(detail, producer)
    logger.info("launch processed", extra=result)
    return result


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
