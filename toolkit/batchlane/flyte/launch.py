"""A Flyte ``aws-batch`` task template, rendered, as a batchlane "Task Launch Requested" detail.

What comes from where (docs/flyte.md):

* image, command + args (with Flyte's ``{{.input}}``/``{{.outputPrefix}}``/... placeholders rendered
  by flytekit's own ``render_task_template``), env: ``template.container``;
* resources: the container's requests and limits (``batchlane.flyte.resources``);
* retries, timeout: ``template.metadata``;
* ``AWSBatchConfig`` (``template.custom``): ``schedulingPriority``, ``parameters``,
  ``propagateTags``, ``tags``, ``platformCapabilities`` (also in ``template.config``);
* secrets: the security context's ``secret_requests`` (``batchlane.flyte.launch.secret_references``);
* the role: the security context's ``run_as.iam_role``, else the execution's annotation
  ``roleAnnotationKey`` (Flyte's default ``eks.amazonaws.com/role-arn``);
* project, domain: the execution id; workflow: the label ``batchlane.io/workflow`` when the
  execution carries it, else the execution name (the connector API does not carry the workflow's name);
* FlyteAdmin's queue: ``template.container.config["child_queue"]`` (or ``dynamic_queue``), sent as
  ``queueHint``.

A map over an aws-batch task (task type version 1, ``pyflyte-execute``) reaches the connector once
per element, with that element's inputs: a plain job each. A template that runs a map task's own
resolver (``pyflyte-map-execute``) with lists of n > 1 elements is the whole map: one array job of n
children, each finding its element through ``BATCH_JOB_ARRAY_INDEX_VAR_NAME`` (set by batchlane) and
writing to ``<outputPrefix>/<index>``, Flyte's array layout (docs/flyte.md#map-tasks).
"""

from __future__ import annotations

import hashlib
import re
import shlex
import uuid
from dataclasses import dataclass
from typing import Any

from flytekit.extend.backend.utils import render_task_template
from flytekit.models.literals import LiteralMap
from flytekit.models.task import Resources, TaskExecutionMetadata, TaskTemplate

from batchlane.flyte.resources import batch_resources

DEFAULT_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"  # Flyte's roleAnnotationKey default
WORKFLOW_LABEL = "batchlane.io/workflow"
QUEUE_CONFIG_KEYS = ("child_queue", "dynamic_queue")
MAP_EXECUTE = "pyflyte-map-execute"  # the entrypoint that reads its element's index from the environment
_RESOURCE_NAMES = {
    Resources.ResourceName.CPU: "cpu",
    Resources.ResourceName.MEMORY: "memory",
    Resources.ResourceName.GPU: "gpu",
}
_LAUNCH_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass(frozen=True)
class FlyteLaunch:
    detail: dict[str, Any]  # the "Task Launch Requested" detail
    size: int  # children: n for a whole map over n elements, else 1

    @property
    def is_array(self) -> bool:
        return self.size > 1


def launch_id(metadata: TaskExecutionMetadata | None) -> str:
    """One launch per task execution attempt, the same on every CreateTask of that attempt
    (propeller may repeat one): batchlane then submits one job."""
    if metadata is None or metadata.task_execution_id is None:
        return f"flyte-local-{uuid.uuid4().hex}"
    task = metadata.task_execution_id
    node = task.node_execution_id
    wf = node.execution_id
    text = f"flyte:{wf.project}:{wf.domain}:{wf.name}:{node.node_id}:{task.retry_attempt}"
    text = _LAUNCH_ID_CHARS.sub("-", text)
    return text if len(text) <= 128 else f"{text[:95]}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def _entries(entries) -> dict[str, str]:
    return {_RESOURCE_NAMES[e.name]: e.value for e in entries or () if e.name in _RESOURCE_NAMES}


def _resources(template: TaskTemplate) -> dict[str, Any]:
    resources = template.container.resources
    if resources is None:
        return {}
    return batch_resources(_entries(resources.requests), _entries(resources.limits))


def _role(template: TaskTemplate, metadata: TaskExecutionMetadata | None, annotation_key: str) -> str | None:
    run_as = template.security_context.run_as if template.security_context else None
    if run_as is not None and run_as.iam_role:
        return run_as.iam_role
    return ((metadata.annotations or {}) if metadata else {}).get(annotation_key) or None


SET_FOR_THE_JOB = ("BATCH_JOB_ARRAY_INDEX_VAR_NAME", "FLYTE_FAIL_ON_ERROR")  # batchlane sets them on every job
SET_FOR_THE_JOB_PREFIXES = ("AWS_BATCH_", "BATCHLANE_")  # Batch and batchlane set them


def _environment(template: TaskTemplate) -> dict[str, str]:
    # What Flyte's plugin puts there for Batch to use is batchlane's (and Batch's) to set; anything
    # else reserved is left in, for the launcher to refuse with its reason.
    return {
        k: v
        for k, v in (template.container.env or {}).items()
        if k.upper() not in SET_FOR_THE_JOB and not k.upper().startswith(SET_FOR_THE_JOB_PREFIXES)
    }


FLYTE_SECRET_PREFIX = "_FSEC_"  # flytekit's SecretsConfig.env_prefix default


