"""Chunked map tasks on the launch side against moto: a map beyond maxArraySize runs as several
Batch jobs, each submitted exactly once (docs/chunked-maps.md), the later ones on "Task Chunk Due"."""

from __future__ import annotations

import json
import struct

import boto3
import pytest
from fault_injection import Crash, Fault, Injector, deliver_until_acknowledged, fault_cells

from batchlane.common.executions import LaunchRecord, chunk_state_sk, key, launch_key
from batchlane.common.tenancy import INPUTS, LaunchData
from batchlane.common.values import to_dynamo
from batchlane.launch import handler
from batchlane.launch.planner import job_name
from batchlane.status.states import ParentState
from clock import Clock
from tests.integration.conftest import LambdaContext, sqs_event

VISIBILITY_SECONDS = 360
BASE = job_name("my.task", launch_key("platform", "m-1"))


def detail(size=25, launch_id="m-1", **overrides):
    d = {
        "launchId": launch_id,
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "wf",
        "task": "my.task",
        "container": {"image": "busybox:1.36", "command": ["echo", "hi"]},
        "inputs": [{"n": i, "text": "x" * (i % 3)} for i in range(size)],
    }
    d.update(overrides)
    return d


def event_body(detail_: dict, detail_type="Task Launch Requested", source="my.orchestrator") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "e",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail_,
        }
    )


def chunk_due(chunk: int, launch_id="m-1", source="batchlane.status", **fields) -> str:
    return event_body({"launchId": launch_id, "team": "platform", "chunk": chunk, **fields}, "Task Chunk Due", source)


def end_chunk(world, chunk: int, launch_id="m-1", status="SUCCEEDED") -> None:
    """Write the chunk's Batch job as ended, as the aggregator does (its parent item, for a one-child
    chunk its marker): what frees its slot for the chunk ``window`` after it."""
    record = LaunchRecord.from_item(world.execution_items(launch_id)["launch"])
    sk = chunk_state_sk(record.chunks, chunk)
    state = ParentState(status, size=record.chunks.chunk_len(chunk))
    boto3.resource("dynamodb").Table(world.config.table_name("executions")).put_item(
        Item=to_dynamo({**key(world.key(launch_id), sk), **state.to_item()})
    )


def set_limits(world, **limits) -> None:
    boto3.client("ssm").put_parameter(
        Name=f"{world.deployment.settings_path}/limits", Value=json.dumps(limits), Type="String", Overwrite=True
    )
    handler.runtime.cache_clear()


@pytest.fixture
def harness(world):
    set_limits(world, maxArraySize=10)
    injector, clock = Injector(), Clock(step=VISIBILITY_SECONDS)

    def invoke(*bodies: str) -> dict:
        service = handler.runtime()
        service.clock = clock
        service.lease_seconds = 3 * world.config.launcher.timeout_seconds
        with injector.active():
            try:
                return handler.handler(sqs_event(*bodies), LambdaContext())
            except Crash:
                handler.runtime.cache_clear()
                raise

    with injector.installed():
        yield world, injector, clock, invoke


def chunk_jobs(world) -> dict[int, list[dict]]:
    """Every Batch job of the launch by chunk (looked up by name, in every status)."""
    batch = boto3.client("batch")
    out: dict[int, list[dict]] = {}
    for c in range(30):
        for queue in world.deployment.queue_arns:
            found = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [f"{BASE}-c{c}"]}])
            out.setdefault(c, []).extend(
                j
                for j in found["jobSummaryList"]  # parents and plain jobs
                if j["jobName"] == f"{BASE}-c{c}" and ":" not in j["jobId"]
            )
    return {c: jobs for c, jobs in out.items() if jobs}


def described(job_id: str) -> dict:
    return boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


def environment(job: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["container"]["environment"]}


