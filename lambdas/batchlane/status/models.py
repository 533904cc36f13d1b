"""The events of the status path on batchlane's bus (docs/status.md), one model each.

In: "Task Abort Requested". Out: "Task Status Changed" (``kind`` phase or progress) and "Task Abort
Rejected". Each outgoing event is built here and only here; ``detail()`` is what goes on the bus.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchlane.common.event_types import (
    ABORT_REJECTED,
    ABORT_REQUESTED,
    CHUNK_DUE,
    EVENT_ID_DESCRIPTION,
    STATUS_CHANGED,
    event_id,
)
from batchlane.common.executions import OPEN_TEAM, Phase

TEAM_DESCRIPTION = "the producer's team, within which the launchId is unique ('_': a deployment without teams)"

MAX_ABORT_REASON = 500  # characters of a client's abort reason that are kept


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    DETAIL_TYPE: ClassVar[str]
    # Left out of the detail when they have no value (every other field is always present).
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    eventId: str | None = Field(default=None, description=EVENT_ID_DESCRIPTION)

    def identity(self) -> tuple[object, ...]:
        """What makes this announcement this one: its repeats have the same (and so the same ``eventId``)."""
        raise NotImplementedError

    def detail(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["eventId"] = event_id(self.DETAIL_TYPE, *self.identity())
        return {k: v for k, v in data.items() if not (k in self.OPTIONAL and v is None)}


class CostEstimate(BaseModel):
    onDemandUsd: float
    spotUsd: float
    basis: str = Field(description="what was priced: Fargate, or the EC2 instance family, and Spot's factor")
    prices: str = Field(description="the list prices' region and date (batchlane.common.cost)")


class LaunchCost(BaseModel):
    """What the launch's attempts used so far (run time times the resources each child asked for),
    and an estimate of its price: a floor (no idle capacity, no start-up), not a bill."""

    vcpuSeconds: float
    memoryGibSeconds: float
    gpuSeconds: float
    estimate: CostEstimate


class TaskStatusChanged(_Event):
    """A launch's phase changed (``kind: phase``), or a large launch made progress (``kind: progress``)."""

    DETAIL_TYPE: ClassVar[str] = STATUS_CHANGED
    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"previousPhase", "reason", "outputsUri", "error", "final", "failures", "cost"}
    )

    kind: Literal["phase", "progress"]
    launchId: str
    team: str = Field(default=OPEN_TEAM, description=TEAM_DESCRIPTION)
    jobId: str | None
    queue: str | None
    phase: Phase
    size: int
    counts: dict[str, int] = Field(
        description="non-zero counts of children per Batch status; for a chunked map "
        "task also WAITING: children of chunks not submitted yet"
    )
    previousPhase: Phase | None = None
    reason: str | None = None
    outputsUri: str | None = None
    error: str | None = None
    final: int | None = Field(default=None, description="progress only: children that are final")
    failures: dict[str, int] | None = Field(
        default=None, description="failed attempts per failure class (docs/status.md), when any failed"
    )
    cost: LaunchCost | None = Field(default=None, description="phase only: usage and estimated price so far")

    def identity(self) -> tuple[object, ...]:
        # A phase is entered once per submission (its jobId); progress is told once per counts.
        if self.kind == "phase":
            return ("phase", self.team, self.launchId, self.jobId, self.phase)
        return ("progress", self.team, self.launchId, self.jobId, self.counts)

    def detail(self) -> dict[str, Any]:
        data = super().detail()
        if self.kind == "phase":  # a phase change always says where it came from, even from nowhere
            data.setdefault("previousPhase", None)
            data.setdefault("reason", self.reason)
        return data

    @classmethod
    def phase_change(
        cls,
        *,
        launch_id: str,
        team: str = OPEN_TEAM,
        job_id: str | None,
        queue: str | None,
        phase: str,
        previous: str | None,
        reason: str,
        size: int,
        counts: dict[str, int],
        outputs_uri: str | None = None,
        error: str | None = None,
        failures: dict[str, int] | None = None,
        cost: dict[str, Any] | None = None,
    ) -> TaskStatusChanged:
        return cls(
            kind="phase",
            launchId=launch_id,
            team=team,
            jobId=job_id,
            queue=queue,
            phase=phase,
            previousPhase=previous,
            reason=reason,
            size=size,
            counts=_non_zero(counts),
            outputsUri=outputs_uri,
            error=error,
            failures=_non_zero(failures or {}) or None,
            cost=LaunchCost.model_validate(cost) if cost else None,
        )

    @classmethod
    def progress(
        cls,
        *,
        launch_id: str,
        team: str = OPEN_TEAM,
        job_id: str | None,
        queue: str | None,
        phase: str,
        size: int,
        counts: dict[str, int],
        failures: dict[str, int] | None = None,
    ) -> TaskStatusChanged:
        final = int(counts.get("SUCCEEDED", 0)) + int(counts.get("FAILED", 0))
        return cls(
            kind="progress",
            launchId=launch_id,
            team=team,
            jobId=job_id,
            queue=queue,
            phase=phase,
            size=size,
            counts=_non_zero(counts),
            final=final,
            failures=_non_zero(failures or {}) or None,
        )


class TaskAbortRejected(_Event):
    """An abort that was not carried out, and why (acknowledged, never retried)."""

    DETAIL_TYPE: ClassVar[str] = ABORT_REJECTED
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"phase"})

    launchId: str | None
    team: str | None = Field(default=None, description="whose launch it names (null: no launch was found)")
    reason: str
    phase: Phase | None = None

    def identity(self) -> tuple[object, ...]:
        return (self.team, self.launchId, self.reason, self.phase)


class TaskChunkDue(_Event):
    """A chunk of a chunked map task may be submitted now: the chunk ``chunk - window`` ended
    (batchlane.common.chunks). For the launcher's queue; duplicates are harmless (it claims the chunk)."""

    DETAIL_TYPE: ClassVar[str] = CHUNK_DUE

    launchId: str
    team: str = Field(default=OPEN_TEAM, description=TEAM_DESCRIPTION)
    chunk: int = Field(ge=0, description="the chunk that is due (0-based)")
    jobId: str | None = Field(
        default=None, description="the launch's first job (chunk 0's): which submission of the launch id is meant"
    )

    def identity(self) -> tuple[object, ...]:
        return (self.team, self.launchId, self.jobId, self.chunk)


class TaskAbortRequested(BaseModel):
    """In: ``{launchId, reason?}``. Read leniently: what cannot be used is answered, not raised."""

    DETAIL_TYPE: ClassVar[str] = ABORT_REQUESTED
    model_config = ConfigDict(frozen=True)

    launchId: str | None = None
    # Whose launch: the producer's own team's when absent; an admin team (abort: any) names another.
    team: str | None = None
    reason: str | None = None

    @classmethod
    def from_detail(cls, detail: Any) -> TaskAbortRequested:
        detail = detail if isinstance(detail, dict) else {}
        launch_id, reason, team = detail.get("launchId"), detail.get("reason"), detail.get("team")
        return cls(
            launchId=launch_id if isinstance(launch_id, str) and launch_id.strip() and len(launch_id) <= 256 else None,
            team=team if isinstance(team, str) and 0 < len(team) <= 64 else None,
            reason=reason[:MAX_ABORT_REASON] if isinstance(reason, str) and reason.strip() else None,
        )


def _non_zero(counts: dict[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in counts.items() if v}


PUBLISHED = (TaskStatusChanged, TaskAbortRejected, TaskChunkDue)  # the status path's outgoing events (schemas)