def secret_references(template: TaskTemplate) -> dict[str, str]:
    """``container.secrets`` for the task's ``secret_requests``: each in the variable flytekit reads
    it from (``Secret.env_var``, else ``_FSEC_<GROUP>[_<VERSION>]_<KEY>`` upper-cased, flytekit's
    naming). A group that is a reference (``ssm:/...``, ``secretsmanager:...``) or a Secrets Manager
    ARN names the secret itself, the key a JSON key of it; any other group is an SSM path,
    ``/<group>/<key>``. The launcher refuses what the deployment does not allow."""
    context = template.security_context
    references = {}
    for secret in (context.secrets if context else None) or ():
        group, key = secret.group or "", secret.key or ""
        if group.startswith(("ssm:", "secretsmanager:")):
            reference = f"{group}:{key}" if key and group.startswith("secretsmanager:") else group
        elif group.startswith("arn:"):
            reference = f"secretsmanager:{group}" + (f":{key}" if key else "")
        else:
            reference = "ssm:/" + "/".join(part for part in (group.strip("/"), key) if part)
        parts = [p.upper() for p in (secret.group, secret.group_version, secret.key) if p]
        references[secret.env_var or FLYTE_SECRET_PREFIX + "_".join(parts)] = reference
    return references


def map_size(template: TaskTemplate, inputs: LiteralMap | None) -> int:
    """The children of a whole map (``pyflyte-map-execute``): the length of its list inputs (bound,
    scalar inputs aside). 1 for anything else (a task, propeller's one-element sub-task)."""
    if MAP_EXECUTE not in [*(template.container.command or []), *(template.container.args or [])]:
        return 1
    lengths = {
        len(lit.collection.literals)
        for lit in (inputs.literals.values() if inputs else ())
        if lit.collection is not None
    }
    if len(lengths) > 1:
        raise ValueError(f"the mapped inputs have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def _per_child_output_prefix(args: list[str], output_prefix: str) -> list[str]:
    """Child i of an array writes under ``<outputPrefix>/<i>`` (Batch passes no per-child argument:
    the index is read from the environment by a shell)."""
    index = '"${AWS_BATCH_JOB_ARRAY_INDEX:-0}"'
    words = [f"{shlex.quote(output_prefix)}/{index}" if a == output_prefix else shlex.quote(a) for a in args]
    return ["/bin/sh", "-c", "exec " + " ".join(words)]


def _command(template: TaskTemplate, output_prefix: str, is_array: bool) -> list[str]:
    # An aws-batch task's own command already says <outputPrefix>/0 (where propeller's aws_array
    # plugin reads a single job's outputs); an array's children write under <outputPrefix>/<index>.
    # render_task_template edits the template's args in place: render a copy, so that a template
    # used again (a map's elements, local executions) still holds its placeholders.
    rendered = render_task_template(TaskTemplate.from_flyte_idl(template.to_flyte_idl()), output_prefix)
    command = [*(rendered.container.command or []), *(rendered.container.args or [])]
    return _per_child_output_prefix(command, output_prefix) if is_array else command


def _names(metadata: TaskExecutionMetadata | None) -> dict[str, str]:
    if metadata is None or metadata.task_execution_id is None:
        return {"project": "flytesnacks", "domain": "development", "workflow": "local"}
    wf = metadata.task_execution_id.node_execution_id.execution_id
    workflow = (metadata.labels or {}).get(WORKFLOW_LABEL) or wf.name
    return {"project": wf.project, "domain": wf.domain, "workflow": workflow}


def _batch_config(template: TaskTemplate) -> dict[str, Any]:
    custom = template.custom or {}
    fields: dict[str, Any] = {}
    if custom.get("schedulingPriority") is not None:
        fields["schedulingPriority"] = int(custom["schedulingPriority"])
    if custom.get("parameters"):
        fields["parameters"] = {str(k): str(v) for k, v in custom["parameters"].items()}
    if custom.get("propagateTags") is not None:
        fields["propagateTags"] = bool(custom["propagateTags"])
    if custom.get("tags"):
        fields["tags"] = {str(k): str(v) for k, v in custom["tags"].items()}
    queue = next(
        (template.container.config.get(k) for k in QUEUE_CONFIG_KEYS if (template.container.config or {}).get(k)), None
    )
    if queue:
        fields["queueHint"] = queue
    return fields


def launch_detail(
    template: TaskTemplate,
    output_prefix: str,
    inputs: LiteralMap | None,
    metadata: TaskExecutionMetadata | None,
    *,
    role_annotation_key: str = DEFAULT_ROLE_ANNOTATION,
) -> FlyteLaunch:
    """The launch a task execution becomes (raises ValueError for a template it cannot run)."""
    if template.container is None:
        raise ValueError("an aws-batch task needs a container (this template has none)")
    size = map_size(template, inputs)
    platform = (
        (template.config or {}).get("platformCapabilities")
        or (template.custom or {}).get("platformCapabilities")
        or "EC2"
    )
    container = {
        "image": template.container.image,
        "command": _command(template, output_prefix, size > 1),
        "environment": _environment(template),
        "resources": _resources(template),
        "platform": platform,
    }
    secrets = secret_references(template)
    if secrets:
        container["secrets"] = secrets
    detail: dict[str, Any] = {
        "launchId": launch_id(metadata),
        **_names(metadata),
        "task": template.id.name,
        "container": container,
        "retries": template.metadata.retries.retries,
        **_batch_config(template),
    }
    timeout = template.metadata.timeout
    if timeout and timeout.total_seconds() > 0:
        detail["timeoutSeconds"] = int(timeout.total_seconds())
    role = _role(template, metadata, role_annotation_key)
    if role:
        detail["role"] = role
    if size > 1:  # the inputs themselves travel in inputs.pb: one placeholder document per child
        detail["inputs"] = [{"index": i} for i in range(size)]
    return FlyteLaunch(detail, size)