def test_a_map_beyond_max_array_size_runs_as_chunk_jobs_of_the_right_sizes_env_and_tags(harness):
    world, _, clock, invoke = harness
    assert invoke(event_body(detail()))["batchItemFailures"] == []
    jobs = chunk_jobs(world)
    assert sorted(jobs) == [0, 1, 2] and all(len(j) == 1 for j in jobs.values())
    sizes, offsets = {}, {}
    for c, [summary] in jobs.items():
        job = described(summary["jobId"])
        env = environment(job)
        sizes[c] = job.get("arrayProperties", {}).get("size")
        offsets[c] = env["BATCH_JOB_ARRAY_INDEX_OFFSET"]
        assert (
            env["BATCHLANE_ARRAY_SIZE"] == "25" and env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "AWS_BATCH_JOB_ARRAY_INDEX"
        )
        assert env["BATCHLANE_INPUTS_INDEX_URI"].endswith("/l=m-1/inputs.idx")
        assert job["tags"]["batchlane:chunk"] == str(c) and job["tags"]["batchlane:launchId"] == "m-1"
    assert sizes == {0: 10, 1: 10, 2: 5} and offsets == {0: "0", 1: "10", 2: "20"}
    items = world.execution_items("m-1")
    launch = items["launch"]
    assert (launch["chunkSize"], launch["chunkCount"], launch["chunkWindow"], launch["size"]) == (10, 3, 3, 25)
    assert launch["jobId"] == jobs[0][0]["jobId"] and launch["jobName"] == f"{BASE}-c0"
    chunk_items = {sk: i for sk, i in items.items() if sk.startswith("chunk#")}
    assert {sk: (i["offset"], i["size"], i["jobId"], i["state"]) for sk, i in chunk_items.items()} == {
        f"chunk#{c:06d}": (10 * c, [10, 10, 5][c], jobs[c][0]["jobId"], "SUBMITTED") for c in range(3)
    }
    [launched] = [a["detail"] for a in world.answers() if a["detail-type"] == "Task Launched"]
    assert (launched["chunkCount"], launched["chunkSize"], launched["chunkWindow"]) == (3, 10, 3)
    assert launched["arraySize"] == 25 and launched["jobId"] == launch["jobId"]


def test_the_inputs_are_written_once_with_an_index_to_every_line(harness):
    world, _, _, invoke = harness
    invoke(event_body(detail()))
    s3 = boto3.client("s3")
    bucket = world.deployment.bucket
    prefix = LaunchData("platform", "flytesnacks", "development", "m-1").prefix(INPUTS)
    lines = s3.get_object(Bucket=bucket, Key=prefix + "inputs.jsonl")["Body"].read()
    index = s3.get_object(Bucket=bucket, Key=prefix + "inputs.idx")["Body"].read()
    offsets = [struct.unpack_from(">Q", index, 8 * i)[0] for i in range(26)]
    assert offsets[-1] == len(lines)
    assert [json.loads(lines[offsets[i] : offsets[i + 1]]) for i in range(25)] == detail()["inputs"]


def test_with_max_concurrency_only_the_window_is_submitted_and_chunk_due_submits_the_next_once(harness):
    world, _, _, invoke = harness
    invoke(event_body(detail(maxConcurrency=4)))
    launch = world.execution_items("m-1")["launch"]
    assert (launch["chunkSize"], launch["chunkWindow"], launch["chunkCount"], launch["maxConcurrency"]) == (2, 2, 13, 4)
    assert sorted(chunk_jobs(world)) == [0, 1]
    end_chunk(world, 0)
    assert invoke(chunk_due(2), chunk_due(2))["batchItemFailures"] == []  # a duplicate in the same batch
    assert invoke(chunk_due(2))["batchItemFailures"] == []
    jobs = chunk_jobs(world)
    assert sorted(jobs) == [0, 1, 2] and len(jobs[2]) == 1
    env = environment(described(jobs[2][0]["jobId"]))
    assert env["BATCH_JOB_ARRAY_INDEX_OFFSET"] == "4" and described(jobs[2][0]["jobId"])["arrayProperties"]["size"] == 2
    end_chunk(world, 10)
    invoke(chunk_due(12))  # the last chunk holds one child: a plain job pointed at the fake index
    last = described(chunk_jobs(world)[12][0]["jobId"])
    assert "arrayProperties" not in last or not last["arrayProperties"].get("size")
    env = environment(last)
    assert env["BATCH_JOB_ARRAY_INDEX_OFFSET"] == "24" and env["BATCHLANE_FAKE_ARRAY_INDEX"] == "0"
    assert env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "BATCHLANE_FAKE_ARRAY_INDEX"


def test_a_chunk_due_of_a_finished_launch_submits_nothing(harness):
    world, _, _, invoke = harness
    invoke(event_body(detail(maxConcurrency=4)))
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.put_item(Item={"pk": world.key("m-1"), "sk": "status", "phase": "failed"})
    assert invoke(chunk_due(2))["batchItemFailures"] == []
    assert sorted(chunk_jobs(world)) == [0, 1]


