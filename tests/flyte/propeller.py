"""A FlytePropeller stand-in: calls the connector over gRPC as propeller does, built from its source
(flyteorg/flyte v1.16):

* ``flyteplugins/go/tasks/plugins/webapi/connector/plugin.go``: ``Create`` renders the container's
  args, sends CreateTask with the inputs, the output prefix and ``buildTaskExecutionMetadata``
  (task execution id, namespace, labels, annotations, service account, environment variables,
  identity = the execution's RunAs); ``Get`` sends GetTask with the task category and output
  prefix; ``Status`` on SUCCEEDED writes the answer's outputs, or, when there are none, reads
  ``<outputPrefix>/outputs.pb`` ("file based outputs").
* ``flyteplugins/go/tasks/pluginmachinery/core/template/template.go``: the args' placeholders.
* ``flytepropeller/pkg/apis/flyteworkflow/v1alpha1/workflow_status.go`` and the branch/dynamic
  handlers: a node's data dir ``<execution>/<node>/data`` (``inputs.pb`` there), its output prefix
  ``<data dir>/<attempt>``.
* ``flytepropeller/pkg/controller/nodes/array/`` (``handler.go``, ``node_execution_context.go``,
  ``execution_context.go``, ``utils.go``): an ArrayNode calls its sub-task once per element, as node
  ``n<i>``, with that element's inputs (``constructLiteralMap``; bound inputs whole) but the
  ArrayNode's own input *path* (``staticInputReader`` keeps its ``InputFilePaths``), output prefix
  ``<arraynode output dir>/<i>/<attempt>``, environment ``BATCH_JOB_ARRAY_INDEX_VAR_NAME=
  FLYTE_K8S_ARRAY_INDEX``, ``FLYTE_K8S_ARRAY_INDEX=<i>``; then gathers each element's
  ``outputs.pb`` into one list per output.
* ``flytepropeller/pkg/controller/nodes/node_exec_context.go`` and
  ``flytepropeller/pkg/compiler/transformers/k8s/workflow.go``: the labels.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from flyteidl.admin.agent_pb2 import CreateTaskRequest, DeleteTaskRequest, GetTaskRequest, TaskCategory
from flyteidl.core import literals_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flytekit.models.core.identifier import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytekit.models.literals import LiteralMap
from flytekit.models.security import Identity
from flytekit.models.task import TaskExecutionMetadata, TaskTemplate

FINAL = (TaskExecution.SUCCEEDED, TaskExecution.FAILED, TaskExecution.ABORTED)

# template.go: case-insensitive, "." or "$"
_PLACEHOLDERS = {
    "input": re.compile(r"(?i){{\s*[\.$]Input\s*}}"),
    "output": re.compile(r"(?i){{\s*[\.$]OutputPrefix\s*}}"),
    "input_prefix": re.compile(r"(?i){{\s*[\.$]InputPrefix\s*}}"),
    "raw": re.compile(r"(?i){{\s*[\.$]RawOutputDataPrefix\s*}}"),
    "prev_checkpoint": re.compile(r"(?i){{\s*[\.$]PrevCheckpointPrefix\s*}}"),
    "checkpoint": re.compile(r"(?i){{\s*[\.$]CheckpointOutputPrefix\s*}}"),
}
_INVALID_LABEL = re.compile(r"[^-a-z0-9]")


def sanitize_label(name: str) -> str:
    """propeller's utils.SanitizeLabelValue (k8s.go)."""
    return _INVALID_LABEL.sub("-", name.lower())[:63].strip("-")


@dataclass(frozen=True)
class Execution:
    """A workflow execution as FlyteAdmin hands it to propeller."""

    bucket: str
    name: str
    workflow: str  # the workflow's fully qualified name
    project: str = "flytesnacks"
    domain: str = "development"
    run_as: str | None = None  # RunAs iam_role (flytectl / the launch plan's security context)
    annotations: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)  # the execution's envs

    @property
    def data_dir(self) -> str:
        return f"s3://{self.bucket}/metadata/propeller/{self.project}-{self.domain}-{self.name}"

    @property
    def labels(self) -> dict[str, str]:  # the FlyteWorkflow CRD's (transformers/k8s/workflow.go)
        return {
            "execution-id": self.name,
            "project": self.project,
            "domain": self.domain,
            "workflow-name": sanitize_label(self.workflow),
            "shard-key": "7",
        }


@dataclass
class Node:
    """One task execution attempt, where propeller keeps its data."""

    node_id: str
    input_path: str  # what {{.input}} renders to
    output_prefix: str
    inputs: LiteralMap  # what CreateTask carries
    attempt: int = 0
    environment: dict[str, str] = field(default_factory=dict)  # added by the ArrayNode for an element


@dataclass
class Result:
    phase: int
    message: str
    outputs: literals_pb2.LiteralMap | None
    resource: object
    node: Node
    resource_meta: bytes = b""


def task_node(execution: Execution, node_id: str, inputs: LiteralMap, attempt: int = 0) -> Node:
    data_dir = f"{execution.data_dir}/{node_id}/data"
    return Node(node_id, f"{data_dir}/inputs.pb", f"{data_dir}/{attempt}", inputs, attempt)


