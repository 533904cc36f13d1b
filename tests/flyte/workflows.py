"""A Flyte user's code, unchanged: aws-batch tasks and a map over one, serialized by flytekit as
``pyflyte register`` would (the templates propeller hands a connector)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from flytekit import Resources, map_task, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.models.core.identifier import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytekit.models.literals import Literal, LiteralMap, Primitive, Scalar
from flytekit.models.task import TaskExecutionMetadata, TaskSpec, TaskTemplate
from flytekit.tools.translator import get_serializable
from flytekitplugins.awsbatch import AWSBatchConfig

ROLE = "arn:aws:iam::123456789012:role/batchlane-dev-us-east-1-job-default"
BATCH_CONFIG = AWSBatchConfig(
    schedulingPriority=7, parameters={"bucket": "raw"}, propagateTags=False, tags={"team": "ml"}
)


@task(
    task_config=BATCH_CONFIG,
    retries=2,
    requests=Resources(cpu="500m", mem="1Gi"),
    limits=Resources(cpu="2", mem="4Gi"),
    environment={"TEAM_SETTING": "on"},
)
def square(x: int) -> int:
    return x * x


@task(task_config=AWSBatchConfig(), retries=12)
def impatient(x: int) -> int:
    return x


@task
def cube(x: int) -> int:
    return x * x * x


@workflow
def squares(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@workflow
def cubes(xs: list[int]) -> list[int]:
    return map_task(cube)(x=xs)


@workflow
def single(x: int) -> int:
    return impatient(x=square(x=x))


@dataclass(frozen=True)
class Templates:
    single: TaskTemplate  # the aws-batch task (task type version 0)
    map_element: TaskTemplate  # the map's sub-task (version 1): propeller sends it once per element
    too_many_retries: TaskTemplate
    whole_map: TaskTemplate  # a map task's own resolver (pyflyte-map-execute): one array job for the map


def serialized_tasks() -> Templates:
    settings = SerializationSettings(
        image_config=ImageConfig(
            default_image=Image(name="default", fqn="123456789012.dkr.ecr.us-east-1.amazonaws.com/flyte-app", tag="1")
        ),
        project="flytesnacks",
        domain="development",
        version="v1",
    )
    entities: OrderedDict = OrderedDict()
    get_serializable(entities, settings, squares)
    get_serializable(entities, settings, single)
    get_serializable(entities, settings, cubes)
    templates = {
        spec.template.id.name.rsplit(".", 1)[-1]: spec.template
        for spec in entities.values()
        if isinstance(spec, TaskSpec)
    }

    def named(start: str) -> TaskTemplate:  # map tasks' names end in a hash
        [template] = [t for name, t in templates.items() if name.startswith(start)]
        return template

    return Templates(
        single=named("square"),
        map_element=named("map_square"),
        too_many_retries=named("impatient"),
        whole_map=named("map_cube"),
    )


# --- what propeller sends with a template: the execution, its inputs ------------------------------

EXECUTION = "exec1"


def metadata(node: str, project: str = "flytesnacks", domain: str = "development") -> TaskExecutionMetadata:
    wf = WorkflowExecutionIdentifier(project, domain, EXECUTION)
    task_id = Identifier(ResourceType.TASK, project, domain, "wf.square", "v1")
    return TaskExecutionMetadata(
        task_execution_id=TaskExecutionIdentifier(task_id, NodeExecutionIdentifier(node, wf), 0),
        namespace=f"{project}-{domain}",
        labels={"batchlane.io/workflow": "training"},
        annotations={"eks.amazonaws.com/role-arn": ROLE},
        k8s_service_account="default",
        environment_variables={},
        identity=None,
    )


def launch_id_of(node: str) -> str:
    return f"flyte:flytesnacks:development:{EXECUTION}:{node}:0"


def int_inputs(x: int) -> LiteralMap:
    return LiteralMap({"x": Literal(scalar=Scalar(primitive=Primitive(integer=x)))})
