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
* Every value is bounded at parse (docs/status.md, "Limits on event values"), so that no value
  can make a write fail for ever (DynamoDB's 400 KB items and 38-digit numbers, EventBridge's
  256 KB events): numbers are JSON integers within their range, else the event is malformed;
  the strings that are stored or shown are cut to a fixed length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints, ValidationError

from batchlane.common.eventbridge import EventBridgeEvent

SOURCE = "aws.batch"
STATE_CHANGE = "Batch Job State Change"
QUEUE_BLOCKED = "Batch Job Queue Blocked"
DETAIL_TYPES = (STATE_CHANGE, QUEUE_BLOCKED)

JobStatus = Literal["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]

# Limits on event values (docs/status.md). Real Batch events are far inside every one of them.
MAX_TEXT = 1024  # characters kept of a reason and of the other strings that are stored or shown
MAX_LOG_NAME = 512  # characters kept of a log stream / log group name (CloudWatch's own maximum)
MAX_ARRAY_SIZE = 10_000  # Batch's maximum array size; children are 0..size-1
MAX_INDEX = MAX_ARRAY_SIZE - 1
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MIN_EXIT_CODE, MAX_EXIT_CODE = -(2**31), 2**32 - 1  # signed and unsigned 32-bit codes both fit
MAX_RETRY_ATTEMPTS = 10  # retryStrategy.attempts is 1..10
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256  # AWS's tag limits; not cut: the launch tag is a lookup key


class ForeignEvent(ValueError):
    """A well-formed event that the status path does not handle (other source / detail-type)."""


class MalformedEvent(ValueError):
    """An ``aws.batch`` event whose detail cannot be read (missing job id or status, bad JSON)."""


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


Text = Annotated[str, AfterValidator(lambda s: truncate(s, MAX_TEXT))]
LogName = Annotated[str, AfterValidator(lambda s: truncate(s, MAX_LOG_NAME))]
# Strict integers: a JSON integer, not "1", 1.0, true or NaN; bounded so that DynamoDB can store them.
EpochMs = Annotated[int, Strict(), Field(ge=0, le=MAX_EPOCH_MS)]
ExitCode = Annotated[int, Strict(), Field(ge=MIN_EXIT_CODE, le=MAX_EXIT_CODE)]
ArrayIndex = Annotated[int, Strict(), Field(ge=0, le=MAX_INDEX)]
ArraySize = Annotated[int, Strict(), Field(ge=2, le=MAX_ARRAY_SIZE)]
ChildCount = Annotated[int, Strict(), Field(ge=0, le=MAX_ARRAY_SIZE)]
RetryAttempts = Annotated[int, Strict(), Field(ge=1, le=MAX_RETRY_ATTEMPTS)]
TagKey = Annotated[str, StringConstraints(max_length=MAX_TAG_KEY)]
TagValue = Annotated[str, StringConstraints(max_length=MAX_TAG_VALUE)]

# A Batch job id: "<id>", or "<id>:<index>" for a child of an array job ("<id>#<node>" for a node
# of a multi-node job). The index is ASCII digits 0..MAX_INDEX: str.isdigit() would take "²" and "٣".
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_#.-]{0,127}(?::(?:0|[1-9][0-9]{0,3}))?$"
JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]
_PARTITION = re.compile(r"aws(?:-[a-z]+){0,3}")  # aws, aws-cn, aws-us-gov, aws-iso-b, ...


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class AttemptContainer(_Lenient):
    exit_code: ExitCode | None = Field(None, alias="exitCode")
    reason: Text | None = None
    log_stream_name: LogName | None = Field(None, alias="logStreamName")
    task_arn: str | None = Field(None, alias="taskArn")


class AttemptDetail(_Lenient):
    container: AttemptContainer | None = None
    started_at: EpochMs | None = Field(None, alias="startedAt")  # epoch ms; 0 = never started
    stopped_at: EpochMs | None = Field(None, alias="stoppedAt")
    status_reason: Text | None = Field(None, alias="statusReason")


class LogConfiguration(_Lenient):
    log_driver: str | None = Field(None, alias="logDriver")
    options: dict[str, str] | None = None


class ContainerDetail(_Lenient):
    """The job's container section: the *current* (or last) attempt's view."""

    exit_code: ExitCode | None = Field(None, alias="exitCode")
    reason: Text | None = None
    log_stream_name: LogName | None = Field(None, alias="logStreamName")
    task_arn: str | None = Field(None, alias="taskArn")
    log_configuration: LogConfiguration | None = Field(None, alias="logConfiguration")


class ArrayProperties(_Lenient):
    index: ArrayIndex | None = None  # set on a child of an array job
    size: ArraySize | None = None  # set on the parent of an array job
    status_summary: dict[JobStatus, ChildCount] | None = Field(None, alias="statusSummary")  # parent, may be stale
    status_summary_last_updated_at: EpochMs | None = Field(None, alias="statusSummaryLastUpdatedAt")


