import copy
import json
from decimal import Decimal

import pytest

from batchlane.client.links import child_log_links
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, child_events, job_event, launch_events
from batchlane.status.events import MAX_TEXT, MalformedEvent
from batchlane.status.fold import Fold, fold_events, summarize
from batchlane.status.observations import merge_child, observe
from batchlane.status.phase import add_deltas, count_delta, decide_phase, initial_counts, min_successes
from batchlane.status.states import MAX_ATTEMPTS, Attempt, ChildState

PLAIN = "4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
ARRAY = "a1b2c3d4-0000-4000-8000-000000000001"


def plain_record(**kw):
    return {
        "launchId": "L-plain",
        "jobId": PLAIN,
        "size": 1,
        "isArray": False,
        "minSuccessRatio": 1,
        "queue": "critical",
        **kw,
    }


def array_record(size, ratio=1, **kw):
    return {
        "launchId": "L-array",
        "jobId": ARRAY,
        "size": size,
        "isArray": True,
        "minSuccessRatio": ratio,
        "queue": "batchlane-default",
        **kw,
    }


def test_plain_job_from_the_sample_events(event):
    events = [event("single-runnable.json"), event("single-running.json"), event("single-failed-exit1.json")]
    s = fold_events(plain_record(), events)
    assert s.phase == "failed" and s.counts["FAILED"] == 1 and sum(s.counts.values()) == 1
    (child,) = s.children
    assert child.index == 0 and child.attempt_count == 1
    assert child.attempts[0].exit_code == 1
    assert child.status_reason == "Essential container in task exited"
    assert [link.name for link in child_log_links(child, "us-east-1")] == ["AWS Batch #0-0 (PhaseRetryableFailure)"]


def test_plain_job_phases_as_events_arrive(event):
    f = Fold(job_id=PLAIN)
    f.add(event("single-runnable.json"))
    assert f.status(plain_record()).phase == "queued"
    f.add(event("single-running.json"))
    running = f.status(plain_record())
    assert running.phase == "running"
    # the running attempt already has its log link
    links = child_log_links(running.children[0], "us-east-1")
    assert [link.name for link in links] == ["AWS Batch #0-0 (PhaseRunning)"]


def test_duplicate_and_stale_events_change_nothing(event):
    done, changed = merge_child(None, event("single-failed-exit1.json"))
    assert changed
    for stale in ("single-runnable.json", "single-running.json", "single-failed-exit1.json", "queue-blocked.json"):
        again, changed = merge_child(done, event(stale))
        assert (again, changed) == (done, False), stale


def test_running_event_after_the_terminal_one_does_not_reopen_the_job(event):
    s = fold_events(
        plain_record(), [event("single-failed-exit1.json"), event("single-running.json"), event("single-runnable.json")]
    )
    assert s.phase == "failed" and s.children[0].status == "FAILED"


def test_failure_before_the_container_started(event):
    s = fold_events(plain_record(), [event("single-runnable.json"), event("single-failed-cannot-pull.json")])
    assert s.phase == "failed"
    a = s.children[0].attempts[0]
    assert a.exit_code is None and a.log_stream is None and a.reason.startswith("CannotPullContainerError")
    assert child_log_links(s.children[0], "us-east-1") == []


def test_a_retry_is_followed_and_every_attempt_keeps_its_details():
    plan = ChildPlan(attempts=(AttemptPlan("exit", 137), AttemptPlan("ok")))
    events = child_events(PLAIN, 0, plan, is_array=False)
    # up to the RUNNING event of the second attempt
    second_running = max(i for i, e in enumerate(events) if e["detail"]["status"] == "RUNNING")
    f = Fold(job_id=PLAIN)
    for e in events[: second_running + 1]:
        f.add(e)
    child = f.status(plain_record()).children[0]
    assert child.status == "RUNNING" and child.n == 1 and child.attempt_count == 2
    assert child.attempts[0].exit_code == 137
    assert child.attempts[1].log_stream and child.attempts[1].log_stream != child.attempts[0].log_stream
    assert [link.name for link in child_log_links(child, "us-east-1")] == [
        "AWS Batch #0-0 (PhaseRetryableFailure)",
        "AWS Batch #0-1 (PhaseRunning)",
    ]
    # the RUNNABLE of the retry still shows attempt 0's stream in `container`: not taken for attempt 1
    retry_runnable = next(
        i for i, e in enumerate(events) if e["detail"]["status"] == "RUNNABLE" and e["detail"]["attempts"]
    )
    g = Fold(job_id=PLAIN)
    for e in events[: retry_runnable + 1]:
        g.add(e)
    child = g.children[0]
    assert child.status == "RUNNABLE" and child.attempt_count == 1 and len(child.attempts) == 1
    for e in events[second_running + 1 :]:
        f.add(e)
    final = f.status(plain_record())
    assert final.phase == "succeeded"
    assert [a.exit_code for a in final.children[0].attempts] == [137, 0]