def test_a_chunk_due_of_an_earlier_submission_of_the_launch_id_submits_nothing(harness):
    """The id was used before (its record deleted): a late notice of that run names its first job,
    not this run's, and must not put a chunk of this run in flight."""
    world, _, _, invoke = harness
    invoke(event_body(detail(maxConcurrency=4)))
    end_chunk(world, 0)
    assert invoke(chunk_due(2, jobId="an-earlier-runs-job", eventId="e" * 32))["batchItemFailures"] == []
    assert sorted(chunk_jobs(world)) == [0, 1]
    own = world.execution_items("m-1")["launch"]["jobId"]
    assert invoke(chunk_due(2, jobId=own))["batchItemFailures"] == []
    assert sorted(chunk_jobs(world)) == [0, 1, 2]


@pytest.mark.parametrize(
    "body",
    [
        chunk_due(2, launch_id="nobody"),  # no such launch
        chunk_due(40),  # out of range
        chunk_due(1),  # an initial chunk: the launcher's own
        chunk_due(2, source="my.orchestrator"),  # not the status path
        event_body({"launchId": "m-1"}, "Task Chunk Due", "batchlane.status"),  # no chunk
    ],
    ids=["unknown-launch", "out-of-range", "initial-chunk", "foreign-source", "malformed"],
)
def test_a_chunk_due_that_names_no_due_chunk_fails_and_submits_nothing(harness, body):
    world, _, _, invoke = harness
    invoke(event_body(detail(maxConcurrency=4)))
    assert len(invoke(body)["batchItemFailures"]) == 1  # retried a few times, then dead-lettered
    assert sorted(chunk_jobs(world)) == [0, 1]


def test_a_chunk_due_before_the_chunk_it_follows_has_ended_submits_nothing(harness):
    # With maxConcurrency 4 (two chunks of two in flight), chunk 2 may run only once chunk 0 ended:
    # a notice before that (forged, or replayed out of place) would put 6 children in flight.
    world, _, _, invoke = harness
    invoke(event_body(detail(maxConcurrency=4)))
    end_chunk(world, 1)  # not the one chunk 2 waits for
    assert len(invoke(chunk_due(2))["batchItemFailures"]) == 1  # retried a few times, then dead-lettered
    assert sorted(chunk_jobs(world)) == [0, 1]
    end_chunk(world, 0, status="FAILED")  # a failed chunk frees its slot too (minSuccessRatio decides the launch)
    assert invoke(chunk_due(2))["batchItemFailures"] == []
    assert sorted(chunk_jobs(world)) == [0, 1, 2]


def test_with_max_concurrency_one_each_plain_job_waits_for_the_one_before_it(harness):
    world, _, _, invoke = harness
    invoke(event_body(detail(size=3, maxConcurrency=1)))  # three chunks of one child: plain Batch jobs
    assert len(invoke(chunk_due(1))["batchItemFailures"]) == 1
    end_chunk(world, 0)  # its one child's item
    assert invoke(chunk_due(1))["batchItemFailures"] == []
    assert len(invoke(chunk_due(2))["batchItemFailures"]) == 1
    assert sorted(chunk_jobs(world)) == [0, 1]


def test_a_chunk_due_of_an_unchunked_launch_fails(harness):
    world, _, _, invoke = harness
    invoke(event_body(detail(size=5)))
    assert len(invoke(chunk_due(1))["batchItemFailures"]) == 1
    assert chunk_jobs(world) == {}


# Every AWS call of a chunked launch (3 initial chunks: the faults hit the second chunk's calls too).
CHUNKED_LAUNCH_CALLS = [
    ("ssm", "GetParametersByPath", 1),
    ("dynamodb", "Query", 1),
    ("dynamodb", "PutItem", 1),
    ("batch", "DescribeJobDefinitions", 1),
    ("batch", "RegisterJobDefinition", 1),
    ("s3", "PutObject", 1),
    ("s3", "PutObject", 2),
    ("dynamodb", "PutItem", 2),
    ("batch", "SubmitJob", 1),
    ("dynamodb", "UpdateItem", 1),
    ("dynamodb", "PutItem", 3),
    ("batch", "SubmitJob", 2),
    ("dynamodb", "UpdateItem", 2),
    ("batch", "SubmitJob", 3),
    ("dynamodb", "UpdateItem", 4),
    ("events", "PutEvents", 1),
]


