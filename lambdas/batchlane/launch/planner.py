"""Turn a validated, routed launch into the exact AWS calls to make (pure, no AWS)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.chunks import Chunks
from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, OPEN_TEAM, TEAM_TAG, Rerun, launch_key
from batchlane.common.host_gone import HOST_GONE_REASONS
from batchlane.common.inputs import (
    ENV_INDEX_OFFSET,
    ENV_INDEX_VAR_NAME,
    ENV_INPUTS_INDEX_URI,
    ENV_INPUTS_URI,
    INDEX_VARIABLE,
    write_jsonl,
)
from batchlane.common.secrets import granting, value_from
from batchlane.common.settings import Settings
from batchlane.common.tenancy import LaunchData, s3_uri
from batchlane.launch.models import LaunchRequest
from batchlane.launch.problems import Problem
from batchlane.launch.workload import definition_properties
from batchlane.routing import Decision, Needs
from batchlane.routing.engine import EC2

# What a container learns from its environment (documented in docs/launch-event.md).
ENV_LAUNCH_ID = "BATCHLANE_LAUNCH_ID"
ENV_INPUTS_FORMAT = "BATCHLANE_INPUTS_FORMAT"
ENV_OUTPUTS_URI = "BATCHLANE_OUTPUTS_URI"
ENV_ARRAY_SIZE = "BATCHLANE_ARRAY_SIZE"  # the whole map task's size (every chunk's children see the same)
# Flyte's convention (flytekit's entrypoint reads the index from the variable this one names), set for
# every job, Flyte task or not: a map's children then each compute their own element. A plain job has
# no AWS_BATCH_JOB_ARRAY_INDEX, so it is pointed at a fake one set to 0, as Flyte's aws_array plugin does.
FAKE_INDEX_VARIABLE = "BATCHLANE_FAKE_ARRAY_INDEX"
# With it, pyflyte-execute exits non-zero when the task raised (its error file written): a failed Flyte
# task is a FAILED Batch job, never a silent exit 0. Other images ignore it.
ENV_FAIL_ON_ERROR = "FLYTE_FAIL_ON_ERROR"


# Batch's evaluateOnExit for retryOn "infrastructure": retry when the host went away (an EC2 Spot
# reclaim or a terminated instance, a Fargate Spot interruption: batchlane.common.host_gone, the
# reasons the status path classes spot-reclaimed), end the job on anything else.
INFRASTRUCTURE_RETRY = (
    *({"onStatusReason": reason.glob, "action": "RETRY"} for reason in HOST_GONE_REASONS),
    {"onReason": "*", "action": "EXIT"},
)


def routing_needs(request: LaunchRequest) -> Needs:
    """What the job asks of its queue, from the validated request (routing never reads the raw
    detail: a value validation refuses, e.g. an infinite vCPU count, never reaches it)."""
    container = request.container
    resources = container.resources
    # Shared memory, tmpfs and ulimits exist on EC2 only, ephemeral storage on Fargate only: routed so.
    platform = container.platform or ("EC2" if container.needs_ec2 or request.nodes else None)
    platform = platform or ("FARGATE" if container.ephemeral_storage_gib else None)
    return Needs(
        platform=platform,
        vcpu=resources.vcpu,
        memory=resources.memory,
        gpu=resources.gpu,
        architecture=container.architecture,
        share=request.share_identifier is not None,
        nodes=request.nodes.count if request.nodes else 0,
    )


def _digest(value: Any, length: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class JobDefinitionSpec:
    """Everything that must live in a job definition: the role cannot be overridden at submit."""

    image: str
    job_role_arn: str
    platform: str
    execution_role_arn: str | None
    log_group: str
    secrets: tuple[tuple[str, str], ...] = ()  # (variable, valueFrom): a job definition's, never a submission's
    # Mounts and Linux parameters (batchlane.launch.workload.definition_properties): SubmitJob takes none.
    container_properties: dict[str, Any] = field(default_factory=dict, hash=False)
    nodes: tuple[int, int] | None = None  # a multi-node job's (numNodes, mainNode): every node runs the container

    @property
    def multi_node(self) -> bool:
        return self.nodes is not None

    @classmethod
    def secrets_of(cls, request: LaunchRequest) -> tuple[tuple[str, str], ...]:
        return tuple((name, value_from(ref)) for name, ref in sorted(request.container.secrets.items()))

    def _content(self) -> dict[str, Any]:
        container: dict[str, Any] = {
            "image": self.image,
            "jobRoleArn": self.job_role_arn,
            # Placeholders valid on every platform; each launch overrides them.
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": self.log_group}},
        }
        if self.execution_role_arn:
            container["executionRoleArn"] = self.execution_role_arn
        if self.secrets:
            container["secrets"] = [{"name": name, "valueFrom": source} for name, source in self.secrets]
        container.update(self.container_properties)
        if self.platform == "FARGATE":
            container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
            container["networkConfiguration"] = {"assignPublicIp": "DISABLED"}
        common = {"platformCapabilities": [self.platform], "propagateTags": True, "tags": {"batchlane:managed": "true"}}
        if self.nodes is not None:
            count, main = self.nodes
            nodes = {
                "numNodes": count,
                "mainNode": main,
                "nodeRangeProperties": [{"targetNodes": "0:", "container": container}],
            }
            return {"type": "multinode", "nodeProperties": nodes, **common}
        return {"type": "container", "containerProperties": container, **common}

    @property
    def name(self) -> str:
        # Derived from the content: found again after a cold start, never duplicated.
        return f"batchlane-{_digest(self._content(), 24)}"

    def register_request(self) -> dict[str, Any]:
        return {"jobDefinitionName": self.name, **self._content()}


def job_name(task: str, launch_id: str) -> str:
    """Deterministic per launch (it is how a crashed submission is found again)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", task).strip("-_")[:100] or "task"
    if not stem[0].isalnum():
        stem = "t" + stem
    return f"{stem}-{_digest(launch_id, 16)}"


