"""The status fold: AWS Batch events -> one status per child -> one status per launch (pure).

Batch delivers its events at least once and in any order, so every state is an element of a
join-semilattice and folding an event is a join: commutative, associative and idempotent. Any
permutation of a launch's events, with any duplicates, folds to the same record. The parts:

* batchlane.status.states: the per-child and parent states, their join and their item codec;
* batchlane.status.observations: what one event says (:func:`observe`) and folding it into a
  state (:func:`merge_child`, :func:`merge_parent`);
* batchlane.status.phase: the counts and Flyte's map-task rule (:func:`decide_phase`);
* here: the launch's status from its children (:func:`summarize`) and the in-memory fold of a
  whole event stream (:class:`Fold`, :func:`fold_events`).

No boto3 here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.executions import FINAL_PHASES, Phase
from batchlane.status.events import BatchJobEvent
from batchlane.status.observations import Observation, merge_child, merge_parent, observe
from batchlane.status.phase import decide_phase, min_successes
from batchlane.status.states import STATUSES, ChildState, ParentState, join_optional


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
    parent_status = parent.status if parent else None
    multi_node = launch.get("nodes") is not None
    decision = decide_phase(size, need, counts, parent_status=parent_status, aborted=aborted, multi_node=multi_node)
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
        self.region = join_optional(self.region, obs.region)
        self.partition = join_optional(self.partition, obs.partition)
        if obs.child is not None:
            new, changed = merge_child(self.children.get(obs.child.index), obs.child)
            if changed:
                self.children[new.index] = new
        elif obs.parent is not None:
            self.parent, changed = merge_parent(self.parent, obs.parent)
        else:
            raise ValueError("an observation of neither a child nor a parent")
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
