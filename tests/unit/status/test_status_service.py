"""The aggregator's logic (StatusService) with in-memory fakes of its ports: phases, announcements,
outputs, fail-fast and abort, one announcement per change however many invocations see it."""

from __future__ import annotations

import json
import random
import threading

from batchlane.common.event_types import ABORT_REJECTED, STATUS_CHANGED
from batchlane.common.executions import LAUNCH_TAG, launch_key
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status.models import TaskAbortRequested
from batchlane.status.transitions import CLAIM_SECONDS
from clock import Clock
from port_fakes import FakeAnnouncer
from status_fakes import FakeOutputs, FakeStatusStore, assembled_uri, child_uri, launch_record, service


def records(events):
    return [(f"m{i}", json.dumps(e)) for i, e in enumerate(events)]


def phases(announcer) -> list[str]:
    return [d["phase"] for d in announcer.of(STATUS_CHANGED) if d["kind"] == "phase"]


def test_a_map_task_goes_queued_running_succeeded_with_its_outputs_in_index_order():
    store = FakeStatusStore(launch_record("L", "job", 3))
    outputs = FakeOutputs({child_uri("L", i): {"y": i * 10} for i in range(3)})
    svc = service(store, outputs=outputs)
    events = launch_events("job", [ChildPlan(pending=True)] * 3, tags={LAUNCH_TAG: "L"})
    for e in events:  # one event per Lambda batch: every phase shows
        assert svc.process(records([e])) == {}
    assert phases(svc.phases.announcer) == ["queued", "running", "succeeded"]
    assert outputs.written == [(assembled_uri("L"), {"y": [0, 10, 20]})]
    assert store.summary(launch_key(None, "L"))["outputsUri"] == assembled_uri("L")
    assert "transitionToken" not in store.summary(launch_key(None, "L"))


def test_a_map_task_that_can_no_longer_succeed_is_stopped_once():
    store = FakeStatusStore(launch_record("L", "job", 4, min_success_ratio=1.0))
    svc = service(store)
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 3),))] + [ChildPlan(pending=True)] * 3
    events = launch_events("job", plans, rng=random.Random(1), tags={LAUNCH_TAG: "L"})
    failed_at = next(
        i
        for i, e in enumerate(events)
        if e["detail"]["status"] == "FAILED" and e["detail"].get("arrayProperties", {}).get("index") == 0
    )
    for e in events[: failed_at + 1] + events:  # child 0 fails while others still run; then everything, again
        svc.process(records([e]))
    summary = store.summary(launch_key(None, "L"))
    assert svc.phases.jobs.terminated == [("job", f"batchlane: launch failed ({summary['reason']})")]
    assert phases(svc.phases.announcer)[-1] == "failed" and phases(svc.phases.announcer).count("failed") == 1
    assert summary["phase"] == "failed" and summary["terminated"] is True and "[0]: " in summary["error"]


def test_duplicates_and_stale_events_write_nothing_and_announce_nothing():
    store = FakeStatusStore(launch_record("L", "job", 2))
    svc = service(store)
    events = launch_events("job", [ChildPlan()] * 2, tags={LAUNCH_TAG: "L"})
    svc.process(records(events))
    writes, announced = store.writes, len(svc.phases.announcer.events)
    svc.process(records(list(reversed(events)) + events))
    assert store.writes == writes and len(svc.phases.announcer.events) == announced