def _tag_value(value: str) -> str:
    return re.sub(r"[^\w .:/=+@-]", "_", value)[:256]


@dataclass(frozen=True)
class LaunchPlan:
    request: LaunchRequest
    decision: Decision
    queue: str
    job_name: str
    definition: JobDefinitionSpec
    size: int
    attempts: int
    retry_on: str
    timeout_seconds: int
    inputs_uri: str
    outputs_uri: str
    inputs_key: str | None  # the JSON Lines object to write, None when the client uploaded the inputs
    inputs_body: bytes | None
    overrides: dict[str, Any]
    tags: dict[str, str]
    chunks: Chunks  # one chunk: an unchunked launch, submitted as it always was
    index_key: str | None = None  # inputs.idx beside inputs_key (map tasks)
    index_body: bytes | None = None
    depends_on: tuple[dict[str, str], ...] = ()  # the launches it waits for (batchlane.launch.dependencies)
    rerun_of: Rerun | None = None  # the launch whose children it reruns (batchlane.launch.reruns)
    team: str = OPEN_TEAM  # its producer's: the launch id is unique within it

    @property
    def launch_id(self) -> str:
        return self.request.launch_id

    @property
    def key(self) -> str:
        return launch_key(self.team, self.launch_id)

    @property
    def is_array(self) -> bool:
        return self.size > 1

    @property
    def retry_strategy(self) -> dict[str, Any]:
        strategy: dict[str, Any] = {"attempts": self.attempts}
        if self.retry_on == "infrastructure" and self.attempts > 1:
            strategy["evaluateOnExit"] = [dict(rule) for rule in INFRASTRUCTURE_RETRY]
        return strategy

    @property
    def chunked(self) -> bool:
        return self.chunks.chunked

    def submit_request(self, job_definition: str, queue: str | None = None) -> dict[str, Any]:
        """The SubmitJob request of an unchunked launch; of a chunked one, the template its chunks'
        requests are made from (kept on the launch record: a chunk due later is submitted from it)."""
        request: dict[str, Any] = {
            "jobName": self.job_name,
            "jobQueue": queue or self.queue,
            "jobDefinition": job_definition,
            "retryStrategy": self.retry_strategy,
            "timeout": {"attemptDurationSeconds": self.timeout_seconds},
            "tags": self.tags,
            "propagateTags": self.request.propagate_tags,
        }
        if self.definition.multi_node:  # every node gets the overrides (SubmitJob takes no containerOverrides)
            request["nodeOverrides"] = {
                "nodePropertyOverrides": [{"targetNodes": "0:", "containerOverrides": self.overrides}]
            }
        else:
            request["containerOverrides"] = self.overrides
        if self.is_array:
            request["arrayProperties"] = {"size": self.size}
        if self.request.share_identifier:
            request["shareIdentifier"] = self.request.share_identifier
        if self.request.scheduling_priority is not None:
            request["schedulingPriorityOverride"] = self.request.scheduling_priority
        if self.request.parameters:
            request["parameters"] = dict(self.request.parameters)
        if self.depends_on:
            request["dependsOn"] = [dict(d) for d in self.depends_on]
        return request


