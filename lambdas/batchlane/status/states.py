"""The status fold's state types and their item codec (pure): one child, one attempt, an array's parent.

Batch delivers its events at least once and in any order, so every state here is an element of
a join-semilattice and folding an event is a join: commutative, associative and idempotent
(the fold itself: batchlane.status.fold).

Per child (:class:`ChildState`)
    * The child's *position* is the key ``(terminal, n, rank(status))`` where ``n`` is
      ``len(detail.attempts)`` of the event (attempts already finished). A retry sends a child
      from RUNNING back to RUNNABLE with ``n + 1``, so rank alone is not monotonic but the key is.
      Terminal states (SUCCEEDED, FAILED) are absorbing: a terminal event beats every
      non-terminal one whatever its ``n`` (in a true history nothing follows a terminal state,
      so this only matters for inconsistent data, where it keeps the launch from hanging).
    * The top-level fields (status, statusReason, the queue-blocked reason) come from the event
      with the highest key; events with equal keys are joined field by field.
    * Attempts are merged by index, field by field, so the record keeps exit code, reasons and
      log stream of every attempt, including the one that is running now (its log stream comes
      from the RUNNING event's ``container.logStreamName``). Field join: a value beats None,
      two different values resolve to the larger one (deterministic; real data never differs).

The parent of an array job has its own small state (:class:`ParentState`): its terminal event
confirms that every child is final; its ``statusSummary`` may be stale and is only displayed.

No boto3 here. Numbers are ints (epoch ms), so the item forms are ready for DynamoDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, get_args

from batchlane.common.executions import JOB_FINAL_STATUSES
from batchlane.status.events import JobStatus
from batchlane.status.failures import attempt_class, child_class

STATUSES: tuple[str, ...] = get_args(JobStatus)
RANK = {"SUBMITTED": 0, "PENDING": 1, "RUNNABLE": 2, "STARTING": 3, "RUNNING": 4, "FAILED": 5, "SUCCEEDED": 6}
TERMINAL = JOB_FINAL_STATUSES
ACTIVE = frozenset({"STARTING", "RUNNING"})  # an attempt is under way
MAX_ATTEMPTS = 10  # retryStrategy.attempts is 1..10: a bound on the per-child item size


def join_optional(a, b):
    """Join of two optional values: a value beats None; of two values the larger wins."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    return a if a > b else b


