"""The reconciler against moto: launches whose events were missed are repaired with DescribeJobs
(moto's Batch jobs end SUCCEEDED in-process), within the request budget, through the aggregator's fold."""

from __future__ import annotations

import time

import boto3
import pytest

from batchlane.common import aws
from batchlane.common.executions import launch_key, split_launch_key
from batchlane.sandbox.simulate import ChildPlan, launch_events
from batchlane.status import handler as aggregator
from batchlane.status.reconcile import Reconciler
from tests.integration.conftest import LambdaContext, sqs_event
from tests.integration.test_aggregator import launched, task  # noqa: F401 - fixtures

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
        "provide-client-params.batch.DescribeJobs", lambda params, **_: calls.append(list(params["jobs"]))
    )
    return calls


def reconciler(agg, *, budget=50, later=SILENT + 60, repair_runs=6):
    service = agg.runtime()
    return Reconciler(
        store=service.store,
        index=service.store,
        batch=__import__("batchlane.status.adapters.batch", fromlist=["BatchJobReader"]).BatchJobReader(),
        service=service,
        metrics=service.metrics,
        log=service.log,
        silent_seconds=SILENT,
        request_budget=budget,
        repair_runs=repair_runs,
        clock=lambda: time.time() + later,
    )


def open_entries(world):
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    return sorted((split_launch_key(i["pk"])[1], i["sk"]) for i in table.scan()["Items"] if "openShard" in i)


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


def test_the_budget_grows_with_the_launch_so_a_large_one_is_repaired_within_repair_runs(
    world, launched, agg, described
):
    """A launch may take its share of describes (children / 100 / repair_runs) whatever the fixed budget."""
    launched("r-5", inputs=[{"i": i} for i in range(250)])
    report = reconciler(agg, budget=1, repair_runs=1).run()
    assert report.requests == 3 and report.repaired == 1 and report.deferred == 0
    assert world.execution_items("r-5")["status"]["phase"] == "succeeded"


def test_launches_with_recent_events_are_left_alone(world, launched, agg, described):
    record = launched("r-3", inputs=[{"i": i} for i in range(2)])
    events = launch_events(record["jobId"], [ChildPlan(), ChildPlan()])
    assert agg.handler(sqs_event(*(__import__("json").dumps(e) for e in events[:3])), LambdaContext()) == {
        "batchItemFailures": []
    }
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


def test_a_chunked_map_task_is_repaired_chunk_by_chunk_within_the_budget(world, launched, agg, described):
    """Every submitted chunk's job (and its children) is asked about, at most ``budget`` requests a
    run; the repaired chunks' end makes the next chunk due."""
    from batchlane.common.chunks import Chunks
    from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, SUBMITTED, ChunkRecord, LaunchRecord
    from batchlane.common.open_launches import open_shard
    from batchlane.common.values import to_dynamo

    source = launched("r-src", inputs=[{"i": i} for i in range(2)])  # for a queue and a job definition
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.delete_item(Key={"pk": world.key("r-src"), "sk": "launch"})
    layout = Chunks(size=250, chunk_size=120, window=2)  # chunks of 120, 120 and 10
    batch = boto3.client("batch")
    jobs = [
        batch.submit_job(
            jobName=f"r-5-c{c}",
            jobQueue=source["queueArn"],
            jobDefinition=source["jobDefinition"],
            arrayProperties={"size": layout.chunk_len(c)},
            tags={LAUNCH_TAG: "r-5", "batchlane:team": "platform", CHUNK_TAG: str(c)},
        )["jobId"]
        for c in layout.initial
    ]
    launch = LaunchRecord(
        launch_id="r-5",
        team="platform",  # the team of my.orchestrator, whose launches world.execution_items reads
        state=SUBMITTED,
        job_name="r-5",
        queue="batchlane-default",
        size=250,
        is_array=True,
        is_map_task=True,
        job_id=jobs[0],
        region="us-east-1",
        chunk_size=120,
        chunk_count=3,
        chunk_window=2,
        open_shard=open_shard(launch_key("platform", "r-5")),
        last_seen_at=int(time.time() * 1000),
    )
    table.put_item(Item=to_dynamo(launch.to_item()))
    for c, job in zip(layout.initial, jobs):
        table.put_item(
            Item=to_dynamo(
                ChunkRecord(
                    launch_id="r-5",
                    team="platform",
                    chunk=c,
                    offset=layout.offset(c),
                    size=layout.chunk_len(c),
                    state=SUBMITTED,
                    job_name=f"r-5-c{c}",
                    queue="batchlane-default",
                    job_id=job,
                ).to_item()
            )
        )
    world.answers()

    first = reconciler(agg, budget=2).run()
    assert first.requests == 2 and first.deferred == 1
    assert all(len(ids) <= 100 for ids in described)
    second = reconciler(agg, budget=2).run()
    assert second.requests == 1 and second.repaired == 1  # 40 children of chunk 1 and both chunk jobs
    asked = [i for ids in described for i in ids]
    assert sorted(asked) == sorted(
        [f"{jobs[0]}:{i}" for i in range(120)] + [f"{jobs[1]}:{i}" for i in range(120)] + jobs
    )
    s = world.execution_items("r-5")["status"]
    assert s["phase"] == "running" and s["n_SUCCEEDED"] == 240 and s.get("n_WAITING", 0) == 0
    dues = [a["detail"] for a in world.answers() if a["detail-type"] == "Task Chunk Due"]
    assert [(d["launchId"], d["chunk"], d["jobId"]) for d in dues] == [
        ("r-5", 2, world.execution_items("r-5")["launch"]["jobId"])
    ]
