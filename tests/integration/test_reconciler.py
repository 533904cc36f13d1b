"""The reconciler against moto: launches whose events were missed are repaired with DescribeJobs
(moto's Batch jobs end SUCCEEDED in-process), within the request budget, through the aggregator's fold."""

from __future__ import annotations

import time

import boto3
import pytest

from batchlane.common import aws
from batchlane.status import handler as aggregator
from batchlane.status.reconcile import Reconciler
from batchlane.status.simulate import ChildPlan, launch_events
from tests.integration.conftest import LambdaContext, sqs_event
from tests.integration.test_aggregator import launched, task  # noqa: F401  (a fixture)

SILENT = 600


@pytest.fixture
def agg(world):
    aggregator.runtime.cache_clear()
    aggregator.reconciler.cache_clear()
    yield aggregator
    aggregator.runtime.cache_clear()
    aggregator.reconciler.cache_clear()


@pytest.fixture
def described(world):
    calls: list[list[str]] = []
    aws.client("batch").meta.events.register(
        "provide-client-params.batch.DescribeJobs", lambda params, **_: calls.append(list(params["jobs"])))
    return calls


def reconciler(agg, *, budget=50, later=SILENT + 60):
    service = agg.runtime()
    return Reconciler(store=service.store, index=service.store, batch=__import__(
        "batchlane.status.adapters", fromlist=["BatchJobReader"]).BatchJobReader(), service=service,
        metrics=service.metrics, log=service.log, silent_seconds=SILENT, request_budget=budget,
        clock=lambda: time.time() + later)




def open_entries(world):
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    return sorted((i["launchId"], i["sk"]) for i in table.scan()["Items"] if "openShard" in i)


def test_a_launch_whose_events_were_all_missed_is_repaired(world, launched, agg, described):
    record = launched("r-1", inputs=[{"i": i} for i in range(3)])
    assert open_entries(world) == [("r-1", "launch")]  # in the index from its submission

    assert reconciler(agg, later=0).run().candidates == 0  # not silent long enough: nothing asked
    assert described == []

    report = reconciler(agg).run()
    assert report.candidates == 1 and report.repaired == 1 and report.requests == 1 and report.jobs == 4
    assert described == [[f"{record['jobId']}:{i}" for i in range(3)] + [record["jobId"]]]
    s = world.execution_items("r-1")["status"]
    assert s["phase"] == "succeeded" and s["n_SUCCEEDED"] == 3
    changes = [a["detail"] for a in world.answers() if a["detail-type"] == "Task Status Changed"]
    assert [c["phase"] for c in changes] == ["succeeded"]

    again = reconciler(agg).run()  # the stale launch entry is removed; Batch is not asked again
    assert again.closed == 1 and again.requests == 0 and len(described) == 1
    assert open_entries(world) == []


def test_the_request_budget_defers_the_rest_to_the_next_run(world, launched, agg, described):
    size = 250  # the parent + 250 children: three DescribeJobs calls
    launched("r-2", inputs=[{"i": i} for i in range(size)])
    first = reconciler(agg, budget=2).run()
    assert first.requests == 2 and first.deferred == 1 and first.repaired == 0
    assert all(len(ids) <= 100 for ids in described)
    s = world.execution_items("r-2")["status"]
    assert s["phase"] == "running" and s["n_SUCCEEDED"] == 200  # 200 children folded, the parent not yet
    second = reconciler(agg, budget=2).run()
    assert second.requests == 1 and second.repaired == 1  # only the 50 children not final yet + the parent
    job = described[0][0].split(":")[0]
    assert described[-1] == [f"{job}:{i}" for i in range(200, size)] + [job]
    assert world.execution_items("r-2")["status"]["phase"] == "succeeded"


def test_launches_with_recent_events_are_left_alone(world, launched, agg, described):
    record = launched("r-3", inputs=[{"i": i} for i in range(2)])
    events = launch_events(record["jobId"], [ChildPlan(), ChildPlan()])
    assert agg.handler(sqs_event(*(__import__("json").dumps(e) for e in events[:3])), LambdaContext()) == {
        "batchItemFailures": []}
    assert ("r-3", "status") in open_entries(world)
    # Silent for less than the threshold (the summary was just seen): only the launch entry is tidied.
    report = reconciler(agg, later=SILENT // 2).run()
    assert report.requests == 0 and described == []
    report = reconciler(agg).run()
    assert report.repaired == 1 and report.requests == 1
    assert world.execution_items("r-3")["status"]["phase"] == "succeeded"
    assert open_entries(world) == []


def test_the_reconcile_handler_runs_with_the_deployment_settings(world, launched, agg, described, monkeypatch):
    launched("r-4")
    monkeypatch.setenv("SILENT_SECONDS", "60")
    assert agg.reconcile({}, LambdaContext())["candidates"] == 0  # submitted just now