class NodeDetails(_Lenient):
    """A node of a multi-node job (its job id ``<id>#<node>``)."""

    node_index: ArrayIndex | None = Field(None, alias="nodeIndex")
    is_main_node: bool | None = Field(None, alias="isMainNode")


class NodeProperties(_Lenient):
    """A multi-node job itself: its nodes and main node (the main node's end is the job's)."""

    num_nodes: ChildCount | None = Field(None, alias="numNodes")
    main_node: ArrayIndex | None = Field(None, alias="mainNode")


class RetryStrategy(_Lenient):
    attempts: RetryAttempts | None = None


class JobDetail(_Lenient):
    job_id: JobId = Field(alias="jobId")
    status: JobStatus
    # Strings never stored or shown (ARNs, names) are only typed: the event's size bounds them.
    job_arn: str | None = Field(None, alias="jobArn")
    job_name: str | None = Field(None, alias="jobName")
    job_queue: Text | None = Field(None, alias="jobQueue")  # its name is a metric dimension
    status_reason: Text | None = Field(None, alias="statusReason")
    attempts: list[AttemptDetail] = Field(default_factory=list)  # the fold keeps the first 10 (Batch's maximum)
    created_at: EpochMs | None = Field(None, alias="createdAt")
    started_at: EpochMs | None = Field(None, alias="startedAt")
    stopped_at: EpochMs | None = Field(None, alias="stoppedAt")
    container: ContainerDetail | None = None
    array_properties: ArrayProperties | None = Field(None, alias="arrayProperties")
    node_details: NodeDetails | None = Field(None, alias="nodeDetails")
    node_properties: NodeProperties | None = Field(None, alias="nodeProperties")
    retry_strategy: RetryStrategy | None = Field(None, alias="retryStrategy")
    job_definition: str | None = Field(None, alias="jobDefinition")
    tags: dict[TagKey, TagValue] | None = None

    @property
    def parent_job_id(self) -> str:
        """The job id of the launch: a child's ``<parent>:<index>`` (a node's ``<parent>#<node>``) id
        without its suffix."""
        return self.job_id.split(":", 1)[0].split("#", 1)[0]

    @property
    def child_index(self) -> int | None:
        """The array index of a child: ``arrayProperties.index``, else the ``:<index>`` suffix of
        its job id (moto's children, and some DescribeJobs results, lack the former); a node's index
        (``nodeDetails.nodeIndex``, else its ``#<node>`` suffix) in a multi-node job: its nodes are its children."""
        ap, node = self.array_properties, self.node_details
        if ap is not None and ap.index is not None:
            return ap.index
        if node is not None and node.node_index is not None:
            return node.node_index
        _, sep, index = self.job_id.partition(":")
        if sep:
            return int(index)  # JobId: ASCII digits 0..MAX_INDEX
        _, sep, index = self.job_id.partition("#")
        return int(index) if sep and index.isascii() and index.isdigit() and int(index) <= MAX_INDEX else None

    @property
    def is_array_child(self) -> bool:
        return self.child_index is not None

    @property
    def is_array_parent(self) -> bool:
        """An array's parent, or a multi-node job itself: the job whose children its events are not."""
        if self.is_array_child:
            return False
        array, nodes = self.array_properties, self.node_properties
        return (array is not None and array.size is not None) or (nodes is not None and nodes.num_nodes is not None)

    @property
    def log_group(self) -> str | None:
        """``awslogs-group`` of the job's own log configuration, if it sets one."""
        c = self.container
        if c is None or c.log_configuration is None or not c.log_configuration.options:
            return None
        group = c.log_configuration.options.get("awslogs-group")
        return truncate(group, MAX_LOG_NAME) if group else None


class BatchJobEvent(EventBridgeEvent):
    """An EventBridge event from AWS Batch, ``detail`` typed. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    version: str = "0"
    region: Text
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
                if len(parts) > 2 and _PARTITION.fullmatch(parts[1]):
                    return parts[1]
        return "aws"


def parse_event(raw: str | bytes | Mapping[str, Any]) -> BatchJobEvent:
    """Parse one EventBridge event (dict or JSON text). Raises ForeignEvent / MalformedEvent."""
    try:
        if isinstance(raw, (str, bytes)):
            return BatchJobEvent.model_validate_json(raw)  # pydantic's own JSON parser: no dict detour
        return BatchJobEvent.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if any(e["loc"] and e["loc"][0] in ("source", "detail-type") for e in errors):
        data = raw if isinstance(raw, Mapping) else _loads_or_none(raw)
        data = data if isinstance(data, dict) else {}
        raise ForeignEvent(
            f"not handled by the status path: source={data.get('source')!r:.100} "
            f"detail-type={data.get('detail-type')!r:.100}"
        ) from None
    # loc may hold a key of the event (a tag's): cut, so that the reason stays a short log line
    problems = "; ".join(f"{'.'.join(str(p)[:64] for p in e['loc']) or 'event'}: {e['msg']}" for e in errors[:5])
    raise MalformedEvent(f"unusable Batch event: {problems}") from None


def _loads_or_none(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
