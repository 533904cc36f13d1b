"""The aggregator rule drops the array children's events status does not need (docs/status.md), as
EventBridge matches the pattern (moto's matcher), and what it keeps folds to the same status."""

from __future__ import annotations

import json
import random

from moto.events.models import EventPattern

from batchlane.deployment.contract import batch_events_pattern
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, child_events, job_event, launch_events
from batchlane.status.fold import fold_events

JOB = "7e0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"


def matcher(event):
    queue = event["detail"]["jobQueue"]
    return EventPattern.load(json.dumps(batch_events_pattern([queue]))).matches_event(event)


def test_children_keep_running_and_final_events_parents_and_plain_jobs_keep_all():
    plans = [ChildPlan(pending=True), ChildPlan(attempts=(AttemptPlan("exit", 1), AttemptPlan()))]
    events = launch_events(JOB, plans)
    kept = [e for e in events if matcher(e)]
    child = [e["detail"]["status"] for e in kept if "index" in (e["detail"].get("arrayProperties") or {})]
    assert set(child) == {"RUNNING", "SUCCEEDED"} and child.count("RUNNING") == 3  # one per attempt
    parents = [e for e in events if "index" not in (e["detail"].get("arrayProperties") or {})]
    assert parents and all(matcher(e) for e in parents)
    assert all(matcher(e) for e in child_events(JOB, 0, ChildPlan(pending=True), is_array=False))
    blocked = job_event(job_id=JOB, index=0, status="RUNNABLE", detail_type="Batch Job Queue Blocked")
    assert matcher(blocked)
    assert not matcher({**blocked, "source": "my.app"})
    other_queue = job_event(job_id=JOB, index=0, status="RUNNING")
    assert not EventPattern.load(json.dumps(batch_events_pattern(["arn:other"]))).matches_event(other_queue)


def test_what_the_rule_keeps_folds_to_the_same_end_as_everything():
    rng = random.Random(3)
    outcomes = [AttemptPlan(), AttemptPlan("exit", 1), AttemptPlan("nostart")]
    plans = [ChildPlan(pending=True, attempts=(rng.choice(outcomes), rng.choice(outcomes))) for _ in range(60)]
    events = launch_events(JOB, plans, rng=rng)
    launch = {"launchId": "L", "jobId": JOB, "size": 60, "isArray": True, "minSuccessRatio": 0.5}
    everything, kept = fold_events(launch, events), fold_events(launch, [e for e in events if matcher(e)])
    assert kept.phase == everything.phase and kept.counts == everything.counts
    assert kept.children == everything.children
