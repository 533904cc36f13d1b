"""Pydantic models of the AWS Batch events the status path consumes (no AWS calls).

* ``Batch Job State Change`` and ``Batch Job Queue Blocked`` (source ``aws.batch``) share one
  ``detail`` shape (a Batch ``JobDetail``). Only the fields the status path reads are modelled;
  every other field is ignored, and AWS may add fields at any time.
* Everything that is absent in some real event is optional: ``exitCode`` and ``logStreamName``
  (failures before the container ran, jobs that have not run yet), ``attempts``,
  ``arrayProperties``, ``container``, timestamps, ``account`` (EventBridge -> SQS under moto).
* :func:`parse_event` is the one entry point: a dict or a JSON string (an SQS body, a line of
  an archive / DLQ dump) in, a :class:`BatchJobEvent` out, or :class:`ForeignEvent` (well-formed
  but not ours: other source or detail-type) / :class:`MalformedEvent` (ours but unusable).
  Callers log and count both; neither should fail a batch.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SOURCE = "aws.batch"
STATE_CHANGE = "Batch Job State Change"
QUEUE_BLOCKED = "Batch Job Queue Blocked"
DETAIL_TYPES = (STATE_CHANGE, QUEUE_BLOCKED)


class ForeignEvent(ValueError):
    """A well-formed event that the status path does not handle (other source / detail-type)."""


class MalformedEvent(ValueError):
    """An ``aws.batch`` event whose detail cannot be read (missing job id or status, bad JSON)."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class AttemptContainer(_Lenient):
    exit_code: int | None = Field(None, alias="exitCode")
    reason: str | None = None
    log_stream_name: str | None = Field(None, alias="logStreamName")
    task_arn: str | None = Field(None, alias="taskArn")


class AttemptDetail(_Lenient):
    container: AttemptContainer | None = None
    started_at: int | None = Field(None, alias="startedAt")  # epoch ms; 0 = never started
    stopped_at: int | None = Field(None, alias="stoppedAt")
    status_reason: str | None = Field(None, alias="statusReason")


class LogConfiguration(_Lenient):
    log_driver: str | None = Field(None, alias="logDriver")
    options: dict[str, str] | None = None


class ContainerDetail(_Lenient):
    """The job's container section: the *current* (or last) attempt's view."""

    exit_code: int | None = Field(None, alias="exitCode")
    reason: str | None = None
    log_stream_name: str | None = Field(None, alias="logStreamName")
    task_arn: str | None = Field(None, alias="taskArn")
    log_configuration: LogConfiguration | None = Field(None, alias="logConfiguration")


class ArrayProperties(_Lenient):
    index: int | None = None  # set on a child of an array job
    size: int | None = None  # set on the parent of an array job
    status_summary: dict[str, int] | None = Field(None, alias="statusSummary")  # parent, may be stale
    status_summary_last_updated_at: int | None = Field(None, alias="statusSummaryLastUpdatedAt")


class RetryStrategy(_Lenient):
    attempts: int | None = None


class JobDetail(_Lenient):
    job_id: str = Field(alias="jobId")
    status: str
    job_arn: str | None = Field(None, alias="jobArn")
    job_name: str | None = Field(None, alias="jobName")
    job_queue: str | None = Field(None, alias="jobQueue")
    status_reason: str | None = Field(None, alias="statusReason")
    attempts: list[AttemptDetail] = Field(default_factory=list)
    created_at: int | None = Field(None, alias="createdAt")
    started_at: int | None = Field(None, alias="startedAt")
    stopped_at: int | None = Field(None, alias="stoppedAt")
    container: ContainerDetail | None = None
    array_properties: ArrayProperties | None = Field(None, alias="arrayProperties")
    retry_strategy: RetryStrategy | None = Field(None, alias="retryStrategy")
    job_definition: str | None = Field(None, alias="jobDefinition")
    tags: dict[str, str] | None = None

    @property
    def parent_job_id(self) -> str:
        """The job id of the launch: a child's ``<parent>:<index>`` id without ``:<index>``."""
        return self.job_id.split(":", 1)[0]

    @property
    def child_index(self) -> int | None:
        """The array index of a child: ``arrayProperties.index``, else the ``:<index>`` suffix of
        its job id (moto's children, and some DescribeJobs results, lack the former)."""
        ap = self.array_properties
        if ap is not None and ap.index is not None:
            return ap.index
        _, sep, tail = self.job_id.partition(":")
        return int(tail) if sep and tail.isdigit() else None

    @property
    def is_array_child(self) -> bool:
        return self.child_index is not None

    @property
    def is_array_parent(self) -> bool:
        return (not self.is_array_child and self.array_properties is not None
                and self.array_properties.size is not None)

    @property
    def log_group(self) -> str | None:
        """``awslogs-group`` of the job's own log configuration, if it sets one."""
        c = self.container
        if c is None or c.log_configuration is None or not c.log_configuration.options:
            return None
        return c.log_configuration.options.get("awslogs-group") or None


class BatchJobEvent(EventBridgeModel):
    """An EventBridge event from AWS Batch, ``detail`` typed. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    version: str = "0"
    account: str | None = None  # absent in bodies delivered by moto's EventBridge -> SQS
    detail_type: Literal["Batch Job State Change", "Batch Job Queue Blocked"] = Field(alias="detail-type")
    source: Literal["aws.batch"]
    detail: JobDetail

    @property
    def is_queue_blocked(self) -> bool:
        return self.detail_type == QUEUE_BLOCKED

    @property
    def partition(self) -> str:
        """ARN partition (``aws``, ``aws-cn``, ``aws-us-gov``) of the job; ``aws`` if unknown."""
        for arn in (self.detail.job_arn, self.detail.job_queue, *self.resources):
            if arn and arn.startswith("arn:"):
                parts = arn.split(":", 2)
                if len(parts) > 2 and parts[1]:
                    return parts[1]
        return "aws"


def parse_event(raw: str | bytes | dict[str, Any]) -> BatchJobEvent:
    """Parse one EventBridge event (dict or JSON text). Raises ForeignEvent / MalformedEvent."""
    try:
        if isinstance(raw, (str, bytes)):
            return BatchJobEvent.model_validate_json(raw)  # pydantic's own JSON parser: no dict detour
        return BatchJobEvent.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if any(e["loc"] and e["loc"][0] in ("source", "detail-type") for e in errors):
        data = raw if isinstance(raw, dict) else _loads_or_none(raw)
        data = data if isinstance(data, dict) else {}
        raise ForeignEvent(f"not handled by the status path: source={data.get('source')!r} "
                           f"detail-type={data.get('detail-type')!r}") from None
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in errors[:5])
    raise MalformedEvent(f"unusable Batch event: {problems}") from None


def _loads_or_none(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
