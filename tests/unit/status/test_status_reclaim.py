"""onReclaim "on-demand" on the status path (StatusService over in-memory fakes): a child whose last
attempt a Spot reclaim ended waits for its fallback (announced once, whatever the duplicates), the
fallback's events continue that child, and the launch then succeeds with the fallback counted."""

from __future__ import annotations

import json
import random

from batchlane.common.event_types import CHUNK_DUE, STATUS_CHANGED
from batchlane.common.executions import FALLBACK_TAG, LAUNCH_TAG, SUBMITTED, ChunkRecord
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status.failures import failures_of
from batchlane.status.reclaim import AWAITING_FALLBACK, fallbacks_of
from batchlane.status.transitions import counts_of
from port_fakes import FakeAnnouncer
from status_fakes import FakeOutputs, FakeStatusStore, child_uri, launch_record, service

RECLAIMED = "Host EC2 (instance i-0123456789abcdef0) terminated."
JOB, FALLBACK_JOB = "job-0000-0000", "job-fallback-0001"


def setup(size=3):
    launch = launch_record("L", JOB, size, reclaim_queue="ondemand", attempts=1)
    store = FakeStatusStore(launch)
    outputs = FakeOutputs({child_uri("L", i): {"y": i} for i in range(size)})
    return launch, store, service(store, outputs=outputs, announcer=FakeAnnouncer())


def reclaimed_plan():
    return ChildPlan(attempts=(AttemptPlan("exit", 143),), pending=True)


def with_reason(events, index):
    """The reclaim's wording on child ``index``'s ended attempt (as Batch reports a Spot reclaim)."""
    for e in events:
        d = e["detail"]
        if (d.get("arrayProperties") or {}).get("index") == index or (index == 0 and "arrayProperties" not in d):
            for a in d.get("attempts", []):
                a["statusReason"] = RECLAIMED
            if d["status"] == "FAILED":
                d["statusReason"] = RECLAIMED
    return events


def process(svc, events, start=0):
    for i, e in enumerate(events):
        assert svc.process([(f"m{start + i}", json.dumps(e))]) == {}


def test_a_reclaimed_child_waits_for_its_fallback_which_continues_it_and_the_launch_succeeds():
    launch, store, svc = setup()
    plans = [ChildPlan(pending=True), reclaimed_plan(), ChildPlan(pending=True)]
    events = with_reason(launch_events(JOB, plans, rng=random.Random(1), tags={LAUNCH_TAG: "L"}), 1)
    process(svc, events + events[::3])  # duplicates of the reclaimed end announce it once
    summary = store.summary(launch.key)
    assert summary["phase"] == "running" and fallbacks_of(summary) == 1
    [waiting] = [store.child(launch.key, 1)]
    assert waiting.status == "RUNNABLE" and waiting.status_reason == AWAITING_FALLBACK + "ondemand"
    [notice] = svc.phases.announcer.of(CHUNK_DUE)
    assert (notice["fallback"], notice["jobId"]) == (1, JOB)
    # The launcher submits the fallback (its fallback#1 record); its events are child 1's next attempt.
    store.add_fallback(
        ChunkRecord(
            launch_id="L",
            chunk=1,
            offset=1,
            size=1,
            state=SUBMITTED,
            job_name="t-r1",
            queue="ondemand",
            job_id=FALLBACK_JOB,
            fallback=True,
        )
    )
    fallback = launch_events(FALLBACK_JOB, [ChildPlan()], tags={LAUNCH_TAG: "L", FALLBACK_TAG: "1"})
    process(svc, fallback, start=100)
    summary = store.summary(launch.key)
    assert summary["phase"] == "succeeded" and counts_of(summary, 3)["SUCCEEDED"] == 3
    [child] = [store.child(launch.key, 1)]
    assert child.status == "SUCCEEDED" and child.n == 2  # the reclaimed attempt, then the fallback's
    assert child.attempts[0].status_reason == RECLAIMED and child.attempts[1].exit_code == 0
    assert failures_of(summary) == {"spot-reclaimed": 1}
    assert [d["phase"] for d in svc.phases.announcer.of(STATUS_CHANGED) if d["kind"] == "phase"][-1] == "succeeded"
    # A late duplicate of the reclaimed end changes nothing now.
    process(svc, events[-3:], start=200)
    assert len(svc.phases.announcer.of(CHUNK_DUE)) == 1 and store.summary(launch.key)["phase"] == "succeeded"


def test_a_fallback_reclaimed_again_fails_its_child_and_a_launch_without_a_reclaim_queue_fails_at_once():
    launch, store, svc = setup(size=1)
    process(svc, with_reason(launch_events(JOB, [reclaimed_plan()], tags={LAUNCH_TAG: "L"}), 0))
    assert store.summary(launch.key)["phase"] == "queued"  # its one child waits to run again, as after a retry
    store.add_fallback(
        ChunkRecord(
            launch_id="L",
            chunk=0,
            offset=0,
            size=1,
            state=SUBMITTED,
            job_name="t-r0",
            queue="ondemand",
            job_id=FALLBACK_JOB,
            fallback=True,
        )
    )
    again = with_reason(launch_events(FALLBACK_JOB, [reclaimed_plan()], tags={LAUNCH_TAG: "L", FALLBACK_TAG: "0"}), 0)
    process(svc, again, start=100)
    assert store.summary(launch.key)["phase"] == "failed"  # once more, not for ever
    plain = launch_record("P", "job-plain", 1)
    store = FakeStatusStore(plain)
    svc = service(store, announcer=FakeAnnouncer())
    process(svc, with_reason(launch_events("job-plain", [reclaimed_plan()], tags={LAUNCH_TAG: "P"}), 0))
    assert store.summary(plain.key)["phase"] == "failed" and not svc.phases.announcer.of(CHUNK_DUE)
