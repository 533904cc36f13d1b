"""StatusService.process: a record that cannot be read is dropped alone (logged, counted), and a
launch whose write fails fails only its own messages."""

import json

from batchlane.common.executions import launch_key
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status import service as service_module
from batchlane.status.events import MAX_TEXT
from status_fakes import FakeStatusStore, launch_record, service

JOB_A = "aaaaaaaa-0000-4000-8000-000000000001"
JOB_B = "bbbbbbbb-0000-4000-8000-000000000002"
LAUNCHES = [launch_record("L-A", JOB_A, 3), launch_record("L-B", JOB_B, 1)]
EVENTS_A = launch_events(JOB_A, [ChildPlan(), ChildPlan(attempts=(AttemptPlan("exit", 1), AttemptPlan())), ChildPlan()])
EVENTS_B = launch_events(JOB_B, [ChildPlan(pending=True)])


def records(prefix, events):
    return [(f"{prefix}-{i}", json.dumps(e)) for i, e in enumerate(events)]


def with_detail(event, **changes):
    e = json.loads(json.dumps(event))
    e["detail"].update(changes)
    return e


def test_absurd_values_are_dropped_alone_and_the_batch_succeeds():
    store = FakeStatusStore(*LAUNCHES)
    svc = service(store)
    succeeded_b = EVENTS_B[-1]
    superscript = with_detail(EVENTS_A[1], jobId=f"{JOB_A}:²", arrayProperties={})
    huge_exit = json.loads(json.dumps(succeeded_b))
    huge_exit["detail"]["attempts"][0]["container"]["exitCode"] = 10**40
    long_reason = with_detail(succeeded_b, statusReason="r" * 300_000)
    bad = [("bad-index", json.dumps(superscript)), ("bad-exit", json.dumps(huge_exit))]
    batch = records("a", EVENTS_A) + bad + records("b", EVENTS_B[:-1]) + [("long-reason", json.dumps(long_reason))]

    assert svc.process(batch) == {}
    assert set(svc.log.skipped()) == {"bad-index", "bad-exit"}
    assert "jobId" in svc.log.skipped()["bad-index"] and "exitCode" in svc.log.skipped()["bad-exit"]
    assert svc.metrics.counts["StatusEventMalformed"] == 2
    assert store.summaries[launch_key(None, "L-A")]["phase"] == "succeeded"
    b = store.child(launch_key(None, "L-B"), 0)
    assert b.status == "SUCCEEDED" and len(b.status_reason) == MAX_TEXT  # folded, its reason cut
    assert store.summaries[launch_key(None, "L-B")]["phase"] == "succeeded"


def test_an_unexpected_error_reading_one_record_skips_that_record_only(monkeypatch):
    """Not a bad event but a bug while reading one: the record is skipped with its trace, not the batch."""
    real_observe = service_module.observe

    def observe(event):
        if event.detail.job_id == f"{JOB_A}:0" and event.detail.status == "RUNNABLE":
            raise ZeroDivisionError("a bug")
        return real_observe(event)

    monkeypatch.setattr(service_module, "observe", observe)
    store = FakeStatusStore(*LAUNCHES)
    svc = service(store)
    batch = records("a", EVENTS_A) + records("b", EVENTS_B)
    poisoned_ids = {
        m
        for m, body in batch
        if (json.loads(body)["detail"]["jobId"], json.loads(body)["detail"]["status"]) == (f"{JOB_A}:0", "RUNNABLE")
    }
    assert len(poisoned_ids) == 1

    assert svc.process(batch) == {}
    [(_, _, extra)] = [line for line in svc.log.lines if line[0] == "exception"]
    assert extra["messageId"] in poisoned_ids and extra["problem"] == "ZeroDivisionError: a bug"
    assert set(svc.log.skipped()) == poisoned_ids
    assert svc.metrics.counts["StatusEventMalformed"] == len(poisoned_ids)
    assert store.summaries[launch_key(None, "L-B")]["phase"] == "succeeded"  # the batchmates are folded
    assert store.child(launch_key(None, "L-A"), 0).status == "SUCCEEDED"  # the child's later events still are


def test_a_launch_whose_write_fails_fails_only_its_own_messages():
    store = FakeStatusStore(*LAUNCHES, broken=(launch_key(None, "L-B"),))
    svc = service(store)
    batch = records("a", EVENTS_A) + records("b", EVENTS_B) + [("garbage", "not json")]

    failures = svc.process(batch)
    assert set(failures) == {m for m, _ in records("b", EVENTS_B)}
    assert all(isinstance(exc, ConnectionError) for exc in failures.values())
    assert store.summaries[launch_key(None, "L-A")]["phase"] == "succeeded"
    assert set(svc.log.skipped()) == {"garbage"}
