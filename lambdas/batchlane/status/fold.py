"""The status fold: AWS Batch events -> one status per child -> one status per launch (pure).

Batch delivers its events at least once and in any order, so every state here is an element of
a join-semilattice and folding an event is a join: commutative, associative and idempotent.
Any permutation of a launch's events, with any duplicates, folds to the same record.

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
    * :func:`merge_child` returns ``(new_state, changed)``: ``changed`` is False for a
      duplicate or stale event, so the aggregator writes a child item only when it advances.

Per launch
    * The parent of an array job has its own small state (:class:`ParentState`): its terminal
      event confirms that every child is final; its ``statusSummary`` may be stale and is only
      displayed, never counted. A SUCCEEDED parent proves every child SUCCEEDED, so children
      whose events were missed count as succeeded; a FAILED parent with children not final in
      the record asks for reconciliation.
    * :func:`summarize` / :func:`decide_phase` apply Flyte's map-task rule:
      ``min_successes = ceil(min_success_ratio * size)``; succeed when every child is final and
      successes >= min_successes; fail as soon as successes + non-final < min_successes, and
      report the non-final children so the caller can stop them.
    * Counts per Batch status always sum to ``size``: a child without any event yet counts as
      SUBMITTED (Batch sends no SUBMITTED event). :func:`count_delta` gives the change of the
      counts for one child transition, so a per-launch summary can be kept with atomic adds.

No boto3 here. Numbers are ints (epoch ms), so the item forms are ready for DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any, get_args

from batchlane.common.executions import FINAL_PHASES, JOB_FINAL_STATUSES, Phase
from batchlane.status.events import MAX_TEXT, BatchJobEvent, JobDetail, JobStatus, MalformedEvent, parse_event, truncate
from batchlane.status.failures import attempt_class, child_class

STATUSES: tuple[str, ...] = get_args(JobStatus)
RANK = {"SUBMITTED": 0, "PENDING": 1, "RUNNABLE": 2, "STARTING": 3, "RUNNING": 4, "FAILED": 5, "SUCCEEDED": 6}
TERMINAL = JOB_FINAL_STATUSES
ACTIVE = frozenset({"STARTING", "RUNNING"})  # an attempt is under way
MAX_ATTEMPTS = 10  # retryStrategy.attempts is 1..10: a bound on the per-child item size
# Not a Batch status: children of a chunked map task's chunks that are not submitted yet (waiting
# for a slot under maxConcurrency). Counted in a chunked launch's counts only; never final.
WAITING = "WAITING"


def _j(a, b):
    """Join of two optional values: a value beats None; of two values the larger wins."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    return a if a > b else b


def _text(s: str | None) -> str | None:
    return truncate(s, MAX_TEXT) if s else None  # parse_event has cut it already; "" means none


