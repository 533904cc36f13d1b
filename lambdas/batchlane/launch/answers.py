"""The answers to a launch request: "Task Launched", "Task Launch Rejected", and the "Task Chunk Due"
notice the launcher takes (the JSON Schema in docs/schemas/ is generated from these models)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field

from batchlane.common.event_types import (
    EVENT_ID_CHARS,
    EVENT_ID_DESCRIPTION,
    LAUNCH_REJECTED,
    LAUNCHED,
    event_id,
)
from batchlane.common.executions import OPEN_TEAM
from batchlane.launch.models import ClosedModel
from batchlane.launch.problems import LAUNCH_ID_CHARS, MAX_PROBLEMS, Problem, bounded_problems, cut


class RoutingExplanation(ClosedModel):
    rule: dict | None
    tag: str | None
    candidates: list[dict]
    reason: str


EventId = Annotated[
    str | None, Field(default=None, alias="eventId", max_length=EVENT_ID_CHARS, description=EVENT_ID_DESCRIPTION)
]


# The producer's team: a launch id is unique within it (batchlane.common.executions.launch_key).
Team = Annotated[str, Field(description="the producer's team, within which the launchId is unique ('_': no teams)")]


class TaskLaunched(ClosedModel):
    DETAIL_TYPE: ClassVar[str] = LAUNCHED

    event_id: EventId = None
    launch_id: str = Field(alias="launchId")
    team: Team = OPEN_TEAM
    job_id: str = Field(alias="jobId")
    job_name: str = Field(alias="jobName")
    queue: str
    array_size: int = Field(alias="arraySize", description="0 for a plain job")
    routing: RoutingExplanation
    console_url: str = Field(alias="consoleUrl")
    inputs_uri: str = Field(alias="inputsUri")
    outputs_uri: str = Field(alias="outputsUri")
    job_definition: str = Field(alias="jobDefinition")
    # A chunked map task (docs/chunked-maps.md): absent on every other launch. jobId/jobName are chunk 0's.
    chunk_count: int | None = Field(default=None, alias="chunkCount", description="array jobs the map task runs as")
    chunk_size: int | None = Field(
        default=None, alias="chunkSize", description="children per chunk (the last may be short)"
    )
    chunk_window: int | None = Field(default=None, alias="chunkWindow", description="chunks in flight at once")

    def identity(self) -> tuple[object, ...]:
        # Every delivery of one request is answered, with the same answer: one announcement.
        return (self.team, self.launch_id, self.job_id)


class TaskChunkDue(ClosedModel):
    """The aggregator's "Task Chunk Due" (source batchlane.status): chunk ``chunk`` may be submitted."""

    event_id: EventId = None
    launch_id: Annotated[str, Field(alias="launchId", min_length=1, max_length=LAUNCH_ID_CHARS)]
    team: Team = OPEN_TEAM
    chunk: Annotated[int, Field(ge=0, strict=True)]
    # The launch's first job: a notice for an earlier submission of a reused launch id is not this one's.
    job_id: Annotated[str | None, Field(alias="jobId")] = None


def _bounded_launch_id(value: Any) -> Any:
    return cut(value, LAUNCH_ID_CHARS) if isinstance(value, str) else value


def _bounded_problem_list(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, (Problem, dict)) for p in value):
        return value  # the field's own validation says what is wrong
    return bounded_problems([p if isinstance(p, Problem) else Problem.model_validate(p) for p in value])


class TaskLaunchRejected(ClosedModel):
    """Every problem found, bounded (docs/launch-event.md) so that the event always fits EventBridge."""

    DETAIL_TYPE: ClassVar[str] = LAUNCH_REJECTED

    event_id: EventId = None
    launch_id: Annotated[
        Annotated[str, Field(max_length=LAUNCH_ID_CHARS)] | None,
        BeforeValidator(_bounded_launch_id),
        Field(alias="launchId"),
    ]
    team: Annotated[
        str | None,
        Field(description="the producer's team, whose launch id it names (null: a producer that may not launch)"),
    ] = None
    problems: Annotated[list[Problem], BeforeValidator(_bounded_problem_list), Field(max_length=MAX_PROBLEMS)]

    def identity(self) -> tuple[object, ...]:
        return (self.team, self.launch_id, [p.model_dump() for p in self.problems])


def detail_json(model: TaskLaunched | TaskLaunchRejected) -> dict[str, Any]:
    """The detail as published, with its ``eventId``; optional fields left unset (e.g. a plain
    launch's chunk fields) are left out."""
    detail = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return {"eventId": event_id(model.DETAIL_TYPE, *model.identity()), **detail}