def _inputs_objects(request: LaunchRequest) -> tuple[bytes, bytes]:
    """inputs.jsonl and its index (batchlane.common.inputs), in one pass."""
    documents = request.inputs if request.inputs is not None else [request.input if request.input is not None else {}]
    lines, index = io.BytesIO(), io.BytesIO()
    write_jsonl(documents, lines, index)
    return lines.getvalue(), index.getvalue()


def _overrides_length(overrides: dict[str, Any]) -> int:
    return len(json.dumps(overrides, separators=(",", ":")))


def plan_launch(
    request: LaunchRequest,
    role_arn: str,
    decision: Decision,
    settings: Settings,
    bucket: str,
    *,
    team: str = OPEN_TEAM,
) -> tuple[LaunchPlan | None, list[Problem]]:
    """The Batch job a valid, routed request of ``team`` (its producer's) becomes; or the problem
    that stops it (overrides too long for ECS)."""
    assert decision.queue is not None
    inputs_key, inputs_uri, outputs_uri, index_key, index_uri = _data_locations(request, team, bucket)
    overrides = _container_overrides(request, inputs_uri, outputs_uri, index_uri)
    chunks = _chunks(request, settings)
    # ECS caps overrides at 8,192 characters and the job would FAIL late; refuse early instead. A chunk's
    # are longest at the largest offset (the last chunk; the one before it when the last is a plain job).
    longest = {chunks.count - 1, max(chunks.count - 2, 0)} if chunks.chunked else set()
    length = max(
        [_overrides_length(overrides)] + [_overrides_length(_chunk_overrides(overrides, chunks, c)) for c in longest]
    )
    if length > settings.limits.max_overrides_chars:
        return None, [
            Problem(
                field="container",
                message=f"command and environment take {length} characters once encoded; the limit is "
                f"{settings.limits.max_overrides_chars}: pass large values as inputs instead",
            )
        ]
    definition = _definition(request, role_arn, decision, settings)
    if definition is None:  # validation found a grant with the same settings: a defence only
        return None, [Problem(field="container.secrets", message="no secretsAllowed grant allows these secrets")]
    inputs_body, index_body = _inputs_objects(request) if inputs_key else (None, None)
    return LaunchPlan(
        request=request,
        team=team,
        decision=decision,
        queue=hinted_queue(decision, request.queue_hint),
        job_name=job_name(request.task, launch_key(team, request.launch_id)),
        definition=definition,
        size=request.size,
        attempts=request.retries + 1,
        retry_on=request.retry_on,
        timeout_seconds=request.timeout_seconds or settings.limits.default_timeout_seconds,
        inputs_uri=inputs_uri,
        outputs_uri=outputs_uri,
        inputs_key=inputs_key,
        inputs_body=inputs_body,
        overrides=overrides,
        tags=_job_tags(request, team),
        chunks=chunks,
        index_key=index_key,
        index_body=index_body if index_key else None,
    ), []


def _definition(
    request: LaunchRequest, role_arn: str, decision: Decision, settings: Settings
) -> JobDefinitionSpec | None:
    """The job definition; None when no grant allows the launch's secrets."""
    execution_role_arn = settings.execution_role_arn
    if request.container.secrets:
        grant = granting(settings.secrets_allowed, request.project, request.container.secrets.values())
        if grant is None:
            return None
        execution_role_arn = grant.execution_role_arn  # the one role that may read them
    # A launch that names no platform runs on its queue's.
    platform = request.container.platform or decision.platform or EC2
    return JobDefinitionSpec(
        image=request.container.image,
        job_role_arn=role_arn,
        platform=platform,
        execution_role_arn=execution_role_arn,
        log_group=settings.job_log_group,
        secrets=JobDefinitionSpec.secrets_of(request),
        container_properties=definition_properties(request, settings, platform),
        nodes=(request.nodes.count, request.nodes.main_node) if request.nodes else None,
    )


def _chunks(request: LaunchRequest, settings: Settings) -> Chunks:
    if request.size == 1:
        return Chunks.single(1)
    return Chunks.layout(request.size, settings.limits.max_array_size, request.max_concurrency)


def chunk_job_name(job_name: str, chunk: int) -> str:
    return f"{job_name}-c{chunk}"


