"""A chunked map task on the status path (StatusService over in-memory fakes): chunk jobs resolved
by their tags, children at global indexes, WAITING counted exactly whatever the event order,
"Task Chunk Due" once per ended chunk and never after the launch ended, every chunk job stopped
on failure and abort, outputs in global order.

The layout used throughout: 10 children in chunks of 3 with 2 in flight: chunks 0 [0-2], 1 [3-5],
2 [6-8] and 3 [9] (a plain Batch job); 0 and 1 go at launch, chunk 0's end makes 2 due, 1's makes 3 due.
"""

from __future__ import annotations

import json
import random

import pytest

from batchlane.common.event_types import CHUNK_DUE, STATUS_CHANGED
from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, chunk_parent_sk, launch_key
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status.commit import due_chunks
from batchlane.status.models import TaskAbortRequested
from batchlane.status.transitions import counts_of
from port_fakes import FakeAnnouncer
from status_fakes import (
    FakeOutputs,
    FakeStatusStore,
    assembled_uri,
    child_uri,
    chunk_job_id,
    chunk_record,
    chunked_launch,
    part_uri,
    service,
)

SIZE, CHUNK, WINDOW = 10, 3, 2
OUTPUTS = {child_uri("L", i): {"y": i * 10} for i in range(SIZE)}


def records(events, start=0):
    return [(f"m{start + i}", json.dumps(e)) for i, e in enumerate(events)]


def setup(*submitted, min_success_ratio=1.0):
    launch = chunked_launch("L", SIZE, chunk_size=CHUNK, window=WINDOW, min_success_ratio=min_success_ratio)
    store = FakeStatusStore(launch)
    for c in submitted:
        store.add_chunk(chunk_record(launch, c))
    outputs = FakeOutputs(OUTPUTS)
    return launch, store, outputs, service(store, outputs=outputs, announcer=FakeAnnouncer())


def chunk_events(launch, chunk, plans=None, *, seed=0, tags=True):
    n = launch.chunks.chunk_len(chunk)
    plans = plans or [ChildPlan(pending=True)] * n
    tag = {LAUNCH_TAG: launch.launch_id, CHUNK_TAG: str(chunk)} if tags else None
    return launch_events(chunk_job_id(launch.launch_id, chunk), plans, rng=random.Random(seed), tags=tag)


def counts(store, launch):
    return counts_of(store.summary(launch.key), launch.size, launch.chunks)


def dues(svc):
    return [d["chunk"] for d in svc.phases.announcer.of(CHUNK_DUE)]


def phases(svc):
    return [d["phase"] for d in svc.phases.announcer.of(STATUS_CHANGED) if d["kind"] == "phase"]


def test_chunks_run_as_one_launch_waiting_shrinks_as_chunks_arrive_and_each_end_makes_one_chunk_due():
    launch, store, outputs, svc = setup(0, 1)
    for e in chunk_events(launch, 0):
        assert svc.process(records([e])) == {}
    assert counts(store, launch)["WAITING"] == 4  # chunks 2 and 3
    assert counts(store, launch)["SUCCEEDED"] == 3
    assert dues(svc) == [2]
    for e in chunk_events(launch, 1):
        assert svc.process(records([e])) == {}
    assert dues(svc) == [2, 3]
    # Six of ten succeeded, four wait: the launch is not done.
    assert store.summary(launch_key(None, "L"))["phase"] == "running" and not outputs.written
    store.add_chunk(chunk_record(launch, 2))
    store.add_chunk(chunk_record(launch, 3))
    for e in chunk_events(launch, 2) + chunk_events(launch, 3):
        assert svc.process(records([e])) == {}
    assert counts(store, launch) == {**dict.fromkeys(counts(store, launch), 0), "SUCCEEDED": SIZE}
    assert phases(svc) == ["queued", "running", "succeeded"]
    assert dues(svc) == [2, 3]  # once each, nothing after the last chunks
    assert outputs.written == [(assembled_uri("L"), {"y": [i * 10 for i in range(SIZE)]})]
    assert sorted(store.all_children(launch_key(None, "L")), key=lambda c: c.index) == store.all_children(
        launch_key(None, "L")
    )
    assert [c.index for c in store.all_children(launch_key(None, "L"))] == list(range(SIZE))
    assert [store.parent(launch_key(None, "L"), chunk_parent_sk(c)).status for c in range(3)] == ["SUCCEEDED"] * 3
    assert (
        store.parent(launch_key(None, "L"), chunk_parent_sk(3)).status == "SUCCEEDED"
    )  # a plain chunk job: its child's
    assert not due_chunks(store.summary(launch_key(None, "L"))) and "transitionToken" not in store.summary(
        launch_key(None, "L")
    )


def test_the_phase_names_the_children_waiting_for_a_slot_while_nothing_runs():
    launch, store, _, svc = setup(0, 1)
    svc.process(records(chunk_events(launch, 0)[:1]))  # chunk 0's parent PENDING
    summary = store.summary(launch_key(None, "L"))
    assert summary["phase"] == "queued" and "4 waiting for a slot" in summary["reason"]