# --------------------------------------------------------------------------- attempts
@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a child, as far as the events told. Every field is optional."""

    exit_code: int | None = None
    reason: str | None = None  # container.reason, e.g. "CannotPullContainerError: ..."
    status_reason: str | None = None  # the attempt's statusReason, e.g. "Essential container in task exited"
    log_stream: str | None = None
    started_at: int | None = None  # epoch ms
    stopped_at: int | None = None

    def join(self, o: Attempt) -> Attempt:
        if self == o:
            return self
        return Attempt(
            join_optional(self.exit_code, o.exit_code),
            join_optional(self.reason, o.reason),
            join_optional(self.status_reason, o.status_reason),
            join_optional(self.log_stream, o.log_stream),
            join_optional(self.started_at, o.started_at),
            join_optional(self.stopped_at, o.stopped_at),
        )

    def to_item(self) -> dict[str, Any]:
        item = {}
        for attr, name in _ATTEMPT_FIELDS:
            v = getattr(self, attr)
            if v is not None:
                item[name] = v
        failure = attempt_class(self)  # derived, for readers of the item; from_item ignores it
        if failure is not None:
            item["failureClass"] = failure
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Attempt:
        return cls(
            exit_code=_int_or_none(item.get("exitCode")),
            reason=item.get("reason"),
            status_reason=item.get("statusReason"),
            log_stream=item.get("logStream"),
            started_at=_int_or_none(item.get("startedAt")),
            stopped_at=_int_or_none(item.get("stoppedAt")),
        )


_ATTEMPT_FIELDS = (
    ("exit_code", "exitCode"),
    ("reason", "reason"),
    ("status_reason", "statusReason"),
    ("log_stream", "logStream"),
    ("started_at", "startedAt"),
    ("stopped_at", "stoppedAt"),
)


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)  # DynamoDB numbers come back as Decimal


def _join_attempts(a: tuple[Attempt, ...], b: tuple[Attempt, ...]) -> tuple[Attempt, ...]:
    if a == b:
        return a
    if len(a) < len(b):
        a, b = b, a
    return tuple(x.join(b[i]) if i < len(b) else x for i, x in enumerate(a))


# --------------------------------------------------------------------------- children
@dataclass(frozen=True, slots=True)
class ChildState:
    """What is known about one child (index 0 for a plain job). Compare with ``==``."""

    index: int
    status: str
    n: int  # len(attempts) of the event that set `status`: attempts finished at that point
    status_reason: str | None = None
    blocked: str | None = None  # "Batch Job Queue Blocked" reason, while RUNNABLE at this n
    log_group: str | None = None  # the job's own awslogs-group, when its events carry it
    attempts: tuple[Attempt, ...] = ()

    @property
    def key(self) -> tuple[bool, int, int]:
        return (self.status in TERMINAL, self.n, RANK[self.status])

    @property
    def final(self) -> bool:
        return self.status in TERMINAL

    @property
    def attempt_count(self) -> int:
        """Attempts started so far (the running one included)."""
        return max(len(self.attempts), self.n)

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def join(self, o: ChildState) -> ChildState:
        if self == o:
            return self
        if self.index != o.index:
            raise ValueError(f"cannot join child {self.index} with child {o.index}")
        ka, kb = self.key, o.key
        attempts = _join_attempts(self.attempts, o.attempts)
        log_group = join_optional(self.log_group, o.log_group)
        if ka > kb:
            top = self
        elif kb > ka:
            top = o
        else:  # same position: join the position-level fields too
            return ChildState(
                self.index,
                self.status,
                self.n,
                join_optional(self.status_reason, o.status_reason),
                join_optional(self.blocked, o.blocked),
                log_group,
                attempts,
            )
        return ChildState(self.index, top.status, top.n, top.status_reason, top.blocked, log_group, attempts)

    # A compact, float-free form for one DynamoDB item per child (the adapter adds its keys).
    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"index": self.index, "status": self.status, "n": self.n}
        if self.status_reason is not None:
            item["statusReason"] = self.status_reason
        if self.blocked is not None:
            item["blocked"] = self.blocked
        if self.log_group is not None:
            item["logGroup"] = self.log_group
        if self.attempts:
            item["attempts"] = [a.to_item() for a in self.attempts]
        failure = child_class(self)  # derived, like the attempts' failureClass
        if failure is not None:
            item["failureClass"] = failure
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ChildState:
        status = item["status"]
        if status not in RANK:
            raise ValueError(f"unknown status {status!r} in child item")
        return cls(
            index=int(item["index"]),
            status=status,
            n=int(item["n"]),
            status_reason=item.get("statusReason"),
            blocked=item.get("blocked"),
            log_group=item.get("logGroup"),
            attempts=tuple(Attempt.from_item(a) for a in item.get("attempts") or ()),
        )


@dataclass(frozen=True, slots=True)
class ParentState:
    """The parent of an array job: SUBMITTED -> PENDING -> SUCCEEDED | FAILED."""

    status: str
    status_reason: str | None = None
    size: int | None = None
    status_summary: tuple[tuple[str, int], ...] = ()  # as Batch reported it: may be stale
    summary_at: int = 0  # statusSummaryLastUpdatedAt (epoch ms), 0 when absent
    blocked: str | None = None

    @property
    def key(self) -> tuple[bool, int]:
        return (self.status in TERMINAL, RANK[self.status])

    @property
    def final(self) -> bool:
        return self.status in TERMINAL

    def join(self, o: ParentState) -> ParentState:
        if self == o:
            return self
        ka, kb = self.key, o.key
        newer = self if (self.summary_at, self.status_summary) >= (o.summary_at, o.status_summary) else o
        if ka != kb:
            top = self if ka > kb else o
            return replace(
                top,
                size=join_optional(self.size, o.size),
                status_summary=newer.status_summary,
                summary_at=newer.summary_at,
            )
        return ParentState(
            self.status,
            join_optional(self.status_reason, o.status_reason),
            join_optional(self.size, o.size),
            newer.status_summary,
            newer.summary_at,
            join_optional(self.blocked, o.blocked),
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"status": self.status}
        if self.status_reason is not None:
            item["statusReason"] = self.status_reason
        if self.size is not None:
            item["size"] = self.size
        if self.status_summary:
            item["statusSummary"] = dict(self.status_summary)
            item["summaryAt"] = self.summary_at
        if self.blocked is not None:
            item["blocked"] = self.blocked
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ParentState:
        return cls(
            status=item["status"],
            status_reason=item.get("statusReason"),
            size=_int_or_none(item.get("size")),
            status_summary=tuple(sorted((k, int(v)) for k, v in (item.get("statusSummary") or {}).items())),
            summary_at=int(item.get("summaryAt") or 0),
            blocked=item.get("blocked"),
        )