def test_queue_blocked_reason_is_shown_until_the_job_starts(event):
    f = Fold(job_id=PLAIN)
    f.add(event("single-runnable.json"))
    f.add(event("queue-blocked.json"))
    s = f.status(plain_record())
    assert s.phase == "queued" and s.blocked.startswith("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
    f.add(event("single-running.json"))
    assert f.status(plain_record()).blocked is None


def test_events_of_another_job_are_skipped(event):
    other = event("single-running.json")
    other["detail"]["jobId"] = "ffffffff-0000-4000-8000-000000000000"
    f = Fold(job_id=PLAIN)
    f.add(other)
    assert f.skipped == 1 and f.status(plain_record()).children == ()


def test_array_child_sample_event_lands_on_its_index(event):
    rec = {**array_record(20), "jobId": "740ee3ee-f235-4670-b19f-84da1bda6e76"}
    s = fold_events(rec, [event("array-child-succeeded.json")])
    assert [c.index for c in s.children] == [12]
    assert s.counts["SUCCEEDED"] == 1 and s.counts["SUBMITTED"] == 19 and s.phase == "running"


def test_stale_parent_summary_is_not_counted(event):
    rec = {**array_record(10), "jobId": "8e1c5b3a-1f2e-4d55-9a0b-3c2d1e0f9a77"}
    s = fold_events(rec, [event("array-parent-failed.json")])
    assert s.counts["SUBMITTED"] == 10  # the parent's statusSummary says 9 succeeded: not counted
    assert s.parent.status == "FAILED" and dict(s.parent.status_summary)["SUCCEEDED"] == 9
    assert s.needs_reconcile and s.non_final == tuple(range(10))


def test_succeeded_parent_proves_missed_children_succeeded():
    events = launch_events(ARRAY, [ChildPlan()] * 3)
    without_child_2 = [e for e in events if e["detail"].get("arrayProperties", {}).get("index") != 2]
    s = fold_events(array_record(3), without_child_2)
    assert s.phase == "succeeded" and s.needs_reconcile and s.non_final == (2,)


def test_map_task_fails_as_soon_as_min_successes_is_out_of_reach():
    # size 10, ratio 0.7: 7 successes needed, so the 4th failure fails the launch
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 1),))] * 4 + [ChildPlan()] * 6
    events = [e for i in range(10) for e in child_events(ARRAY, i, plans[i])]
    failures = [e for e in events if e["detail"]["status"] == "FAILED"]
    early = [e for e in events if e["detail"]["status"] in ("RUNNABLE",)] + failures[:3]
    s = fold_events(array_record(10, 0.7), early)
    assert (s.phase, s.terminate) == ("running", False)
    s = fold_events(array_record(10, 0.7), early + failures[3:])
    assert s.phase == "failed" and s.terminate
    assert s.non_final == tuple(range(4, 10))  # the children to stop
    assert "at most 6 can succeed, 7 needed" in s.reason


def test_map_task_succeeds_with_failures_within_the_ratio():
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 1),))] * 3 + [ChildPlan()] * 7
    s = fold_events(array_record(10, 0.7), launch_events(ARRAY, plans))
    assert s.phase == "succeeded" and s.counts["FAILED"] == 3 and s.counts["SUCCEEDED"] == 7


def test_default_ratio_fails_on_the_first_failed_child():
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 2),))] + [ChildPlan()] * 4
    first = child_events(ARRAY, 0, plans[0])
    others = [e for i in range(1, 5) for e in child_events(ARRAY, i, plans[i])[:2]]
    s = fold_events(array_record(5), others + first)
    assert s.phase == "failed" and s.terminate and s.non_final == (1, 2, 3, 4)