@pytest.mark.parametrize("seed", range(6))
def test_counts_are_exact_whatever_the_order_duplicates_and_batching_of_every_chunk_events(seed):
    rng = random.Random(seed)
    launch, store, outputs, svc = setup(0, 1, 2, 3)
    plans = {
        c: [
            ChildPlan(pending=True, attempts=(AttemptPlan("exit", 1), AttemptPlan()))
            if rng.random() < 0.3
            else ChildPlan(pending=True)
        ]
        * launch.chunks.chunk_len(c)
        for c in range(4)
    }
    events = [e for c in range(4) for e in chunk_events(launch, c, plans[c], seed=seed)]
    events += rng.sample(events, len(events) // 3)  # redeliveries
    rng.shuffle(events)
    k = 0
    while k < len(events):
        n = rng.randint(1, 10)
        assert svc.process(records(events[k : k + n], k)) == {}
        k += n
        now = counts(store, launch)
        assert sum(now.values()) == SIZE and min(now.values()) >= 0
    assert counts(store, launch)["SUCCEEDED"] == SIZE and counts(store, launch)["WAITING"] == 0
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    assert len(dues(svc)) == len(set(dues(svc))) and set(dues(svc)) <= {2, 3}
    assert outputs.written[-1][1] == {"y": [i * 10 for i in range(SIZE)]}


def test_a_failed_child_fails_the_whole_map_stops_every_chunk_job_and_no_chunk_is_due_after():
    launch, store, _, svc = setup(0, 1)
    plans = [
        ChildPlan(pending=True),
        ChildPlan(pending=True, attempts=(AttemptPlan("exit", 2),)),
        ChildPlan(pending=True),
    ]
    events = chunk_events(launch, 0, plans)
    fail_at = next(
        i
        for i, e in enumerate(events)
        if e["detail"]["status"] == "FAILED" and "index" in e["detail"].get("arrayProperties", {})
    )
    for e in events[: fail_at + 1]:
        svc.process(records([e]))
    summary = store.summary(launch_key(None, "L"))
    assert summary["phase"] == "failed"
    reason = f"batchlane: launch failed ({summary['reason']})"
    assert svc.phases.jobs.terminated == [(chunk_job_id("L", 0), reason), (chunk_job_id("L", 1), reason)]
    for e in events[fail_at + 1 :]:  # chunk 0 ends (its parent FAILED): chunk 2 would be due
        svc.process(records([e]))
    assert dues(svc) == []
    # Chunk 2 was submitted while the launch failed (its record had no job when the jobs were stopped).
    store.add_chunk(chunk_record(launch, 2))
    svc.process(records(chunk_events(launch, 2)[:2]))
    assert svc.phases.jobs.terminated[-1][0] == chunk_job_id("L", 2)
    assert len(svc.phases.jobs.terminated) == 3


def test_min_success_ratio_holds_over_all_children_of_all_chunks():
    launch, store, outputs, svc = setup(0, 1, 2, 3, min_success_ratio=0.8)
    failing = [ChildPlan(pending=True, attempts=(AttemptPlan("exit", 1),))] + [ChildPlan(pending=True)] * 2
    for c in range(4):
        plans = failing if c in (0, 2) else None  # two of ten fail: 8 succeed, 8 needed
        assert svc.process(records(chunk_events(launch, c, plans))) == {}
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    ys = [None if i in (0, 6) else i * 10 for i in range(SIZE)]
    assert outputs.written == [(assembled_uri("L"), {"y": ys})]
    assert store.summary(launch_key(None, "L"))["error"].startswith("[0][6]: ")


def test_abort_stops_every_submitted_chunk_job():
    launch, store, _, svc = setup(0, 1)
    store.add_chunk(chunk_record(launch, 2, submitted=False))  # being submitted: stopped by its first event
    svc.process(records(chunk_events(launch, 0)[:2]))
    svc.aborter.abort(TaskAbortRequested(launchId="L", reason="user"))
    assert [j for j, _ in svc.phases.jobs.terminated] == [chunk_job_id("L", 0), chunk_job_id("L", 1)]
    assert store.summary(launch_key(None, "L"))["phase"] == "aborted"


def test_a_chunk_job_not_recorded_yet_is_retried_and_one_naming_another_job_is_foreign():
    launch, store, _, svc = setup(0, 1)
    store.add_chunk(chunk_record(launch, 2, submitted=False))
    pending = chunk_events(launch, 2)[:1]
    assert list(svc.process(records(pending))) == ["m0"]  # LaunchNotFound: retried
    wrong = chunk_events(launch, 1)[:1]
    wrong[0]["detail"]["tags"][CHUNK_TAG] = "0"  # chunk 1's job claiming to be chunk 0
    assert svc.process(records(wrong)) == {}
    assert svc.metrics.counts["StatusEventForeign"] == 1
    assert store.summary(launch_key(None, "L")) is None


def test_an_untagged_chunk_job_is_found_by_its_job_id():
    launch, store, _, svc = setup(0, 1)
    assert svc.process(records(chunk_events(launch, 1, tags=False))) == {}
    assert [c.index for c in store.all_children(launch_key(None, "L"))] == [3, 4, 5]


def test_a_chunk_due_lost_to_a_failed_publish_is_announced_by_the_redelivery_once():
    launch, store, _, svc = setup(0, 1)
    announcer = svc.phases.announcer
    publish = announcer.publish
    failing = {"left": 1}

    def flaky(detail_type, detail):
        if detail_type == CHUNK_DUE and failing["left"]:
            failing["left"] -= 1
            raise ConnectionError("PutEvents timed out")
        publish(detail_type, detail)

    announcer.publish = flaky
    batch = records(chunk_events(launch, 0))
    assert list(svc.process(batch)) == [m for m, _ in batch]  # the batch is retried
    assert due_chunks(store.summary(launch_key(None, "L"))) == {"due_000002": 2}  # kept until announced
    assert svc.process(batch) == {}  # the redelivery: duplicates, nothing written, the due announced
    assert dues(svc) == [2]
    assert svc.process(batch) == {} and dues(svc) == [2]


def test_the_status_document_counts_the_children_waiting_for_a_slot():
    from batchlane.client.view import record_document

    launch, store, _, svc = setup(0, 1)
    svc.process(records(chunk_events(launch, 0)[:4]))
    items = [launch.to_item(), {**store.summary(launch_key(None, "L")), "launchId": "L", "sk": "status"}]
    doc = record_document(items, store.all_children(launch_key(None, "L")))
    assert doc["waiting"] == 4 and doc["counts"]["WAITING"] == 4
    assert sum(doc["counts"].values()) == SIZE
    assert doc["chunks"] == {"size": CHUNK, "count": 4, "window": WINDOW}


PART = part_uri("L", 0).removesuffix("000000") + "{:06d}"


def test_each_succeeded_chunk_keeps_its_outputs_part_and_the_finish_reads_only_the_children_without_one():
    # Layout: chunks 0-2 are array jobs of 3 (a part each, read when they end), chunk 3 a plain job of one.
    launch, store, outputs, svc = setup(0, 1, 2, 3)
    for c in range(3):
        svc.process(records(chunk_events(launch, c)))
        assert PART.format(c) in outputs.blobs and not outputs.written
    assert outputs.reads == 9 and PART.format(3) not in outputs.blobs
    svc.process(records(chunk_events(launch, 3)))
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    assert outputs.written == [(assembled_uri("L"), {"y": [i * 10 for i in range(SIZE)]})]
    assert outputs.reads == 10  # the finish read only chunk 3's child; the rest came from the parts


@pytest.mark.parametrize("damage", ["missing", "corrupt", "another chunk's"])
def test_a_missing_or_damaged_part_is_rebuilt_from_the_children(damage):
    launch, store, outputs, svc = setup(0, 1, 2, 3)
    for c in range(3):
        svc.process(records(chunk_events(launch, c)))
    if damage == "missing":
        del outputs.blobs[PART.format(1)]
    else:
        outputs.blobs[PART.format(1)] = b"{\n" if damage == "corrupt" else outputs.blobs[PART.format(0)]  # same size
    svc.process(records(chunk_events(launch, 3)))
    assert outputs.written == [(assembled_uri("L"), {"y": [i * 10 for i in range(SIZE)]})]
    assert outputs.reads == 9 + 3 + 1  # chunk 1's children again, and chunk 3's


def test_a_failed_chunk_keeps_no_part_and_its_succeeded_children_are_read_at_the_finish():
    launch, store, outputs, svc = setup(0, 1, 2, 3, min_success_ratio=0.8)
    failing = [ChildPlan(pending=True, attempts=(AttemptPlan("exit", 1),))] + [ChildPlan(pending=True)] * 2
    for c in range(4):
        svc.process(records(chunk_events(launch, c, failing if c == 2 else None)))
    assert sorted(outputs.blobs) == [PART.format(0), PART.format(1)]  # chunk 2's parent FAILED
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    ys = [None if i == 6 else i * 10 for i in range(SIZE)]
    assert outputs.written == [(assembled_uri("L"), {"y": ys})]


def test_a_part_that_cannot_be_written_fails_nothing():
    launch, store, outputs, svc = setup(0, 1, 2, 3)

    def refused(uri, body):
        raise RuntimeError("S3 said no")

    outputs.write_bytes = refused
    for c in range(4):
        assert svc.process(records(chunk_events(launch, c))) == {}
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    assert outputs.written[-1][1] == {"y": [i * 10 for i in range(SIZE)]}
    assert svc.metrics.counts.get("OutputsPartFailed") == 3


def test_the_next_chunk_is_announced_before_the_ended_chunk_s_outputs_are_read():
    # The slot a chunk frees is used at once: reading its outputs (up to maxArraySize objects) comes after.
    launch, store, outputs, svc = setup(0, 1)
    announced_at_part: dict[str, list[int]] = {}
    keep = outputs.write_bytes

    def write_bytes(uri, body):
        announced_at_part[uri] = dues(svc)
        keep(uri, body)

    outputs.write_bytes = write_bytes
    svc.process(records(chunk_events(launch, 0)))
    assert announced_at_part == {PART.format(0): [2]}
