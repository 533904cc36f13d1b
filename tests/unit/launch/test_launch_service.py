"""LaunchService with in-memory fakes of its ports: the exactly-once protocol, answer by answer."""

from __future__ import annotations

import pytest
from launch_examples import SETTINGS, TABLE, detail

from batchlane.common.errors import TransientError
from batchlane.common.event_types import LAUNCH_REJECTED, LAUNCHED
from batchlane.common.executions import launch_key
from batchlane.common.tenancy import LaunchData
from batchlane.launch.planner import job_name
from batchlane.launch.ports import LaunchInProgress, SubmitOutcomeUnknown
from batchlane.launch.service import LaunchService
from launch_fakes import FakeDefinitions, FakeInputs, FakeJobs, FakeLedger, FakeRouting, FakeSettings
from port_fakes import FakeAnnouncer, FakeCounter

LEASE = 180


@pytest.fixture
def svc():
    now = [1_800_000_000.0]
    service = LaunchService(
        settings=FakeSettings(SETTINGS),
        routing=FakeRouting(TABLE),
        definitions=FakeDefinitions(),
        inputs=FakeInputs(),
        jobs=FakeJobs(),
        ledger=FakeLedger(),
        announcer=FakeAnnouncer(),
        metrics=FakeCounter(),
        bucket="bucket",
        lease_seconds=LEASE,
        clock=lambda: now[0],
    )
    service.now = now  # the tests move the clock
    return service


def later(svc, seconds: float) -> None:
    svc.now[0] += seconds


def launched(svc) -> list[dict]:
    return svc.announcer.of(LAUNCHED)


def test_a_valid_launch_is_submitted_recorded_and_announced(svc):
    result = svc.handle(detail(input={"x": 1}))
    assert result["outcome"] == "launched"
    [request] = svc.jobs.requests
    assert request["jobName"] == job_name("t", launch_key(None, "L")) and request["jobQueue"] == "q"
    record = svc.ledger.get(launch_key(None, "L"))
    assert record.state == "SUBMITTED" and record.job_id == "job-0" and record.lease_until is None
    assert svc.inputs.objects[LaunchData("_", "p", "d", "L").inputs_key] == b'{"x":1}\n'
    [answer] = launched(svc)
    assert answer["jobId"] == "job-0" and answer["queue"] == "q"


def test_duplicates_get_the_original_answer_at_any_age_and_submit_nothing(svc):
    svc.handle(detail())
    svc.handle(detail())
    later(svc, 30 * 24 * 3600)
    svc.handle(detail())
    assert len(svc.jobs.jobs) == 1
    assert [a["jobId"] for a in launched(svc)] == ["job-0"] * 3


def test_key_order_does_not_make_another_request(svc):
    svc.handle(detail(tags={"a": "1", "b": "2"}))
    svc.handle(dict(reversed(list(detail(tags={"b": "2", "a": "1"}).items()))))
    assert len(launched(svc)) == 2 and svc.announcer.of(LAUNCH_REJECTED) == []


def test_a_different_request_under_a_launched_id_is_rejected(svc):
    svc.handle(detail(input={"n": 1}))
    inputs = dict(svc.inputs.objects)
    result = svc.handle(detail(input={"n": 2}))
    assert result["outcome"] == "rejected" and result["problems"][0]["field"] == "launchId"
    assert svc.inputs.objects == inputs and len(svc.jobs.jobs) == 1


def test_a_rejected_launch_leaves_no_record_and_may_be_sent_again_fixed(svc):
    assert svc.handle(detail(retries=99))["outcome"] == "rejected"
    assert svc.ledger.records == {}
    assert svc.handle(detail(retries=2))["outcome"] == "launched"


def test_a_launched_request_rejected_by_newer_rules_still_gets_its_original_answer(svc):
    svc.handle(detail())
    svc.settings.settings = type(SETTINGS)(default_role_arn=None)  # no role is allowed any more
    assert svc.handle(detail())["outcome"] == "duplicate"
    assert svc.announcer.of(LAUNCH_REJECTED) == []


def test_a_lost_submit_answer_keeps_the_claim_and_the_next_holder_finds_the_job(svc):
    svc.jobs.outcomes = ["lost"]
    with pytest.raises(SubmitOutcomeUnknown):
        svc.handle(detail())
    assert svc.ledger.get(launch_key(None, "L")).state == "SUBMITTING"
    with pytest.raises(LaunchInProgress):  # redelivered while the lease runs
        svc.handle(detail())
    later(svc, LEASE + 1)
    assert svc.handle(detail())["outcome"] == "launched"
    assert len(svc.jobs.requests) == 1 and len(svc.jobs.named(job_name("t", launch_key(None, "L")))) == 1
    assert svc.ledger.get(launch_key(None, "L")).job_id == "job-0" and svc.metrics.counts["LaunchRecovered"] == 1


def test_an_unknown_outcome_without_a_job_is_submitted_once_more_after_the_lease(svc):
    svc.jobs.outcomes = ["unknown"]
    with pytest.raises(SubmitOutcomeUnknown):
        svc.handle(detail())
    later(svc, LEASE + 1)
    assert svc.handle(detail())["outcome"] == "launched"
    assert len(svc.jobs.jobs) == 1 and len(svc.jobs.requests) == 2


@pytest.mark.parametrize("fail", ["inputs", "never-sent"])
def test_a_failure_that_submitted_nothing_frees_the_claim_at_once(svc, fail):
    if fail == "inputs":
        svc.inputs.fail = TransientError("PutObject: SlowDown")
    else:
        svc.jobs.outcomes = ["never-sent"]
    with pytest.raises(TransientError):
        svc.handle(detail())
    assert svc.ledger.records == {}
    svc.inputs.fail = None
    assert svc.handle(detail())["outcome"] == "launched"  # no lease to wait for


def test_batch_refusing_the_job_is_a_rejection_and_frees_the_id(svc):
    svc.jobs.outcomes = ["refused"]
    result = svc.handle(detail())
    assert result["outcome"] == "rejected" and result["problems"][0]["field"] == "submission"
    assert svc.ledger.records == {}
    assert svc.handle(detail())["outcome"] == "launched"


def test_a_crash_after_submit_then_a_different_request_records_the_first_job(svc):
    def crash(operation):
        if operation == "complete":
            raise RuntimeError("the Lambda died")

    svc.ledger.before_write = crash
    with pytest.raises(RuntimeError):
        svc.handle(detail(input={"n": 1}))
    svc.ledger.before_write = lambda operation: None
    later(svc, LEASE + 1)
    assert svc.handle(detail(input={"n": 2}))["outcome"] == "rejected"
    assert svc.ledger.get(launch_key(None, "L")).job_id == "job-0" and len(svc.jobs.jobs) == 1
    assert svc.handle(detail(input={"n": 1}))["outcome"] == "duplicate"


def test_every_delivery_is_answered_once(svc):
    for d in (detail(), detail(), detail(retries=99, launchId="M"), detail(launchId="N"), detail(input={"x": 2})):
        svc.handle(d)
    assert len(svc.announcer.events) == 5


def test_a_rejection_is_recorded_under_its_id_and_leaves_the_id_free(svc):
    svc.handle(detail(retries=99))
    assert [p["field"] for p in svc.ledger.rejections[launch_key(None, "L")]] == [
        "retries"
    ]  # readable without the answers queue
    assert svc.ledger.records == {}
    assert svc.handle(detail(retries=2))["outcome"] == "launched"


def test_a_launch_without_a_readable_id_records_no_rejection(svc):
    svc.handle({"project": "p"})
    assert svc.ledger.rejections == {}