def chunk_request(template: dict[str, Any], chunks: Chunks, chunk: int) -> dict[str, Any]:
    """The SubmitJob request of one chunk (docs/chunked-maps.md), from the launch's template
    (``LaunchPlan.submit_request``): its name ``-c<c>``, its own array size (a plain job for a chunk
    of one), the chunk tag, and its offset in the environment."""
    children = chunks.chunk_len(chunk)
    request = {
        **template,
        "jobName": chunk_job_name(template["jobName"], chunk),
        "containerOverrides": _chunk_overrides(template["containerOverrides"], chunks, chunk),
        "tags": {**template["tags"], CHUNK_TAG: str(chunk)},
    }
    request.pop("arrayProperties", None)
    if children > 1:
        request["arrayProperties"] = {"size": children}
    return request


def _chunk_overrides(overrides: dict[str, Any], chunks: Chunks, chunk: int) -> dict[str, Any]:
    """The launch's overrides for one chunk: its offset, and the index variables of an array or a plain job."""
    environment = {
        item["name"]: item["value"]
        for item in overrides["environment"]
        if item["name"] not in (ENV_INDEX_VAR_NAME, FAKE_INDEX_VARIABLE)
    }
    environment.update(_index_variables(chunks.chunk_len(chunk) > 1))
    environment[ENV_INDEX_OFFSET] = str(chunks.offset(chunk))
    return {**overrides, "environment": _environment_list(environment)}


def hinted_queue(decision: Decision, hint: str | None) -> str:
    """Routing's answer to the launch's queue hint (Decision.with_hint: the CLI explains the same)."""
    queue, _ = decision.with_hint(hint)
    if queue is None:  # plan_launch plans only a routed launch
        raise ValueError("routing chose no queue")
    return queue


def _data_locations(
    request: LaunchRequest, team: str, bucket: str
) -> tuple[str | None, str, str, str | None, str | None]:
    """The inputs object to write (None when the client uploaded them), the inputs URI, the
    children's outputs prefix (the launch's own keys: LaunchData, docs/security.md), the index
    object to write (a map task whose inputs the launcher writes) and the index URI a child reads
    (that one, or the client's ``inputsLocation.index``; None: no index)."""
    data = LaunchData(team, request.project, request.domain, request.launch_id)
    outputs_uri = s3_uri(bucket, data.children_prefix)
    if request.inputs_location:
        return None, request.inputs_location.uri, outputs_uri, None, request.inputs_location.index
    index_key = data.index_key if request.is_map else None
    index_uri = s3_uri(bucket, index_key) if index_key else None
    return data.inputs_key, s3_uri(bucket, data.inputs_key), outputs_uri, index_key, index_uri


def _environment_list(environment: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(environment.items())]


def _container_overrides(
    request: LaunchRequest, inputs_uri: str, outputs_uri: str, index_uri: str | None = None
) -> dict[str, Any]:
    container = request.container
    environment = {
        **container.environment,
        ENV_LAUNCH_ID: request.launch_id,
        ENV_INPUTS_URI: inputs_uri,
        ENV_INPUTS_FORMAT: "jsonl",
        ENV_OUTPUTS_URI: outputs_uri,
        ENV_ARRAY_SIZE: str(request.size),
        ENV_FAIL_ON_ERROR: "true",
        **_index_variables(request.size > 1),
        **({ENV_INPUTS_INDEX_URI: index_uri} if index_uri else {}),
    }
    resources = [
        {"type": "VCPU", "value": f"{container.resources.vcpu:g}"},
        {"type": "MEMORY", "value": str(container.resources.memory)},
    ]
    if container.resources.gpu:
        resources.append({"type": "GPU", "value": str(container.resources.gpu)})
    overrides: dict[str, Any] = {
        "environment": _environment_list(environment),
        "resourceRequirements": resources,
    }
    if container.command:
        overrides["command"] = list(container.command)
    return overrides


def _index_variables(is_array: bool) -> dict[str, str]:
    if is_array:
        return {ENV_INDEX_VAR_NAME: INDEX_VARIABLE}
    return {ENV_INDEX_VAR_NAME: FAKE_INDEX_VARIABLE, FAKE_INDEX_VARIABLE: "0"}


def _job_tags(request: LaunchRequest, team: str) -> dict[str, str]:
    return {
        **request.tags,
        # How the status path finds the launch of a job's events: together, its launch key.
        LAUNCH_TAG: request.launch_id,
        TEAM_TAG: team,
        "batchlane:project": _tag_value(request.project),
        "batchlane:domain": _tag_value(request.domain),
        "batchlane:workflow": _tag_value(request.workflow),
    }
