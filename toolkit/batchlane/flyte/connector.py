"""The flytekit connector for ``aws-batch`` and ``container_array`` tasks, on top of batchlane's public events.

    pyflyte serve connector --port 8000 --modules batchlane.flyte.connector

FlytePropeller calls it over gRPC (CreateTask / GetTask / DeleteTask, flytekit's own
``AsyncConnectorService``); flytekit also runs it in-process for local executions. Importing this
module registers one connector per task type and version with flytekit's ``ConnectorRegistry``:
``aws-batch`` 0 (a task) and 1 (an ArrayNode's element, called once per element), and
``container_array`` 1 (flytekit's legacy map task: one array job per map, the seed's mapping).

* ``create``: writes the inputs CreateTask carries to ``<outputPrefix>/inputs.pb`` (where the
  job's command reads them) and puts a "Task Launch Requested" event on batchlane's bus.
  Idempotent: the launch id is derived from the attempt's output prefix, so a repeated CreateTask
  launches nothing new.
* ``get``: one read (``BatchlaneClient.summary``: a single BatchGetItem, whatever the number of
  children): phase, message, log links named as Flyte names them; on success the outputs are left in
  ``<outputPrefix>/outputs.pb`` for propeller to read (``batchlane.flyte.outputs``); on failure the
  message carries the user's exception (``error.pb``).
* ``delete``: a "Task Abort Requested" (batchlane stops the Batch job, children included).

Failures are permanent (``TaskExecution.FAILED``, never ``RETRYABLE_FAILED``): the retries a task
asks for are Batch's own (``retryStrategy``, with a log link per attempt), so propeller retrying on
top would multiply them (retries x retries) and hide the attempts from one launch's status. A
rejected launch is permanent too: the same template would be rejected again. A launch batchlane has
no record of ``BATCHLANE_FLYTE_UNKNOWN_SECONDS`` (default 300) after CreateTask failed to arrive:
it fails, saying so.

Configuration (environment of the connector's process): ``BATCHLANE_DEPLOYMENT`` (default
``dev``: bus ``batchlane-dev``, table ``batchlane-dev-executions``), ``BATCHLANE_FLYTE_ROLE_ANNOTATIONS``
(comma-separated, default ``eks.amazonaws.com/role-arn,iam.amazonaws.com/role``, FlyteAdmin's
``roleNameKey`` values), ``BATCHLANE_TEAM`` (default ``flyte``: the team owning the source
``flyte.connector``, within which launch ids are unique); AWS as for any boto3 client (its role: the
producer policy of its team, ``batchlane-<name>-<region>-producer-flyte``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flyteidl.core.execution_pb2 import TaskExecution, TaskLog
from flytekit.extend.backend.base_connector import AsyncConnectorBase, ConnectorRegistry, Resource, ResourceMeta
from flytekit.models.literals import LiteralMap
from flytekit.models.task import TaskExecutionMetadata, TaskTemplate

from batchlane.client.api import BatchlaneClient
from batchlane.client.status import LaunchSummary, read_children
from batchlane.deployment.contract import FLYTE_CONNECTOR_SOURCE
from batchlane.flyte import outputs
from batchlane.flyte.execution import DEFAULT_ROLE_ANNOTATIONS
from batchlane.flyte.launch import ARRAY_TASK_TYPE, inputs_uri, launch_detail

TASK_TYPE = "aws-batch"
TASK_TYPES = ((TASK_TYPE, 0), (TASK_TYPE, 1), (ARRAY_TASK_TYPE, 1))  # (type, version) served
EVENT_SOURCE = FLYTE_CONNECTOR_SOURCE
DEFAULT_TEAM = "flyte"  # the team owning EVENT_SOURCE in config/dev.yaml
ABORT_REASON = "aborted by Flyte (DeleteTask)"
UNKNOWN_SECONDS = 300.0  # a launch still unknown this long after CreateTask never reached batchlane
ERRORS_SHOWN = 5  # a map's failed children whose exception the message quotes
LINKED_CHILDREN = 100  # a map's children whose attempts get log links (one page: one Query)

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
    size: int  # children of a container_array task (its outputs are gathered per child), else 1
    bus_name: str
    executions_table: str
    is_array: bool = False
    output_names: tuple[str, ...] = ()  # the task's outputs (a map's gathered lists)
    created_at: float | None = None  # epoch seconds of CreateTask (the unknown-launch deadline)


def deployment_names() -> tuple[str, str]:
    prefix = f"batchlane-{os.environ.get('BATCHLANE_DEPLOYMENT', 'dev')}"
    return prefix, f"{prefix}-executions"


def role_annotation_keys() -> tuple[str, ...]:
    configured = os.environ.get("BATCHLANE_FLYTE_ROLE_ANNOTATIONS", "")
    return tuple(k.strip() for k in configured.split(",") if k.strip()) or DEFAULT_ROLE_ANNOTATIONS


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


class BatchlaneConnector(AsyncConnectorBase):
    name = "batchlane AWS Batch connector"

    def __init__(self, task_type_version: int = 0, task_type: str = TASK_TYPE) -> None:
        super().__init__(task_type_name=task_type, task_type_version=task_type_version, metadata_type=BatchlaneMetadata)

    def create(
        self,
        task_template: TaskTemplate,
        output_prefix: str,
        inputs: LiteralMap | None = None,
        task_execution_metadata: TaskExecutionMetadata | None = None,
        **kwargs,
    ) -> BatchlaneMetadata:
        output_prefix = output_prefix.rstrip("/")
        launch = launch_detail(
            task_template, output_prefix, inputs, task_execution_metadata, role_annotation_keys=role_annotation_keys()
        )
        bus_name, table = deployment_names()
        client = _client(bus_name, table)
        bucket, key = outputs.s3_location(inputs_uri(output_prefix))
        body = (inputs or LiteralMap({})).to_flyte_idl().SerializeToString()
        client.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        client.put_launch(launch.detail, EVENT_SOURCE)
        interface = task_template.interface
        return BatchlaneMetadata(
            launch_id=launch.detail["launchId"],
            output_prefix=output_prefix,
            size=launch.size,
            bus_name=bus_name,
            executions_table=table,
            is_array=launch.is_array,
            output_names=tuple(interface.outputs) if interface is not None else (),
            created_at=time.time(),
        )

    def get(self, resource_meta: BatchlaneMetadata, **kwargs) -> Resource:
        client = _client(resource_meta.bus_name, resource_meta.executions_table)
        summary = client.summary(resource_meta.launch_id)
        phase = FLYTE_PHASES.get(summary.phase, TaskExecution.QUEUED)
        message = summary.error if summary.phase == "failed" and summary.error else summary.message
        if summary.phase == "unknown" and _overdue(resource_meta):
            phase, message = TaskExecution.FAILED, _never_arrived(resource_meta)
        elif phase == TaskExecution.SUCCEEDED:
            outputs.leave_outputs(
                client.client("s3"),
                resource_meta.output_prefix,
                resource_meta.size,
                resource_meta.is_array,
                list(resource_meta.output_names),
            )
        elif summary.phase == "failed":
            message = "\n".join([message, *_user_errors(client, resource_meta, summary)])
        return Resource(
            phase=phase,
            message=message,
            log_links=_log_links(client, resource_meta, summary),
            outputs=None,  # left in <outputPrefix>/outputs.pb: propeller reads them there
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


def _overdue(meta: BatchlaneMetadata) -> bool:
    deadline = float(os.environ.get("BATCHLANE_FLYTE_UNKNOWN_SECONDS", UNKNOWN_SECONDS))
    return meta.created_at is not None and time.time() - meta.created_at > deadline


def _never_arrived(meta: BatchlaneMetadata) -> str:
    bus, _ = deployment_names()
    return (
        f"batchlane has no record of launch {meta.launch_id} after CreateTask: its event never reached "
        f"batchlane (is the connector's source flyte.connector a team's source, and the bus {bus}?)"
    )


def _user_errors(client: BatchlaneClient, meta: BatchlaneMetadata, summary: LaunchSummary) -> list[str]:
    """The users' exceptions (``error.pb``): the job's, or the first failed children's, ``[i]: ...``."""
    s3 = client.client("s3")
    if not meta.is_array:
        error = outputs.user_error(s3, outputs.child_prefix(meta.output_prefix, 0))
        return [error] if error else []
    failed = client.failed_children(meta.launch_id, limit=ERRORS_SHOWN, summary=summary).children
    errors = [
        (c["index"], outputs.user_error(s3, outputs.child_prefix(meta.output_prefix, c["index"]))) for c in failed
    ]
    return [f"[{index}]: {error}" for index, error in errors if error]


def _log_links(client: BatchlaneClient, meta: BatchlaneMetadata, summary: LaunchSummary) -> list[TaskLog]:
    """The job's links; for a map (whose summary links only the job), every attempt of its first
    children too, named ``AWS Batch #<index>-<attempt> (<phase>)`` as Flyte names them: one more read."""
    links = list(summary.links)
    if meta.is_array and summary.job_id:
        page = read_children(client.executions, meta.launch_id, limit=LINKED_CHILDREN, record=summary.record)
        links += [link for child in page.children for link in child["logs"]]
    return [TaskLog(name=link["name"], uri=link["url"], message_format=TaskLog.UNKNOWN) for link in links]


for _type, _version in TASK_TYPES:
    ConnectorRegistry.register(BatchlaneConnector(task_type_version=_version, task_type=_type), override=True)
