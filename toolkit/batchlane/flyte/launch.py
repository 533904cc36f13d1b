"""A Flyte task template, as FlytePropeller sends it, to a batchlane "Task Launch Requested" detail.

What comes from where (docs/flyte.md):

* image, command + args, env: ``template.container``. Propeller renders the args itself
  (``flyteplugins/go/tasks/pluginmachinery/core/template/template.go``): ``{{.input}}`` is the
  *node's* ``inputs.pb``, which for an ArrayNode element holds the whole lists. So the job reads the
  inputs CreateTask carries (the element's own), which the connector writes to
  ``<outputPrefix>/inputs.pb``: ``--inputs`` is pointed there. A template still holding placeholders
  (flytekit's local runs) is rendered by flytekit's ``render_task_template``.
* resources: the container's requests and limits (``batchlane.flyte.resources``; whole vCPUs on EC2);
* retries, timeout: ``template.metadata``;
* ``AWSBatchConfig`` (``template.custom``): ``schedulingPriority``, ``parameters``,
  ``propagateTags``, ``tags``, ``platformCapabilities`` (also in ``template.config``);
* secrets: the security context's ``secret_requests`` (``batchlane.flyte.launch.secret_references``);
* the execution (role, names, environment, launch id): ``batchlane.flyte.execution``;
* FlyteAdmin's queue: ``template.container.config["child_queue"]`` (or ``dynamic_queue``), sent as
  ``queueHint``.

A ``container_array`` task (flytekit's legacy map task, ``pyflyte-map-execute`` with
``MapTaskResolver``) is a whole map: one array job of n children (n: the length of its mapped list
inputs), each finding its element through ``BATCH_JOB_ARRAY_INDEX_VAR_NAME`` (set by batchlane) and
writing to ``<outputPrefix>/<index>`` (flytekit appends the index itself); its ``ArrayJob``
(``template.custom``) gives ``minSuccessRatio`` (or ``minSuccesses``) and ``maxConcurrency``
(``parallelism``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flytekit.extend.backend.utils import render_task_template
from flytekit.models.literals import LiteralMap
from flytekit.models.task import Resources, TaskExecutionMetadata, TaskTemplate

from batchlane.flyte import execution
from batchlane.flyte.resources import batch_resources

ARRAY_TASK_TYPE = "container_array"  # flytekit's legacy map task: one array job per map
QUEUE_CONFIG_KEYS = ("child_queue", "dynamic_queue")
INPUTS_FLAG = "--inputs"
_RESOURCE_NAMES = {
    Resources.ResourceName.CPU: "cpu",
    Resources.ResourceName.MEMORY: "memory",
    Resources.ResourceName.GPU: "gpu",
}


@dataclass(frozen=True)
class FlyteLaunch:
    detail: dict[str, Any]  # the "Task Launch Requested" detail
    size: int  # children: n for a container_array task over n elements, else 1
    is_array: bool  # a container_array task: its outputs are gathered per child


def inputs_uri(output_prefix: str) -> str:
    """Where the connector writes the inputs CreateTask carries, and the job reads them."""
    return f"{output_prefix.rstrip('/')}/inputs.pb"


def _entries(entries) -> dict[str, str]:
    return {_RESOURCE_NAMES[e.name]: e.value for e in entries or () if e.name in _RESOURCE_NAMES}


def _resources(template: TaskTemplate, platform: str) -> dict[str, Any]:
    resources = template.container.resources
    if resources is None:
        return {}
    return batch_resources(
        _entries(resources.requests), _entries(resources.limits), whole_vcpus=platform.upper() == "EC2"
    )


def _bound_inputs(args: list[str]) -> set[str]:
    # MapTaskResolver's loader args: "vars", "<bound,inputs>", "resolver", ... (flytekit legacy_map_task)
    if "vars" in args and args.index("vars") + 1 < len(args):
        return {name for name in args[args.index("vars") + 1].split(",") if name}
    return set()


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
    """The children of a container_array task: the length of its mapped (not bound) list inputs.
    1 for any other task."""
    if template.type != ARRAY_TASK_TYPE:
        return 1
    bound = _bound_inputs(list(template.container.args or []))
    lengths = {
        len(lit.collection.literals)
        for name, lit in (inputs.literals.items() if inputs else ())
        if lit.collection is not None and name not in bound
    }
    if len(lengths) > 1:
        raise ValueError(f"the mapped inputs have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def _command(template: TaskTemplate, output_prefix: str) -> list[str]:
    # render_task_template edits the template's args in place: render a copy, so that a template
    # used again (local executions) still holds its placeholders.
    rendered = render_task_template(TaskTemplate.from_flyte_idl(template.to_flyte_idl()), output_prefix)
    words = [*(rendered.container.command or []), *(rendered.container.args or [])]
    if INPUTS_FLAG in words[:-1]:
        words[words.index(INPUTS_FLAG) + 1] = inputs_uri(output_prefix)
    return words


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
    config = template.container.config or {}
    queue = next((config[k] for k in QUEUE_CONFIG_KEYS if config.get(k)), None)
    if queue:
        fields["queueHint"] = queue
    return fields


def _array_fields(template: TaskTemplate, size: int) -> dict[str, Any]:
    """A container_array's ``ArrayJob`` (flyteidl plugins; JSON: int64 as strings): how many
    children must succeed, how many run at once. One placeholder input document per child: the
    inputs themselves travel in inputs.pb."""
    custom = template.custom or {}
    fields: dict[str, Any] = {"inputs": [{"index": i} for i in range(size)]}
    if custom.get("minSuccesses") is not None:
        fields["minSuccessRatio"] = min(1.0, max(int(custom["minSuccesses"]), 1) / size)
    elif custom.get("minSuccessRatio") is not None:
        fields["minSuccessRatio"] = float(custom["minSuccessRatio"])
    if int(custom.get("parallelism") or 0) > 0:
        fields["maxConcurrency"] = int(custom["parallelism"])
    return fields


def _refuse_unsupported(template: TaskTemplate) -> None:
    if template.container is None:
        raise ValueError(f"a {template.type} task needs a container (this template has none)")


def launch_detail(
    template: TaskTemplate,
    output_prefix: str,
    inputs: LiteralMap | None,
    metadata: TaskExecutionMetadata | None,
    *,
    role_annotation_keys: tuple[str, ...] = execution.DEFAULT_ROLE_ANNOTATIONS,
) -> FlyteLaunch:
    """The launch a task execution becomes (raises ValueError for a template it cannot run)."""
    _refuse_unsupported(template)
    output_prefix = output_prefix.rstrip("/")
    size = map_size(template, inputs)
    is_array = template.type == ARRAY_TASK_TYPE
    platform = str(
        (template.config or {}).get("platformCapabilities")
        or (template.custom or {}).get("platformCapabilities")
        or "EC2"
    )
    container = {
        "image": template.container.image,
        "command": _command(template, output_prefix),
        "environment": execution.environment(template, metadata),
        "resources": _resources(template, platform),
        "platform": platform,
    }
    secrets = secret_references(template)
    if secrets:
        container["secrets"] = secrets
    detail: dict[str, Any] = {
        "launchId": execution.launch_id(metadata, output_prefix),
        **execution.names(metadata),
        "task": template.id.name,
        "container": container,
        "retries": template.metadata.retries.retries,
        **_batch_config(template),
    }
    timeout = template.metadata.timeout
    if timeout and timeout.total_seconds() > 0:
        detail["timeoutSeconds"] = int(timeout.total_seconds())
    role = execution.role(template, metadata, role_annotation_keys)
    if role:
        detail["role"] = role
    if is_array:
        detail |= _array_fields(template, size)
    return FlyteLaunch(detail, size, is_array)
