"""A chunked map task through the aggregator's handler against moto. The launch record and the chunk
records are written here exactly as the launcher writes them (docs/contracts.md, "Chunked map
tasks"); the chunk jobs' events are built with batchlane.sandbox.simulate and tagged as the launcher
tags chunk jobs.

Layout: 7 children in chunks of 3, 2 in flight: chunk 0 [0-2], chunk 1 [3-5], chunk 2 [6] (a plain
job), due when chunk 0 ends.
"""

from __future__ import annotations

import json
import os
import random

import boto3

from batchlane.common.chunks import Chunks
from batchlane.common.executions import CHUNK_TAG, LAUNCH_TAG, SUBMITTED, TEAM_TAG, ChunkRecord, LaunchRecord
from batchlane.common.tenancy import LaunchData
from batchlane.common.values import to_dynamo
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from tests.integration.conftest import LambdaContext, sqs_event
from tests.integration.test_aggregator import (  # noqa: F401 - fixtures
    abort_body,
    agg,
    answers_of,
    children,
    deliver,
    summary,
    terminated,
)

SIZE, CHUNK, WINDOW = 7, 3, 2
TEAM = "platform"  # the team of the events' source here (my.orchestrator)


def job_of(launch_id, chunk):
    return f"{launch_id}-c{chunk}-0000-0000-000000000000"


def record_chunked_launch(world, launch_id, *chunks_submitted, min_success_ratio=1.0):
    layout = Chunks(size=SIZE, chunk_size=CHUNK, window=WINDOW)
    bucket = os.environ["DATA_BUCKET"]
    data = LaunchData(TEAM, "p", "d", launch_id)
    launch = LaunchRecord(
        launch_id=launch_id,
        team=TEAM,
        project="p",
        domain="d",
        state=SUBMITTED,
        job_name=f"t-{launch_id}",
        queue="batchlane-default",
        size=SIZE,
        is_array=True,
        is_map_task=True,
        min_success_ratio=min_success_ratio,
        job_id=job_of(launch_id, 0),
        region="us-east-1",
        outputs_uri=f"s3://{bucket}/{data.children_prefix}",
        chunk_size=CHUNK,
        chunk_count=layout.count,
        chunk_window=WINDOW,
        max_concurrency=6,
    )
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.put_item(Item=to_dynamo(launch.to_item()))
    for c in chunks_submitted:
        record_chunk(world, launch, c)
    return launch


def record_chunk(world, launch, chunk):
    layout = launch.chunks
    record = ChunkRecord(
        launch_id=launch.launch_id,
        team=launch.team,
        chunk=chunk,
        offset=layout.offset(chunk),
        size=layout.chunk_len(chunk),
        state=SUBMITTED,
        job_name=f"{launch.job_name}-c{chunk}",
        queue=launch.queue,
        job_id=job_of(launch.launch_id, chunk),
        submitted_at=1,
    )
    boto3.resource("dynamodb").Table(world.config.table_name("executions")).put_item(Item=to_dynamo(record.to_item()))


def chunk_events(launch, chunk, plans=None, seed=0):
    plans = plans or [ChildPlan(pending=True)] * launch.chunks.chunk_len(chunk)
    return launch_events(
        job_of(launch.launch_id, chunk),
        plans,
        rng=random.Random(seed),
        tags={LAUNCH_TAG: launch.launch_id, TEAM_TAG: TEAM, CHUNK_TAG: str(chunk)},
    )


def write_child_outputs(launch):
    s3 = boto3.client("s3")
    bucket, prefix = launch.outputs_uri[5:].split("/", 1)
    for i in range(SIZE):
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i}/outputs.json", Body=json.dumps({"y": i * i}).encode())


