"""Issue 24: a launch's children in shards of compressed ranges, the summary rolled up at a bounded
rate (with the in-memory fakes of the ports: the conditions the DynamoDB adapters put on writes)."""

from __future__ import annotations

import json

from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, SHARD_CHILDREN, launch_key, shard_key, team_prefix
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, child_events
from batchlane.status.ranges import ChildRange
from batchlane.status.states import Attempt, ChildState
from clock import Clock
from status_fakes import FakeStatusStore, chunk_job_id, chunk_record, chunked_launch, dynamodb_item_bytes, service

SIZE = 2 * SHARD_CHILDREN  # two shards
KEY = launch_key(None, "L")


def events(index: int, plan: ChildPlan | None = None) -> list[dict]:
    """A child of the two-chunk map (a chunk per shard), by global index."""
    chunk, local = divmod(index, SHARD_CHILDREN)
    return child_events(
        chunk_job_id("L", chunk), local, plan or ChildPlan(), tags={LAUNCH_TAG: "L", CHUNK_TAG: str(chunk)}
    )


def running(index: int) -> dict:
    return events(index)[-2]


def ended(index: int, plan: ChildPlan | None = None) -> dict:
    return events(index, plan)[-1]


def send(svc, *events) -> None:
    assert svc.process([(f"m{i}", json.dumps(e)) for i, e in enumerate(events)]) == {}


def counts(store) -> dict[str, int]:
    return {k[2:]: int(v) for k, v in store.summary(KEY).items() if k.startswith("n_") and ":" not in k and v}


def test_shard_keys_begin_with_the_launch_key_and_never_name_another_launch():
    key = launch_key("vision", "run#s0001")  # an id that looks like a shard suffix
    assert shard_key(key, 7).startswith(key + "#") and shard_key(key, 7).startswith(team_prefix("vision"))
    assert shard_key(launch_key("vision", "run"), 1) != key


def test_a_range_of_100_running_children_is_one_small_item():
    states = {
        i: ChildState(i, "RUNNING", 0, attempts=(Attempt(log_stream=f"batchlane-task/default/{i:032x}"),))
        for i in range(100)
    }
    item = {"states": ChildRange(0, states).encode(), "n": ChildRange(0, states).counts(), "rev": 1}
    assert dynamodb_item_bytes(item) < 4096  # a 4 KB write for 100 children
    assert ChildRange.decode(0, item["states"]).states == states
    assert item["n"] == {"SUBMITTED": -100, "RUNNING": 100}


def test_the_summary_is_rolled_up_at_most_once_a_second_but_at_once_when_the_phase_may_change():
    clock = Clock()
    launch = chunked_launch("L", SIZE, chunk_size=SHARD_CHILDREN, window=2, min_success_ratio=0.5)
    store = FakeStatusStore(launch)
    for chunk in (0, 1):
        store.add_chunk(chunk_record(launch, chunk))
    svc = service(store, clock=clock)
    send(svc, running(0), running(SHARD_CHILDREN))  # the chunks' first events: rolled up at once
    assert counts(store) == {"SUBMITTED": -2, "RUNNING": 2}
    send(svc, running(1), running(SHARD_CHILDREN + 1))  # both shards, within the second
    assert store.child(KEY, SHARD_CHILDREN + 1).status == "RUNNING" and counts(store)["RUNNING"] == 2
    clock.advance(1.5)
    send(svc, running(2))
    assert counts(store)["RUNNING"] == 5  # every shard's changes, not only this write's
    send(svc, ended(3, ChildPlan(attempts=(AttemptPlan(outcome="exit"),))))  # a failure: rolled up now
    assert counts(store)["FAILED"] == 1 and store.summary(KEY)["phase"] == "running"
    send(svc, *(ended(i) for i in range(SHARD_CHILDREN, SIZE)))  # shard 1 all final: rolled up now
    assert counts(store)["SUCCEEDED"] == SHARD_CHILDREN
    writes = store.writes
    send(svc, ended(SIZE - 1), running(0))  # duplicates and a stale event: nothing written
    assert store.writes == writes