@pytest.mark.parametrize(
    "size,ratio,need",
    [
        (10, 0.7, 7),
        (10, "0.7", 7),
        (3, 0.34, 2),
        (10, 1, 10),
        (10, None, 10),
        (10, 0, 0),
        (7, Decimal("0.5"), 4),
        (5, 2, 5),
    ],
)
def test_min_successes_is_ceil_of_ratio_times_size(size, ratio, need):
    assert min_successes(size, ratio) == need


def test_aborted_launch():
    events = launch_events(ARRAY, [ChildPlan()] * 3)[:4]
    s = fold_events(array_record(3), events, aborted=True)
    assert s.phase == "aborted"
    assert fold_events(array_record(3), launch_events(ARRAY, [ChildPlan()] * 3), aborted=True).phase == "succeeded"


def test_decide_phase_from_counts_alone():
    assert decide_phase(4, 4, initial_counts(4)).phase == "queued"
    assert decide_phase(4, 4, {"RUNNABLE": 3, "RUNNING": 1}).phase == "running"
    assert decide_phase(4, 4, {"SUCCEEDED": 4}).phase == "succeeded"
    d = decide_phase(4, 3, {"FAILED": 2, "RUNNING": 2})
    assert d.phase == "failed" and d.terminate and d.non_final == 2


def test_count_deltas_keep_the_counts_summing_to_size():
    counts = initial_counts(3)
    for old, new in [
        (None, "RUNNABLE"),
        ("RUNNABLE", "RUNNING"),
        (None, "SUCCEEDED"),
        ("RUNNING", "RUNNABLE"),
        ("RUNNABLE", "RUNNABLE"),
    ]:
        add_deltas(counts, count_delta(old, new))
    assert {k: v for k, v in counts.items() if v} == {"SUBMITTED": 1, "RUNNABLE": 1, "SUCCEEDED": 1}
    assert count_delta("RUNNING", "RUNNING") == {}
    assert count_delta(None, "SUBMITTED") == {}


def test_child_item_round_trips_through_dynamodb_numbers(event):
    state, _ = merge_child(None, event("single-failed-exit1.json"))
    item = state.to_item()
    assert item["attempts"][0] == {
        "exitCode": 1,
        "statusReason": "Essential container in task exited",
        "logStream": "first-run-job-definition/default/770a2f9cd4bb407c84227223b775ca25",
        "startedAt": 1586285300000,
        "stoppedAt": 1586285900000,
        "failureClass": "application-error",
    }
    assert item["failureClass"] == "application-error"
    as_stored = json.loads(json.dumps(item), parse_int=Decimal)
    assert ChildState.from_item(as_stored) == state
    assert "blocked" not in item and "logGroup" not in item  # absent fields take no space


def test_child_item_stays_small_even_at_the_worst_case():
    long = "x" * 50_000
    attempts = [
        {
            "container": {"exitCode": 1, "reason": long, "logStreamName": "d/default/" + "f" * 32},
            "startedAt": 1,
            "stoppedAt": 2,
            "statusReason": long,
        }
        for _ in range(15)
    ]
    e = job_event(
        job_id=ARRAY, index=9999, status="FAILED", attempts=attempts, status_reason=long, container={"reason": long}
    )
    state = observe(e).child
    assert len(state.attempts) == MAX_ATTEMPTS and state.n == MAX_ATTEMPTS
    assert all(len(a.reason) <= MAX_TEXT for a in state.attempts)
    size = len(json.dumps(state.to_item()))
    assert size < 25_000  # DynamoDB's limit is 400 KB


def test_typical_child_item_fits_one_write_unit():
    events = child_events(ARRAY, 4321, ChildPlan(pending=True))
    state = None
    for e in events:
        state, _ = merge_child(state, e)
    assert len(json.dumps(state.to_item())) < 1024


def test_unknown_status_is_reported(event):
    e = copy.deepcopy(event("single-running.json"))
    e["detail"]["status"] = "HIBERNATING"
    with pytest.raises(MalformedEvent):
        observe(e)


def test_summarize_ignores_children_outside_the_array():
    ghost = ChildState(index=7, status="RUNNING", n=0, attempts=(Attempt(log_stream="s"),))
    s = summarize(array_record(3), [ghost])
    assert s.children == () and s.counts["SUBMITTED"] == 3