def cells(calls):
    """The fault cells over ``calls`` and their test ids."""
    found = fault_cells(calls)
    return {"argvalues": found, "ids": [f"{s}.{o}#{n}-{k}" for s, o, n, k in found]}


def plan_nth(injector: Injector, service: str, operation: str, kind: str, nth: int) -> Fault:
    return injector.plan(Fault(service, operation, kind, skip=nth - 1))


def assert_every_chunk_once(world, expected: list[int]) -> None:
    jobs = chunk_jobs(world)
    assert sorted(jobs) == expected and all(len(j) == 1 for j in jobs.values()), {c: len(j) for c, j in jobs.items()}
    items = world.execution_items("m-1")
    assert items["launch"]["state"] == "SUBMITTED" and items["launch"]["jobId"] == jobs[0][0]["jobId"]
    for c in expected:
        assert items[f"chunk#{c:06d}"]["jobId"] == jobs[c][0]["jobId"]


@pytest.mark.parametrize("service,operation,nth,kind", **cells(CHUNKED_LAUNCH_CALLS))
def test_every_initial_chunk_once_whatever_call_of_a_chunked_launch_fails(world, service, operation, nth, kind):
    set_limits(world, maxArraySize=10)
    injector, clock = Injector(), Clock(step=VISIBILITY_SECONDS)
    fault = plan_nth(injector, service, operation, kind, nth)

    def invoke(*bodies):
        service_ = handler.runtime()
        service_.clock = clock
        service_.lease_seconds = 3 * world.config.launcher.timeout_seconds
        with injector.active():
            try:
                return handler.handler(sqs_event(*bodies), LambdaContext())
            except Crash:
                handler.runtime.cache_clear()
                raise

    with injector.installed():
        body = event_body(detail())
        first = deliver_until_acknowledged(invoke, body, advance=clock.advance)
        assert fault.injected == 1, f"{service}.{operation} #{nth} was never called on a chunked launch"
        again = deliver_until_acknowledged(invoke, body, advance=clock.advance)
        clock.advance(24 * 3600)
        later = deliver_until_acknowledged(invoke, body, advance=clock.advance)
    assert sum(d.dead_lettered for d in (first, again, later)) == 0
    assert_every_chunk_once(world, [0, 1, 2])


CHUNK_DUE_CALLS = [
    ("dynamodb", "GetItem", 1),
    ("dynamodb", "GetItem", 2),
    ("dynamodb", "GetItem", 3),
    ("dynamodb", "PutItem", 1),
    ("batch", "SubmitJob", 1),
    ("dynamodb", "UpdateItem", 1),
]


@pytest.mark.parametrize("service,operation,nth,kind", **cells(CHUNK_DUE_CALLS))
def test_a_due_chunk_once_whatever_call_of_a_chunk_due_fails(world, service, operation, nth, kind):
    set_limits(world, maxArraySize=10)
    clock = Clock(step=VISIBILITY_SECONDS)

    def prepare():
        s = handler.runtime()
        s.clock = clock
        s.lease_seconds = 3 * world.config.launcher.timeout_seconds
        return s

    injector = Injector()
    fault = plan_nth(injector, service, operation, kind, nth)

    def invoke(*bodies):
        prepare()
        with injector.active():
            try:
                return handler.handler(sqs_event(*bodies), LambdaContext())
            except Crash:
                handler.runtime.cache_clear()
                raise

    with injector.installed():  # before any client exists: every client the launcher makes carries the hooks
        prepare()
        launched = handler.handler(sqs_event(event_body(detail(maxConcurrency=4))), LambdaContext())  # no faults yet
        assert launched["batchItemFailures"] == []
        end_chunk(world, 0)
        first = deliver_until_acknowledged(invoke, chunk_due(2), advance=clock.advance)
        assert fault.injected == 1, f"{service}.{operation} #{nth} was never called on a chunk due"
        again = deliver_until_acknowledged(invoke, chunk_due(2), advance=clock.advance)
    assert sum(d.dead_lettered for d in (first, again)) == 0
    assert_every_chunk_once(world, [0, 1, 2])