def array_elements(
    execution: Execution, node_id: str, inputs: LiteralMap, bound: frozenset[str] = frozenset()
) -> list[Node]:
    """The ArrayNode's sub-nodes: ``n<i>``, the element's inputs, the ArrayNode's input path."""
    parent = task_node(execution, node_id, inputs)
    size = next(len(v.collection.literals) for k, v in inputs.literals.items() if v.collection and k not in bound)
    nodes = []
    for i in range(size):
        element = {
            k: (v if v.collection is None or k in bound else v.collection.literals[i])
            for k, v in inputs.literals.items()
        }
        nodes.append(
            Node(
                f"n{i}",
                parent.input_path,
                f"{parent.output_prefix}/{i}/0",
                LiteralMap(element),
                environment={
                    "BATCH_JOB_ARRAY_INDEX_VAR_NAME": "FLYTE_K8S_ARRAY_INDEX",
                    "FLYTE_K8S_ARRAY_INDEX": str(i),
                },
            )
        )
    return nodes


def render(template: TaskTemplate, node: Node, execution: Execution) -> TaskTemplate:
    """A copy of the template with its args rendered as template.go renders them."""
    values = {
        "input": node.input_path,
        "output": node.output_prefix,
        "input_prefix": node.input_path.rsplit("/", 1)[0],
        "raw": f"s3://{execution.bucket}/raw/{execution.name}-{node.node_id}-{node.attempt}",
        "prev_checkpoint": '""',
        "checkpoint": f"s3://{execution.bucket}/raw/{execution.name}-{node.node_id}-{node.attempt}/_flytecheckpoints",
    }
    rendered = TaskTemplate.from_flyte_idl(template.to_flyte_idl())
    args = []
    for arg in rendered.container.args:
        for name, pattern in _PLACEHOLDERS.items():
            arg = pattern.sub(lambda _, v=values[name]: v, arg)
        args.append(arg)
    rendered.container._args = args
    return rendered


def metadata(template: TaskTemplate, node: Node, execution: Execution) -> TaskExecutionMetadata:
    wf = WorkflowExecutionIdentifier(execution.project, execution.domain, execution.name)
    task_id = Identifier(ResourceType.TASK, execution.project, execution.domain, template.id.name, "v1")
    labels = {
        **execution.labels,
        "node-id": sanitize_label(node.node_id),
        "task-name": sanitize_label(template.id.name),
        "interruptible": "false",
    }
    return TaskExecutionMetadata(
        task_execution_id=TaskExecutionIdentifier(task_id, NodeExecutionIdentifier(node.node_id, wf), node.attempt),
        namespace=f"{execution.project}-{execution.domain}",
        labels=labels,
        annotations=dict(execution.annotations),
        k8s_service_account="default",
        environment_variables={**execution.environment, **node.environment},
        identity=Identity(iam_role=execution.run_as) if execution.run_as else None,
    )


class Propeller:
    def __init__(self, server, s3) -> None:
        self.server = server  # tests.flyte.grpc_service.ConnectorServer
        self.s3 = s3

    def create(self, template: TaskTemplate, node: Node, execution: Execution) -> bytes:
        request = CreateTaskRequest(
            template=render(template, node, execution).to_flyte_idl(),
            output_prefix=node.output_prefix,
            inputs=node.inputs.to_flyte_idl(),
            task_execution_metadata=metadata(template, node, execution).to_flyte_idl(),
        )
        return self.server.stub.CreateTask(request, timeout=30).resource_meta

    def get(self, template: TaskTemplate, node: Node, resource_meta: bytes):
        category = TaskCategory(name=template.type, version=template.task_type_version)
        request = GetTaskRequest(
            task_type=template.type,
            task_category=category,
            resource_meta=resource_meta,
            output_prefix=node.output_prefix,
        )
        return self.server.stub.GetTask(request, timeout=30).resource

    def delete(self, template: TaskTemplate, resource_meta: bytes) -> None:
        category = TaskCategory(name=template.type, version=template.task_type_version)
        self.server.stub.DeleteTask(
            DeleteTaskRequest(task_type=template.type, task_category=category, resource_meta=resource_meta), timeout=30
        )

    def read_outputs(self, template: TaskTemplate, node: Node, resource) -> literals_pb2.LiteralMap | None:
        """plugin.go writeOutput: the answer's outputs, else ``<outputPrefix>/outputs.pb``."""
        if not template.interface or not template.interface.outputs:
            return None
        if resource.HasField("outputs"):
            return resource.outputs
        bucket, _, key = f"{node.output_prefix}/outputs.pb".removeprefix("s3://").partition("/")
        message = literals_pb2.LiteralMap()
        message.ParseFromString(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return message

    def run(self, template: TaskTemplate, nodes: list[Node], execution: Execution, timeout: float = 90) -> list[Result]:
        """CreateTask for every node, then GetTask until each is final (as propeller's rounds do)."""
        metas = [self.create(template, node, execution) for node in nodes]
        results: dict[int, Result] = {}
        deadline = time.monotonic() + timeout
        while len(results) < len(nodes):
            assert time.monotonic() < deadline, f"not final after {timeout} s: {len(results)} of {len(nodes)}"
            for i, (node, meta) in enumerate(zip(nodes, metas, strict=True)):
                if i in results:
                    continue
                resource = self.get(template, node, meta)
                if resource.phase in FINAL:
                    outputs = (
                        self.read_outputs(template, node, resource)
                        if resource.phase == TaskExecution.SUCCEEDED
                        else None
                    )
                    results[i] = Result(resource.phase, resource.message, outputs, resource, node, meta)
            time.sleep(0.3)
        return [results[i] for i in range(len(nodes))]


def gather(results: list[Result]) -> dict[str, list]:
    """The ArrayNode's outputs: each element's, one list per output (handler.go gatherOutputs)."""
    names = sorted({name for r in results if r.outputs for name in r.outputs.literals})
    return {name: [r.outputs.literals[name] if r.outputs else None for r in results] for name in names}
