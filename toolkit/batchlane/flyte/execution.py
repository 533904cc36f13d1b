"""What FlytePropeller tells a connector about the task execution (``TaskExecutionMetadata``), as
batchlane needs it: the launch id, the names routing uses, the role, the environment.

Read from propeller's source (flyteorg/flyte v1, ``flyteplugins/go/tasks/plugins/webapi/connector/plugin.go``
``buildTaskExecutionMetadata``): ``task_execution_id`` (under an ArrayNode the element's node id is
``n<i>``, the same as top-level nodes: ``flytepropeller/pkg/controller/nodes/array/handler.go``),
``labels`` (the workflow's: ``workflow-name``, ``execution-id``, ...; the node's: ``node-id``,
``task-name``, ``interruptible``), ``annotations``, ``environment_variables`` (the execution's, and
``FLYTE_K8S_ARRAY_INDEX`` for an ArrayNode element), ``identity`` (the execution's RunAs).
"""

from __future__ import annotations

import hashlib
import re
import uuid

from flytekit.models.task import TaskExecutionMetadata, TaskTemplate

# FlyteAdmin's role annotation keys: roleNameKey's default, and the kube2iam key of flyte-core's chart.
DEFAULT_ROLE_ANNOTATIONS = ("eks.amazonaws.com/role-arn", "iam.amazonaws.com/role")
WORKFLOW_LABELS = ("workflow-name", "batchlane.io/workflow")  # propeller's label first
_LAUNCH_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")
_MAX_LAUNCH_ID = 128

# What batchlane (or Batch) sets on every job: a value from Flyte would be refused or overridden.
SET_FOR_THE_JOB = ("BATCH_JOB_ARRAY_INDEX_VAR_NAME", "BATCH_JOB_ARRAY_INDEX_OFFSET", "FLYTE_FAIL_ON_ERROR")
SET_FOR_THE_JOB_PREFIXES = ("AWS_BATCH_", "BATCHLANE_")


def launch_id(metadata: TaskExecutionMetadata | None, output_prefix: str) -> str:
    """One launch per task execution attempt, the same on every CreateTask of it. The node id alone
    is not unique (an ArrayNode's elements are ``n0..nk`` like top-level nodes), the output prefix is:
    propeller gives each node, element and attempt its own (``<node>/data/<attempt>``,
    ``<arraynode>/<i>/<attempt>``). Readable parts first, then a digest of the prefix."""
    if metadata is None or metadata.task_execution_id is None:
        return f"flyte-local-{uuid.uuid4().hex}"
    task = metadata.task_execution_id
    node = task.node_execution_id
    wf = node.execution_id
    digest = hashlib.sha256(output_prefix.rstrip("/").encode()).hexdigest()[:24]
    readable = _LAUNCH_ID_CHARS.sub(
        "-", f"flyte:{wf.project}:{wf.domain}:{wf.name}:{node.node_id}:{task.retry_attempt}"
    )
    return f"{readable[: _MAX_LAUNCH_ID - len(digest) - 1]}:{digest}"


def names(metadata: TaskExecutionMetadata | None) -> dict[str, str]:
    """project, domain (the execution's) and workflow (propeller's ``workflow-name`` label, else
    ``batchlane.io/workflow``, else the execution name)."""
    if metadata is None or metadata.task_execution_id is None:
        return {"project": "flytesnacks", "domain": "development", "workflow": "local"}
    wf = metadata.task_execution_id.node_execution_id.execution_id
    labels = metadata.labels or {}
    workflow = next((labels[k] for k in WORKFLOW_LABELS if labels.get(k)), wf.name)
    return {"project": wf.project, "domain": wf.domain, "workflow": workflow}


def role(
    template: TaskTemplate, metadata: TaskExecutionMetadata | None, annotation_keys: tuple[str, ...]
) -> str | None:
    """The user's role, as FlyteAdmin and propeller decide it: the execution's RunAs (propeller sends
    it as ``identity``), the task's own security context (flytekit's local runs), then the execution's
    annotations, key by key."""
    identity = metadata.identity if metadata is not None else None
    if identity is not None and identity.iam_role:
        return identity.iam_role
    run_as = template.security_context.run_as if template.security_context else None
    if run_as is not None and run_as.iam_role:
        return run_as.iam_role
    annotations = (metadata.annotations or {}) if metadata else {}
    return next((annotations[k] for k in annotation_keys if annotations.get(k)), None)


def _identity_variables(metadata: TaskExecutionMetadata | None) -> dict[str, str]:
    """The ``FLYTE_INTERNAL_*`` variables propeller gives a task's container
    (``flytek8s/k8s_resource_adds.go`` ``GetExecutionEnvVars``): flytekit reads its execution id there."""
    if metadata is None or metadata.task_execution_id is None:
        return {}
    task = metadata.task_execution_id
    wf = task.node_execution_id.execution_id
    variables = {
        "FLYTE_INTERNAL_EXECUTION_ID": wf.name,
        "FLYTE_INTERNAL_EXECUTION_PROJECT": wf.project,
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": wf.domain,
        "FLYTE_ATTEMPT_NUMBER": str(task.retry_attempt),
    }
    if task.task_id is not None:
        variables |= {
            "FLYTE_INTERNAL_TASK_PROJECT": task.task_id.project,
            "FLYTE_INTERNAL_TASK_DOMAIN": task.task_id.domain,
            "FLYTE_INTERNAL_TASK_NAME": task.task_id.name,
            "FLYTE_INTERNAL_TASK_VERSION": task.task_id.version,
        }
    return variables


def environment(template: TaskTemplate, metadata: TaskExecutionMetadata | None) -> dict[str, str]:
    """The container's environment in Kubernetes' order (later wins): the task's, propeller's
    identity variables, the execution's (``environment_variables``). What batchlane or Batch set on
    every job is left out (the index variable batchlane points at the child's index); anything else
    batchlane reserves is left in, for the launcher to refuse with its reason."""
    merged = {
        **(template.container.env or {}),
        **_identity_variables(metadata),
        **((metadata.environment_variables or {}) if metadata else {}),
    }
    return {
        k: v
        for k, v in merged.items()
        if k.upper() not in SET_FOR_THE_JOB and not k.upper().startswith(SET_FOR_THE_JOB_PREFIXES)
    }