def _ms(v: int | None) -> int | None:
    return v if v else None  # Batch reports startedAt 0 for an attempt that never started


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
            _j(self.exit_code, o.exit_code),
            _j(self.reason, o.reason),
            _j(self.status_reason, o.status_reason),
            _j(self.log_stream, o.log_stream),
            _j(self.started_at, o.started_at),
            _j(self.stopped_at, o.stopped_at),
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
_EMPTY_ATTEMPT = Attempt()


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
        log_group = _j(self.log_group, o.log_group)
        if ka > kb:
            top = self
        elif kb > ka:
            top = o
        else:  # same position: join the position-level fields too
            return ChildState(
                self.index,
                self.status,
                self.n,
                _j(self.status_reason, o.status_reason),
                _j(self.blocked, o.blocked),
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
                top, size=_j(self.size, o.size), status_summary=newer.status_summary, summary_at=newer.summary_at
            )
        return ParentState(
            self.status,
            _j(self.status_reason, o.status_reason),
            _j(self.size, o.size),
            newer.status_summary,
            newer.summary_at,
            _j(self.blocked, o.blocked),
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


# --------------------------------------------------------------------------- events -> observations
@dataclass(frozen=True, slots=True)
class Observation:
    """What one event says: about one child, or about the parent of an array job."""

    job_id: str  # the launch's Batch job id (a child's id without ":<index>")
    region: str
    partition: str
    child: ChildState | None = None
    parent: ParentState | None = None


def _attempt_from_detail(a) -> Attempt:
    c = a.container
    if c is None:
        return Attempt(status_reason=_text(a.status_reason), started_at=_ms(a.started_at), stopped_at=_ms(a.stopped_at))
    return Attempt(
        c.exit_code,
        _text(c.reason),
        _text(a.status_reason),
        c.log_stream_name or None,
        _ms(a.started_at),
        _ms(a.stopped_at),
    )


def child_from_detail(d: JobDetail, index: int, *, queue_blocked: bool = False) -> ChildState:
    """The state one event shows for one child (plain job: index 0)."""
    status = d.status
    if status not in RANK:
        raise MalformedEvent(f"unknown Batch job status {status!r}")
    finished = d.attempts
    n = min(len(finished), MAX_ATTEMPTS)
    attempts = [_attempt_from_detail(a) for a in finished[:MAX_ATTEMPTS]]
    c = d.container
    if status in ACTIVE and n < MAX_ATTEMPTS:
        # The attempt under way is not in `attempts` yet: its log stream is the container's
        # (unless that is a stale copy of an earlier attempt's stream).
        stream = (c.log_stream_name or None) if c is not None else None  # "": no stream, no link
        if stream and any(a.log_stream == stream for a in attempts):
            stream = None
        attempts.append(Attempt(log_stream=stream, started_at=_ms(d.started_at) if status == "RUNNING" else None))
    elif status in TERMINAL and c is not None and (c.log_stream_name or c.exit_code is not None or c.reason):
        # The container section repeats the last attempt: fill what the attempt record lacks.
        extra = Attempt(c.exit_code, _text(c.reason), None, c.log_stream_name or None)
        if attempts:
            last = attempts[-1]
            if extra.log_stream is None or last.log_stream in (None, extra.log_stream):
                attempts[-1] = Attempt(
                    last.exit_code if last.exit_code is not None else extra.exit_code,
                    last.reason or extra.reason,
                    last.status_reason,
                    last.log_stream or extra.log_stream,
                    last.started_at,
                    last.stopped_at,
                )
        else:
            attempts.append(replace(extra, started_at=_ms(d.started_at), stopped_at=_ms(d.stopped_at)))
    reason = _text(d.status_reason)
    return ChildState(
        index=index,
        status=status,
        n=n,
        status_reason=None if queue_blocked else reason,
        blocked=reason if queue_blocked else None,
        log_group=d.log_group,
        attempts=tuple(attempts),
    )


def parent_from_detail(d: JobDetail, *, queue_blocked: bool = False) -> ParentState:
    status = d.status
    if status not in RANK:
        raise MalformedEvent(f"unknown Batch job status {status!r}")
    ap = d.array_properties
    summary = tuple(sorted((ap.status_summary or {}).items())) if ap is not None else ()
    reason = _text(d.status_reason)
    return ParentState(
        status=status,
        status_reason=None if queue_blocked else reason,
        size=ap.size if ap is not None else None,
        status_summary=summary,
        summary_at=(ap.status_summary_last_updated_at or 0) if ap is not None else 0,
        blocked=reason if queue_blocked else None,
    )


def observe(event: BatchJobEvent | Mapping[str, Any] | str) -> Observation:
    """Classify one event: a child of an array (``arrayProperties.index``), the parent of an
    array (``arrayProperties.size``), or a plain job (child 0). Raises ForeignEvent/MalformedEvent."""
    if not isinstance(event, BatchJobEvent):
        event = parse_event(event)
    d = event.detail
    blocked = event.is_queue_blocked
    common = {"job_id": d.parent_job_id, "region": event.region, "partition": event.partition}
    index = d.child_index  # 0..MAX_INDEX: parse_event rejects any other
    if index is not None:
        return Observation(**common, child=child_from_detail(d, index, queue_blocked=blocked))
    if d.is_array_parent:
        return Observation(**common, parent=parent_from_detail(d, queue_blocked=blocked))
    return Observation(**common, child=child_from_detail(d, 0, queue_blocked=blocked))


def merge_child(
    old: ChildState | None, event: BatchJobEvent | Observation | ChildState | Mapping[str, Any]
) -> tuple[ChildState, bool]:
    """Fold one event into one child's state: ``(new_state, changed)``.

    ``changed`` is False exactly when the event adds nothing (duplicate or stale): the
    aggregator then issues no write. ``event`` may be a parsed event, an :class:`Observation`
    or a child state (e.g. built by the reconciler from DescribeJobs)."""
    if isinstance(event, ChildState):
        new = event
    else:
        obs = event if isinstance(event, Observation) else observe(event)
        if obs.child is None:
            raise ValueError("an array parent's event: use merge_parent")
        new = obs.child
    if old is None:
        return new, True
    joined = old.join(new)
    return joined, joined != old


def merge_parent(
    old: ParentState | None, event: BatchJobEvent | Observation | ParentState | Mapping[str, Any]
) -> tuple[ParentState, bool]:
    if isinstance(event, ParentState):
        new = event
    else:
        obs = event if isinstance(event, Observation) else observe(event)
        if obs.parent is None:
            raise ValueError("not an array parent's event: use merge_child")
        new = obs.parent
    if old is None:
        return new, True
    joined = old.join(new)
    return joined, joined != old


# --------------------------------------------------------------------------- counts
def count_delta(old_status: str | None, new_status: str) -> dict[str, int]:
    """Change of the per-status counts when one child goes from ``old_status`` (None: no event
    seen yet, counted as SUBMITTED) to ``new_status``. Empty when the status did not change."""
    old = old_status or "SUBMITTED"
    if old == new_status:
        return {}
    return {old: -1, new_status: 1}


def add_deltas(total: dict[str, int], delta: Mapping[str, int]) -> dict[str, int]:
    """Accumulate deltas in place (one summary update per Lambda batch); zeros are dropped."""
    for k, v in delta.items():
        s = total.get(k, 0) + v
        if s:
            total[k] = s
        else:
            total.pop(k, None)
    return total


def initial_counts(size: int, waiting: int | None = None) -> dict[str, int]:
    """Counts before any event: every child SUBMITTED; with ``waiting`` (a chunked map task) that
    many WAITING instead (the chunks not submitted at launch) and a WAITING count even when 0."""
    counts = {s: (size - (waiting or 0) if s == "SUBMITTED" else 0) for s in STATUSES}
    if waiting is not None:
        counts[WAITING] = waiting
    return counts


def min_successes(size: int, ratio: Any = 1) -> int:
    """Flyte's ``ceil(min_success_ratio * size)``, computed in decimal (0.7 * 10 is 7, not 8).
    The ratio is clamped to [0, 1]; None means 1."""
    r = Decimal(1) if ratio is None else ratio if isinstance(ratio, Decimal) else Decimal(str(ratio))
    if not r.is_finite():
        raise ValueError(f"minSuccessRatio must be a number, not {ratio!r}")
    r = min(max(r, Decimal(0)), Decimal(1))
    return int((r * size).to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class PhaseDecision:
    phase: Phase
    reason: str
    succeeded: int  # counted successes, inferred ones (SUCCEEDED parent) included
    failed: int
    non_final: int
    needs_reconcile: bool = False  # the parent is final but some children are not, in the record

    @property
    def terminate(self) -> bool:
        """The launch has failed while children still run or wait: stop them (TerminateJob)."""
        return self.phase == "failed" and self.non_final > 0


def decide_phase(
    size: int, min_succ: int, counts: Mapping[str, int], *, parent_status: str | None = None, aborted: bool = False
) -> PhaseDecision:
    """Launch phase from the per-status counts (which sum to ``size``); Flyte's map-task rule."""
    succeeded = int(counts.get("SUCCEEDED", 0))
    failed = int(counts.get("FAILED", 0))
    non_final = size - succeeded - failed
    reconcile = False
    if parent_status == "SUCCEEDED" and non_final > 0:
        # A SUCCEEDED array parent proves every child SUCCEEDED: their events were missed.
        succeeded += non_final
        non_final = 0
        reconcile = True
    elif parent_status == "FAILED" and non_final > 0:
        reconcile = True  # every child is final in Batch; the record lacks some outcomes

    def d(phase: Phase, reason: str) -> PhaseDecision:
        return PhaseDecision(phase, reason, succeeded, failed, non_final, reconcile)

    if non_final == 0 and succeeded >= min_succ:
        return d("succeeded", f"{succeeded} of {size} succeeded ({min_succ} needed)")
    if aborted:
        return d("aborted", "aborted on request")
    if succeeded + non_final < min_succ:
        return d("failed", f"{failed} of {size} failed: at most {succeeded + non_final} can succeed, {min_succ} needed")
    if int(counts.get("RUNNING", 0)) > 0 or succeeded + failed > 0:
        return d("running", f"{int(counts.get('RUNNING', 0))} running, {succeeded + failed} of {size} final")
    waiting = int(counts.get(WAITING, 0))
    return d("queued", f"{size} waiting to run" + (f" ({waiting} waiting for a slot)" if waiting else ""))


# --------------------------------------------------------------------------- launch summary
@dataclass(frozen=True)
class LaunchStatus:
    launch_id: str | None
    job_id: str | None
    queue: str | None
    size: int
    is_array: bool
    phase: Phase
    reason: str
    counts: dict[str, int]  # children per Batch status, summing to size
    min_successes: int
    succeeded: int
    failed: int
    non_final: tuple[int, ...]  # indexes of children not final in the record
    terminate: bool  # failed while children are not final: TerminateJob them (the parent)
    needs_reconcile: bool  # the parent is final, some children are not in the record
    blocked: str | None  # a Queue Blocked reason that applies now
    children: tuple[ChildState, ...]  # children with at least one event, by index
    parent: ParentState | None = None

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES


def summarize(
    launch: Mapping[str, Any],
    children: Iterable[ChildState] | Mapping[int, ChildState],
    parent: ParentState | None = None,
    *,
    aborted: bool = False,
) -> LaunchStatus:
    """The launch status from the launch record (docs/contracts.md) and its children's states.

    Children whose index is outside ``0..size-1`` are ignored (they cannot belong to it)."""
    size = int(launch.get("size") or 1)
    is_array = bool(launch.get("isArray", size > 1))
    need = min_successes(size, launch.get("minSuccessRatio", 1))
    items = children.values() if isinstance(children, Mapping) else children
    by_index: dict[int, ChildState] = {}
    for c in items:
        if 0 <= c.index < size:
            prev = by_index.get(c.index)
            by_index[c.index] = c if prev is None else prev.join(c)
    ordered = tuple(by_index[i] for i in sorted(by_index))
    counts = dict.fromkeys(STATUSES, 0)
    for c in ordered:
        counts[c.status] += 1
    counts["SUBMITTED"] += size - len(ordered)
    decision = decide_phase(size, need, counts, parent_status=parent.status if parent else None, aborted=aborted)
    non_final = (
        tuple(i for i in range(size) if i not in by_index or not by_index[i].final)
        if decision.non_final or decision.needs_reconcile
        else ()
    )
    return LaunchStatus(
        launch_id=launch.get("launchId"),
        job_id=launch.get("jobId"),
        queue=launch.get("queue"),
        size=size,
        is_array=is_array,
        phase=decision.phase,
        reason=decision.reason,
        counts=counts,
        min_successes=need,
        succeeded=decision.succeeded,
        failed=decision.failed,
        non_final=non_final,
        terminate=decision.terminate,
        needs_reconcile=decision.needs_reconcile,
        blocked=_blocked(ordered, parent, decision.phase),
        children=ordered,
        parent=parent,
    )


def _blocked(children: tuple[ChildState, ...], parent: ParentState | None, phase: str) -> str | None:
    if phase in FINAL_PHASES:
        return None
    for c in children:
        if c.blocked and c.status == "RUNNABLE":
            return c.blocked
    if parent is not None and parent.blocked and not parent.final and phase == "queued":
        return parent.blocked
    return None


@dataclass
class Fold:
    """In-memory fold of a whole event stream (the replay CLI, tests, the bench)."""

    job_id: str | None = None  # when set, events of other Batch jobs are skipped
    children: dict[int, ChildState] = field(default_factory=dict)
    parent: ParentState | None = None
    region: str | None = None
    partition: str | None = None
    skipped: int = 0  # events of another job
    changed: int = 0  # merges that changed a state (= writes the aggregator would issue)
    seen: int = 0

    def add(self, event: BatchJobEvent | Observation | Mapping[str, Any] | str) -> bool:
        obs = event if isinstance(event, Observation) else observe(event)
        self.seen += 1
        if self.job_id is not None and obs.job_id != self.job_id:
            self.skipped += 1
            return False
        self.region = _j(self.region, obs.region)
        self.partition = _j(self.partition, obs.partition)
        if obs.child is not None:
            new, changed = merge_child(self.children.get(obs.child.index), obs.child)
            if changed:
                self.children[new.index] = new
        else:
            self.parent, changed = merge_parent(self.parent, obs.parent)
        self.changed += changed
        return changed

    def status(self, launch: Mapping[str, Any], *, aborted: bool = False) -> LaunchStatus:
        return summarize(launch, self.children, self.parent, aborted=aborted)


def fold_events(launch: Mapping[str, Any], events: Iterable[Any], *, aborted: bool = False) -> LaunchStatus:
    """Fold every event of a launch (any order, any duplicates) and summarize it."""
    f = Fold(job_id=launch.get("jobId"))
    for e in events:
        f.add(e)
    return f.status(launch, aborted=aborted)


__all__ = [
    "ACTIVE",
    "WAITING",
    "Attempt",
    "ChildState",
    "Fold",
    "LaunchStatus",
    "MAX_ATTEMPTS",
    "Observation",
    "ParentState",
    "Phase",
    "PhaseDecision",
    "RANK",
    "STATUSES",
    "TERMINAL",
    "add_deltas",
    "child_from_detail",
    "count_delta",
    "decide_phase",
    "fold_events",
    "initial_counts",
    "merge_child",
    "merge_parent",
    "min_successes",
    "observe",
    "parent_from_detail",
    "summarize",
]
