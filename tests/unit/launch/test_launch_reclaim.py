"""onReclaim "on-demand" on the launch side: the routing decision's on-demand peer, the fallback's
SubmitJob request (Batch's shapes), and the launcher submitting a due fallback exactly once."""

from __future__ import annotations

import pytest
from launch_examples import SETTINGS, detail
from test_launch_workloads import api_problems

from batchlane.common.errors import UnprocessableEvent
from batchlane.common.event_types import CHUNK_DUE_SOURCE
from batchlane.common.executions import FALLBACK_TAG, launch_key
from batchlane.common.inputs import ENV_INDEX_OFFSET
from batchlane.common.tenancy import Producer
from batchlane.launch.planner import fallback_request, plan_launch
from batchlane.launch.service import LaunchService
from batchlane.launch.validation import validate
from batchlane.routing import Capabilities, Queue, RoutingTable, Rule, decide
from launch_fakes import FakeDefinitions, FakeInputs, FakeJobs, FakeLedger, FakeRouting, FakeSettings
from port_fakes import FakeAnnouncer, FakeCounter

SPOT, MIXED, ON_DEMAND = (Capabilities("EC2", capacity=c) for c in ("spot", "mixed", "on-demand"))
TABLE = RoutingTable(
    (Queue("spot", ("default",), capabilities=SPOT), Queue("ondemand", ("default",), capabilities=ON_DEMAND)),
    (Rule("0001", ("default",)),),
)
RECLAIMING = detail(inputs=[{"i": 0}, {"i": 1}, {"i": 2}], onReclaim="on-demand", retries=1)
STATUS = Producer(source=CHUNK_DUE_SOURCE)


def planned(launch, table=TABLE):
    request, role, problems = validate(launch, SETTINGS)
    assert problems == []
    return plan_launch(request, role, decide(table, "p", "d", "w", key="L"), SETTINGS, "bucket")


def test_the_on_demand_peer_is_an_on_demand_queue_of_the_chosen_tag_and_none_means_a_rejection():
    for key in "abcdef":
        decision = decide(TABLE, "p", "d", "w", key=key)
        assert decision.on_demand == "ondemand"  # the chosen queue itself when it is on-demand
    plan, problems = planned(RECLAIMING)
    assert problems == [] and plan.reclaim_queue == "ondemand"
    spot_only = RoutingTable(
        (Queue("spot", ("default",), capabilities=SPOT), Queue("m", ("x",), capabilities=MIXED)), TABLE.rules
    )
    _, [problem] = planned(RECLAIMING, spot_only)
    assert problem.field == "onReclaim" and "no on-demand queue of tag default" in problem.message
    _, [problem] = planned({**RECLAIMING, "maxConcurrency": 1})
    assert "chunked map task" in problem.message
    _, [problem] = planned(detail(onReclaim="on-demand", nodes={"count": 2}))
    assert "multi-node job never runs on Spot" in problem.message
    assert [p.field for p in validate(detail(onReclaim="spot"), SETTINGS)[2]] == ["onReclaim"]


def test_a_fallback_is_a_plain_job_on_the_on_demand_queue_reading_its_childs_input_once():
    plan, _ = planned(RECLAIMING)
    template = plan.submit_request("arn:aws:batch:us-east-1:123456789012:job-definition/d:1")
    fallback = fallback_request(template, 2, "ondemand")
    assert fallback["jobQueue"] == "ondemand" and fallback["jobName"] == template["jobName"] + "-r2"
    assert "arrayProperties" not in fallback and fallback["retryStrategy"] == {"attempts": 1}
    assert fallback["tags"][FALLBACK_TAG] == "2"
    environment = {e["name"]: e["value"] for e in fallback["containerOverrides"]["environment"]}
    assert environment[ENV_INDEX_OFFSET] == "2" and environment["BATCHLANE_FAKE_ARRAY_INDEX"] == "0"
    assert api_problems("SubmitJob", fallback) == ""


@pytest.fixture
def svc():
    return LaunchService(
        settings=FakeSettings(SETTINGS),
        routing=FakeRouting(TABLE),
        definitions=FakeDefinitions(),
        inputs=FakeInputs(),
        jobs=FakeJobs(),
        ledger=FakeLedger(),
        announcer=FakeAnnouncer(),
        metrics=FakeCounter(),
        bucket="bucket",
        lease_seconds=180,
        clock=lambda: 1_800_000_000.0,
    )


def test_a_due_fallback_is_submitted_once_to_the_reclaim_queue_and_a_bad_notice_is_refused(svc):
    assert svc.handle(RECLAIMING)["outcome"] == "launched"
    record = svc.ledger.get(launch_key(None, "L"))
    assert record.reclaim_queue == "ondemand" and record.chunk_template is not None
    due = {"launchId": "L", "chunk": 0, "fallback": 1, "jobId": record.job_id}
    first = svc.handle_chunk_due(due, STATUS)
    again = svc.handle_chunk_due(due, STATUS)  # a duplicate notice
    assert first["outcome"] == again["outcome"] == "fallback-submitted" and first["jobId"] == again["jobId"]
    [_, fallback] = svc.jobs.requests
    assert fallback["jobQueue"] == "ondemand" and fallback["tags"][FALLBACK_TAG] == "1"
    for bad in ({**due, "fallback": 3}, {**due, "jobId": "another-submission"}):
        with pytest.raises(UnprocessableEvent):
            svc.handle_chunk_due(bad, STATUS)
    svc.ledger.phases[record.key] = "succeeded"
    assert svc.handle_chunk_due({**due, "fallback": 0}, STATUS)["outcome"] == "fallback-not-submitted"
    assert len(svc.jobs.requests) == 2