def test_a_chunked_map_task_runs_to_succeeded_with_its_next_chunk_due_once_and_outputs_in_global_order(world, deliver):
    launch = record_chunked_launch(world, "ch-1", 0, 1)
    write_child_outputs(launch)
    assert deliver(*chunk_events(launch, 0), *chunk_events(launch, 1)) == {"batchItemFailures": []}
    s = summary(world, "ch-1")
    assert s["phase"] == "running" and s["n_SUCCEEDED"] == 6
    due = [{"launchId": "ch-1", "team": TEAM, "chunk": 2, "jobId": launch.job_id}]
    assert answers_of(world, "Task Chunk Due") == due
    assert not [k for k in summary(world, "ch-1") if k.startswith("due_")]

    record_chunk(world, launch, 2)
    assert deliver(*chunk_events(launch, 2)) == {"batchItemFailures": []}
    items = world.execution_items("ch-1")
    assert items["status"]["phase"] == "succeeded"
    # Chunks 0 and 1 are arrays (their parents), chunk 2 one child (its marker holds the child's status).
    assert sorted(k for k in items if k.startswith("parent")) == ["parent#000000", "parent#000001", "parent#000002"]
    assert items["parent#000002"]["status"] == "SUCCEEDED"
    kids = children(world, "ch-1")
    assert sorted(kids) == list(range(SIZE)) and kids[6].status == "SUCCEEDED"
    body = boto3.client("s3").get_object(
        Bucket=os.environ["DATA_BUCKET"], Key=LaunchData(TEAM, "p", "d", "ch-1").assembled_key
    )["Body"]
    assert json.loads(body.read()) == {"y": [i * i for i in range(SIZE)]}
    # Redelivered, the events change nothing and announce nothing.
    assert deliver(*chunk_events(launch, 0, seed=3)) == {"batchItemFailures": []}
    assert world.execution_items("ch-1") == items
    assert answers_of(world, "Task Chunk Due") == []


def test_fail_fast_stops_every_chunk_job_and_no_chunk_becomes_due(world, deliver, terminated):
    launch = record_chunked_launch(world, "ch-2", 0, 1)
    failing = [ChildPlan(pending=True), ChildPlan(pending=True, attempts=(AttemptPlan("exit", 1),)), ChildPlan()]
    assert deliver(*chunk_events(launch, 1, failing)) == {"batchItemFailures": []}
    assert summary(world, "ch-2")["phase"] == "failed"
    assert sorted(t["jobId"] for t in terminated) == [job_of("ch-2", 0), job_of("ch-2", 1)]
    assert deliver(*chunk_events(launch, 0)) == {"batchItemFailures": []}  # chunk 0 ends after the failure
    assert answers_of(world, "Task Chunk Due") == []
    assert summary(world, "ch-2")["phase"] == "failed"


def test_abort_stops_every_chunk_job_and_a_chunk_job_seen_after_it_is_stopped(world, deliver, terminated, agg):
    launch = record_chunked_launch(world, "ch-3", 0, 1)
    assert deliver(*chunk_events(launch, 0)[:3]) == {"batchItemFailures": []}
    assert agg.handler(sqs_event(abort_body("ch-3", "enough")), LambdaContext()) == {"batchItemFailures": []}
    assert summary(world, "ch-3")["phase"] == "aborted"
    assert sorted(t["jobId"] for t in terminated) == [job_of("ch-3", 0), job_of("ch-3", 1)]
    record_chunk(world, launch, 2)  # submitted while the abort went through
    assert deliver(*chunk_events(launch, 2)[:2]) == {"batchItemFailures": []}
    assert terminated[-1]["jobId"] == job_of("ch-3", 2)


def test_a_chunk_job_whose_record_is_not_written_yet_is_retried(world, deliver):
    launch = record_chunked_launch(world, "ch-4", 0, 1)
    response = deliver(*chunk_events(launch, 2)[:1])
    assert len(response["batchItemFailures"]) == 1
    record_chunk(world, launch, 2)
    assert deliver(*chunk_events(launch, 2)[:1]) == {"batchItemFailures": []}
    assert children(world, "ch-4")[6].status in ("RUNNABLE", "PENDING")