def test_concurrent_invocations_announce_each_phase_change_once_and_write_outputs_once():
    for seed in range(20):
        store = FakeStatusStore(launch_record("L", "job", 8))
        announcer = FakeAnnouncer()
        outputs = FakeOutputs()
        events = launch_events("job", [ChildPlan()] * 8, rng=random.Random(seed), tags={LAUNCH_TAG: "L"})
        services = [service(store, outputs=outputs, announcer=announcer) for _ in range(4)]
        barrier = threading.Barrier(4)

        def run(svc, part, barrier=barrier):
            barrier.wait()
            for chunk in (part[k : k + 3] for k in range(0, len(part), 3)):
                svc.process(records(chunk))

        parts = [events[i::4] for i in range(4)]
        threads = [threading.Thread(target=run, args=(s, p)) for s, p in zip(services, parts)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        services[0].process(records(events))  # a late redelivery settles anything left undecided
        final = [p for p in phases(announcer) if p == "succeeded"]
        assert final == ["succeeded"], (seed, phases(announcer))
        assert len(phases(announcer)) == len(set(phases(announcer)))
        assert len(outputs.written) == 1 and store.summary(launch_key(None, "L"))["phase"] == "succeeded"


def test_a_phase_claim_left_by_a_dead_writer_is_taken_over_once_it_is_stale():
    store = FakeStatusStore(launch_record("L", "job", 1))
    clock = Clock()
    svc = service(store, clock=clock)
    events = launch_events("job", [ChildPlan()], tags={LAUNCH_TAG: "L"})
    store.summaries[launch_key(None, "L")] = {"transitionToken": "dead", "transitionAt": int(clock() * 1000)}
    svc.process(records(events))
    assert phases(svc.phases.announcer) == [] and "phase" not in store.summary(launch_key(None, "L"))
    clock.t += CLAIM_SECONDS + 1
    svc.process(records(events))  # the redelivery, after the claim went stale
    assert (
        phases(svc.phases.announcer) == ["succeeded"] and store.summary(launch_key(None, "L"))["phase"] == "succeeded"
    )


def test_abort_stops_the_job_once_and_later_aborts_are_answered():
    store = FakeStatusStore(launch_record("L", "job", 2))
    svc = service(store)
    svc.process(records(launch_events("job", [ChildPlan()] * 2, tags={LAUNCH_TAG: "L"})[:2]))
    svc.aborter.abort(TaskAbortRequested(launchId="L", reason="user"))
    svc.aborter.abort(TaskAbortRequested(launchId="L"))
    svc.aborter.abort(TaskAbortRequested(launchId="nope"))
    svc.aborter.abort(TaskAbortRequested.from_detail({"launchId": 5}))
    assert svc.phases.jobs.terminated == [("job", "batchlane: aborted on request: user")]
    assert (
        store.summary(launch_key(None, "L"))["phase"] == "aborted"
        and store.summary(launch_key(None, "L"))["terminated"] is True
    )
    rejected = svc.phases.announcer.of(ABORT_REJECTED)
    assert [r["reason"] for r in rejected] == [
        "the launch has already aborted",
        "no such launch",
        "the event names no launchId",
    ]
    assert rejected[0]["phase"] == "aborted"


def test_an_event_of_a_job_batchlane_did_not_launch_fails_nothing():
    store = FakeStatusStore(launch_record("L", "job", 1))
    svc = service(store)
    stranger = launch_events("other", [ChildPlan()])
    ours = launch_events("job", [ChildPlan()], tags={LAUNCH_TAG: "L"})
    assert svc.process(records(stranger + ours)) == {}
    assert store.summary(launch_key(None, "L"))["phase"] == "succeeded" and svc.metrics.counts[
        "StatusEventForeign"
    ] == len(stranger)


def test_a_failed_announcement_gives_the_claim_back_so_the_retry_makes_the_change():
    store = FakeStatusStore(launch_record("L", "job", 1))
    announcer = FakeAnnouncer()
    svc = service(store, announcer=announcer)
    events = launch_events("job", [ChildPlan()], tags={LAUNCH_TAG: "L"})
    real_publish = announcer.publish

    def unavailable(detail_type, detail):
        raise ConnectionError("PutEvents: connection reset")

    announcer.publish = unavailable
    failures = svc.process(records(events))
    assert (
        failures
        and "transitionToken" not in store.summary(launch_key(None, "L"))
        and "phase" not in store.summary(launch_key(None, "L"))
    )
    announcer.publish = real_publish
    assert svc.process(records(events)) == {}  # the SQS retry, long before a claim could go stale
    assert phases(announcer) == ["succeeded"]
