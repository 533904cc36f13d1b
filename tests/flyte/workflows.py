"""A Flyte user's code, unchanged: aws-batch tasks and a map over one, serialized by flytekit as
``pyflyte register`` would (the templates propeller hands a connector)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from flytekit import Resources, map_task, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core.legacy_map_task import map_task as legacy_map_task
from flytekit.models.literals import Literal, LiteralCollection, LiteralMap, Primitive, Scalar
from flytekit.models.task import TaskSpec, TaskTemplate
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


@task(task_config=AWSBatchConfig(), retries=0)
def strict(x: int) -> int:
    if x < 0:
        raise ValueError(f"x must not be negative, got {x}")
    return x


@task(task_config=AWSBatchConfig(), retries=0)
def sleepy(x: int) -> int:
    import time

    time.sleep(x)
    return x


@task(retries=0)  # a plain task: a legacy map over it is a container_array (one array job)
def fragile(x: int) -> int:
    if x < 0:
        raise ValueError(f"x must not be negative, got {x}")
    return x + 1


@task(task_config=AWSBatchConfig(), retries=0)
def total(a: list[int], b: list[int]) -> int:
    return sum(a) + sum(b)


@workflow
def squares(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@workflow
def two_maps_then_total(xs: list[int], ys: list[int]) -> int:
    # n0 and n1 are ArrayNodes whose elements are n0..nk too; n2 runs after both.
    return total(a=map_task(square)(x=xs), b=map_task(square)(x=ys))


@workflow
def fragile_map(xs: list[int]) -> list[int | None]:
    return legacy_map_task(fragile, min_success_ratio=0.8)(x=xs)


@workflow
def single(x: int) -> int:
    return impatient(x=square(x=x))


@dataclass(frozen=True)
class Templates:
    single: TaskTemplate  # the aws-batch task (task type version 0)
    map_element: TaskTemplate  # the map's sub-task (version 1): propeller sends it once per element
    too_many_retries: TaskTemplate
    strict: TaskTemplate  # an aws-batch task raising for a negative x
    sleepy: TaskTemplate  # sleeps x seconds
    total: TaskTemplate  # the task after two maps
    legacy_map: TaskTemplate  # container_array (pyflyte-map-execute): one array job for the map


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
    get_serializable(entities, settings, two_maps_then_total)
    get_serializable(entities, settings, fragile_map)
    for entity in (strict, sleepy):
        get_serializable(entities, settings, entity)
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
        strict=named("strict"),
        sleepy=named("sleepy"),
        total=named("total"),
        legacy_map=named("map_fragile"),
    )


# --- inputs as propeller holds them ---------------------------------------------------------------


def int_literal(x: int) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(integer=x)))


def int_inputs(x: int) -> LiteralMap:
    return LiteralMap({"x": int_literal(x)})


def list_inputs(**lists: list[int]) -> LiteralMap:
    return LiteralMap({k: Literal(collection=LiteralCollection([int_literal(x) for x in v])) for k, v in lists.items()})
