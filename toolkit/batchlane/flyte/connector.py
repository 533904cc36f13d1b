"""The flytekit connector for ``aws-batch`` tasks, on top of batchlane's public events.

    pyflyte serve connector --port 8000 --modules batchlane.flyte.connector

FlytePropeller calls it over gRPC (CreateTask / GetTask / DeleteTask, flytekit's own
``AsyncConnectorService``); flytekit also runs it in-process for local executions. Importing this
module registers one connector per task type version (0: a task, 1: a map task) with flytekit's
``ConnectorRegistry``.

* ``create``: writes the inputs to ``<outputPrefix>/inputs.pb`` (where the rendered command reads
  them) and puts a "Task Launch Requested" event on batchlane's bus. Idempotent: the launch id is
  derived from the task execution attempt, so a repeated CreateTask launches nothing new.
* ``get``: one read (``BatchlaneClient.summary``: a single BatchGetItem, whatever the number of
  children): phase, message, log links named as Flyte names them; on success, the outputs
  pyflyte-execute wrote (``<outputPrefix>/0/outputs.pb``; per child for a map).
* ``delete``: a "Task Abort Requested" (batchlane stops the Batch job, children included).

Failures are permanent (``TaskExecution.FAILED``, never ``RETRYABLE_FAILED``): the retries a task
asks for are Batch's own (``retryStrategy``, with a log link per attempt), so propeller retrying on
top would multiply them (retries x retries) and hide the attempts from one launch's status. A
rejected launch is permanent too: the same template would be rejected again.

Configuration (environment of the connector's process): ``BATCHLANE_DEPLOYMENT`` (default
``dev``: bus ``batchlane-dev``, table ``batchlane-dev-executions``), ``BATCHLANE_FLYTE_ROLE_ANNOTATION``
(default ``eks.amazonaws.com/role-arn``, Flyte's ``roleAnnotationKey``), ``BATCHLANE_TEAM`` (default
``flyte``: the team owning the source ``flyte.connector``, within which launch ids are unique); AWS
as for any boto3 client (its role: the managed policy ``batchlane-<name>-flyte-connector``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from flyteidl.core import literals_pb2
from flyteidl.core.execution_pb2 import TaskExecution, TaskLog
from flytekit.extend.backend.base_connector import AsyncConnectorBase, ConnectorRegistry, Resource, ResourceMeta
from flytekit.models.literals import LiteralMap
from flytekit.models.task import TaskExecutionMetadata, TaskTemplate

from batchlane.client.api import BatchlaneClient
from batchlane.client.status import LaunchSummary
from batchlane.flyte.launch import DEFAULT_ROLE_ANNOTATION, launch_detail

TASK_TYPE = "aws-batch"
EVENT_SOURCE = "flyte.connector"
DEFAULT_TEAM = "flyte"  # the team owning EVENT_SOURCE in config/dev.yaml
ABORT_REASON = "aborted by Flyte (DeleteTask)"

# batchlane's phase -> Flyte's task execution phase (failures permanent: see the module docstring).
FLYTE_PHASES = {
    "unknown": TaskExecution.QUEUED,
    "submitting": TaskExecution.QUEUED,
    "submitted": TaskExecution.QUEUED,
    "queued": TaskExecution.QUEUED,
    "running": TaskExecution.RUNNING,
    "succeeded": TaskExecution.SUCCEEDED,
    "failed": TaskExecution.FAILED,
    "rejected": TaskExecution.FAILED,
    "aborted": TaskExecution.ABORTED,
}


@dataclass
class BatchlaneMetadata(ResourceMeta):
    """All ``get`` and ``delete`` need: the launch, where its outputs are, and the deployment."""

    launch_id: str
    output_prefix: str
    size: int  # > 1: a whole map as one array job (its outputs are gathered per child)
    bus_name: str
    executions_table: str


def deployment_names() -> tuple[str, str]:
    prefix = f"batchlane-{os.environ.get('BATCHLANE_DEPLOYMENT', 'dev')}"
    return prefix, f"{prefix}-executions"


def _client(bus_name: str, executions_table: str) -> BatchlaneClient:
    import boto3

    # A launch id is unique within the team of the connector's source: BATCHLANE_TEAM names that team
    # (the deployment's teams are not known here).
    return BatchlaneClient(
        boto3.session.Session().client,
        bus_name=bus_name,
        executions_table=executions_table,
        team=os.environ.get("BATCHLANE_TEAM", DEFAULT_TEAM),
    )


def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class BatchlaneConnector(AsyncConnectorBase):
    name = "batchlane AWS Batch connector"

    def __init__(self, task_type_version: int = 0) -> None:
        super().__init__(task_type_name=TASK_TYPE, task_type_version=task_type_version, metadata_type=BatchlaneMetadata)

    def create(
        self,
        task_template: TaskTemplate,
        output_prefix: str,
        inputs: LiteralMap | None = None,
        task_execution_metadata: TaskExecutionMetadata | None = None,
        **kwargs,
    ) -> BatchlaneMetadata:
        output_prefix = output_prefix.rstrip("/")
        annotation = os.environ.get("BATCHLANE_FLYTE_ROLE_ANNOTATION", DEFAULT_ROLE_ANNOTATION)
        launch = launch_detail(
            task_template, output_prefix, inputs, task_execution_metadata, role_annotation_key=annotation
        )
        bus_name, table = deployment_names()
        client = _client(bus_name, table)
        bucket, key = _s3_location(f"{output_prefix}/inputs.pb")
        body = (inputs or LiteralMap({})).to_flyte_idl().SerializeToString()
        client.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        client.put_launch(launch.detail, EVENT_SOURCE)
        return BatchlaneMetadata(
            launch_id=launch.detail["launchId"],
            output_prefix=output_prefix,
            size=launch.size,
            bus_name=bus_name,
            executions_table=table,
        )

    def get(self, resource_meta: BatchlaneMetadata, **kwargs) -> Resource:
        client = _client(resource_meta.bus_name, resource_meta.executions_table)
        summary = client.summary(resource_meta.launch_id)
        phase = FLYTE_PHASES.get(summary.phase, TaskExecution.QUEUED)
        outputs = _outputs(client, resource_meta) if phase == TaskExecution.SUCCEEDED else None
        return Resource(
            phase=phase,
            message=_message(summary),
            log_links=_log_links(summary),
            outputs=outputs,
            custom_info={
                "launchId": summary.launch_id,
                "jobId": summary.job_id,
                "queue": summary.queue,
                "counts": summary.counts,
            },
        )

    def delete(self, resource_meta: BatchlaneMetadata, **kwargs) -> None:
        client = _client(resource_meta.bus_name, resource_meta.executions_table)
        client.put_abort(resource_meta.launch_id, ABORT_REASON, EVENT_SOURCE)


def _message(summary: LaunchSummary) -> str:
    # A failed launch shows Flyte's array error format ("[0-1][3]: ...") from batchlane's summary.
    return summary.error if summary.phase == "failed" and summary.error else summary.message


def _log_links(summary: LaunchSummary) -> list[TaskLog]:
    return [TaskLog(name=link["name"], uri=link["url"], message_format=TaskLog.UNKNOWN) for link in summary.links]


def _read_literal_map(s3, uri: str) -> LiteralMap | None:
    bucket, key = _s3_location(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    message = literals_pb2.LiteralMap()
    message.ParseFromString(body)
    return LiteralMap.from_flyte_idl(message)


def _outputs(client: BatchlaneClient, meta: BatchlaneMetadata) -> LiteralMap | None:
    """What pyflyte-execute wrote: ``<prefix>/0/outputs.pb`` for one job (its command says ``/0``,
    as Flyte's aws_array plugin expects); for a whole map, child i's under ``<prefix>/<i>``,
    gathered into one list per output (Flyte's map-task output)."""
    s3 = client.client("s3")
    if meta.size == 1:
        return _read_literal_map(s3, f"{meta.output_prefix}/0/outputs.pb")
    read = [_read_literal_map(s3, f"{meta.output_prefix}/{i}/outputs.pb") for i in range(meta.size)]
    children = [child for child in read if child is not None]
    if len(children) < len(read):
        return None  # nothing to gather (a task without outputs): propeller reads its output prefix
    names = children[0].literals.keys()
    collections = {
        name: literals_pb2.Literal(
            collection=literals_pb2.LiteralCollection(
                literals=[child.literals[name].to_flyte_idl() for child in children]
            )
        )
        for name in names
    }
    return LiteralMap.from_flyte_idl(literals_pb2.LiteralMap(literals=collections))


for _version in (0, 1):  # propeller sends both: 0 for a task, 1 for a map's sub-task (once per element)
    ConnectorRegistry.register(BatchlaneConnector(task_type_version=_version), override=True)
