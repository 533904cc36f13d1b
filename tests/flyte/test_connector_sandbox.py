"""The connector with the real flytekit, against the sandbox: a workflow with an aws-batch task and a
map over it, serialized by flytekit; create/get/delete as propeller calls them (an ArrayNode map
reaches the connector once per element, with that element's inputs); one run through the gRPC
service ``pyflyte serve connector`` runs. Needs flytekit: ``make test`` runs it in ``.venv-flyte``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

flytekit = pytest.importorskip("flytekit")  # the main run (.venv, no flytekit) skips this module
pytestmark = pytest.mark.flyte

from flyteidl.core.execution_pb2 import TaskExecution  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from flytekit.models.literals import Literal, LiteralCollection, LiteralMap  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

from batchlane.deployment.config import load_config  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.flyte.connector import BatchlaneConnector, BatchlaneMetadata  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.sandbox.core import Sandbox  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.sandbox.scenario import parse_scenario  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.workflows import EXECUTION, ROLE, int_inputs, launch_id_of, metadata, serialized_tasks  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

FAILING_NODE = "n-fail"


SCENARIO = parse_scenario(
    {
        "seed": 3,
        "defaults": {"runSeconds": 0.2},
        "launches": [
            {
                "detail": {"launchId": launch_id_of(FAILING_NODE)},
                "children": {"*": {"failures": [{"attempt": k, "exitCode": 1} for k in (1, 2, 3)]}},
            },
            {"detail": {"launchId": launch_id_of("n-abort")}, "runSeconds": 30},
        ],
    }
)


SUBMITTED: dict[str, dict] = {}  # jobName -> the SubmitJob request the launcher made (moto does not keep overrides)


@pytest.fixture(scope="module")
def sandbox():
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "SubmitJob":
            SUBMITTED[params["jobName"]] = params
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording
    try:
        with Sandbox.started(load_config("dev"), scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
            yield sandbox
    finally:
        botocore.client.BaseClient._make_api_call = original


@pytest.fixture(scope="module")
def tasks():
    return serialized_tasks()


def output_prefix(sandbox, node: str) -> str:
    return f"s3://{sandbox.deployment.bucket}/flyte/{EXECUTION}/{node}"


def submitted(sandbox, launch_id: str):
    return wait_for(lambda: (lambda r: r if r is not None and r.submitted else None)(sandbox.launch_record(launch_id)))


def submitted_job(sandbox, launch_id: str) -> dict:
    """The SubmitJob request of the launch's job."""
    return SUBMITTED[submitted(sandbox, launch_id).job_name]


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s")


def until_final(connector, meta: BatchlaneMetadata, timeout: float = 40.0):
    final = (TaskExecution.SUCCEEDED, TaskExecution.FAILED, TaskExecution.ABORTED)
    return wait_for(lambda: (lambda r: r if r.phase in final else None)(connector.get(meta)), timeout)


ROOT = Path(__file__).resolve().parents[2]


def run_container(sandbox, job: dict, index: int | None = None) -> None:
    """Run the submitted job's command as its container would (Batch is simulated; flytekit is
    real): the job's environment, AWS_BATCH_JOB_ARRAY_INDEX for an array's child, S3 at the emulator."""
    env = {
        **os.environ,
        **environment(job),
        "PYTHONPATH": f"{ROOT / 'lambdas'}:{ROOT / 'toolkit'}:{ROOT}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "FLYTE_AWS_ENDPOINT": sandbox.endpoint,
        "FLYTE_AWS_ACCESS_KEY_ID": "testing",
        "FLYTE_AWS_SECRET_ACCESS_KEY": "testing",
    }
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    done = subprocess.run(
        job["containerOverrides"]["command"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]


def integers(outputs: LiteralMap) -> dict:
    return {
        k: ([x.scalar.primitive.integer for x in v.collection.literals] if v.collection else v.scalar.primitive.integer)
        for k, v in outputs.literals.items()
    }


def environment(job: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["containerOverrides"]["environment"]}


def test_a_task_runs_with_its_template_and_succeeds(sandbox, tasks):
    connector = BatchlaneConnector(0)
    prefix = output_prefix(sandbox, "n-single")
    meta = connector.create(tasks.single, prefix, int_inputs(4), metadata("n-single"))
    assert meta.launch_id == launch_id_of("n-single")
    job = submitted_job(sandbox, meta.launch_id)
    env = environment(job)
    assert job["containerOverrides"]["command"][:5] == [
        "pyflyte-execute",
        "--inputs",
        f"{prefix}/inputs.pb",
        "--output-prefix",
        f"{prefix}/0",
    ]
    assert env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "BATCHLANE_FAKE_ARRAY_INDEX"
    assert env["BATCHLANE_FAKE_ARRAY_INDEX"] == "0" and env["FLYTE_FAIL_ON_ERROR"] == "true"
    assert env["TEAM_SETTING"] == "on"
    assert job["jobQueue"] == sandbox.launch_record(meta.launch_id).queue
    assert job["schedulingPriorityOverride"] == 7 and job["parameters"] == {"bucket": "raw"}
    assert job["propagateTags"] is False and job["tags"]["team"] == "ml"
    assert job["retryStrategy"] == {"attempts": 3}
    assert {r["type"]: r["value"] for r in job["containerOverrides"]["resourceRequirements"]} == {
        "VCPU": "2",
        "MEMORY": "4096",
    }
    assert sandbox.launch_record(meta.launch_id).job_definition  # the role lives in the job definition
    inputs = (
        sandbox.session.client("s3")
        .get_object(Bucket=sandbox.deployment.bucket, Key=f"flyte/{EXECUTION}/n-single/inputs.pb")["Body"]
        .read()
    )
    assert inputs == int_inputs(4).to_flyte_idl().SerializeToString()
    run_container(sandbox, job)  # pyflyte-execute reads inputs.pb from S3, writes <prefix>/0/outputs.pb
    resource = until_final(connector, meta)
    assert resource.phase == TaskExecution.SUCCEEDED
    assert [log.name for log in resource.log_links][0] == "AWS Batch Job"
    assert integers(resource.outputs) == {"o0": 16}


def test_the_role_comes_from_the_execution_annotation(sandbox, tasks):
    meta = BatchlaneConnector(0).create(
        tasks.single, output_prefix(sandbox, "n-role"), int_inputs(1), metadata("n-role")
    )
    record = submitted(sandbox, meta.launch_id)
    definition = sandbox.session.client("batch").describe_job_definitions(jobDefinitionName=record.job_definition)[
        "jobDefinitions"
    ][0]
    assert definition["containerProperties"]["jobRoleArn"] == ROLE


def test_a_map_over_three_elements_is_three_launches_each_with_its_own_element(sandbox, tasks):
    connector = BatchlaneConnector(1)
    metas = [
        connector.create(
            tasks.map_element, output_prefix(sandbox, f"n-map-{i}"), int_inputs(10 + i), metadata(f"n-map-{i}")
        )
        for i in range(3)
    ]
    assert len({m.launch_id for m in metas}) == 3
    s3 = sandbox.session.client("s3")
    for i, meta in enumerate(metas):
        body = s3.get_object(Bucket=sandbox.deployment.bucket, Key=f"flyte/{EXECUTION}/n-map-{i}/inputs.pb")["Body"]
        assert body.read() == int_inputs(10 + i).to_flyte_idl().SerializeToString()
        job = submitted_job(sandbox, meta.launch_id)
        assert "arrayProperties" not in job and environment(job)["BATCHLANE_FAKE_ARRAY_INDEX"] == "0"
        run_container(sandbox, job)
    resources = [until_final(connector, m) for m in metas]
    assert all(r.phase == TaskExecution.SUCCEEDED for r in resources)
    assert [integers(r.outputs)["o0"] for r in resources] == [100, 121, 144]  # each its own element


def test_a_whole_map_is_one_array_job_whose_children_compute_their_own_elements(sandbox, tasks):
    connector = BatchlaneConnector(1)
    prefix = output_prefix(sandbox, "n-whole")
    xs = LiteralMap({"x": Literal(collection=LiteralCollection([int_inputs(x).literals["x"] for x in (2, 3, 4)]))})
    meta = connector.create(tasks.whole_map, prefix, xs, metadata("n-whole"))
    job = submitted_job(sandbox, meta.launch_id)
    assert job["arrayProperties"] == {"size": 3}
    assert environment(job)["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "AWS_BATCH_JOB_ARRAY_INDEX"
    for index in range(3):
        run_container(sandbox, job, index)  # pyflyte-map-execute picks element <index>, writes <prefix>/<index>
    resource = until_final(connector, meta)
    assert resource.phase == TaskExecution.SUCCEEDED
    assert integers(resource.outputs) == {"o0": [8, 27, 64]}
    children, _ = connector_client().children(meta.launch_id)
    assert [c["index"] for c in children] == [0, 1, 2]


def connector_client():
    from batchlane.flyte.connector import _client, deployment_names

    return _client(*deployment_names())


def test_a_failed_task_is_a_permanent_failure_with_flytes_error_format_and_links(sandbox, tasks):
    connector = BatchlaneConnector(0)
    meta = connector.create(tasks.single, output_prefix(sandbox, FAILING_NODE), int_inputs(0), metadata(FAILING_NODE))
    resource = until_final(connector, meta)
    assert resource.phase == TaskExecution.FAILED  # never RETRYABLE_FAILED: Batch did the 2 retries
    assert resource.message.startswith("[0]: ")
    names = [log.name for log in resource.log_links]
    assert names[0] == "AWS Batch Job"
    assert {"AWS Batch #0-0 (PhaseRetryableFailure)", "AWS Batch #0-2 (PhaseRetryableFailure)"} <= set(names)


def test_delete_aborts(sandbox, tasks):
    connector = BatchlaneConnector(0)
    meta = connector.create(tasks.single, output_prefix(sandbox, "n-abort"), int_inputs(0), metadata("n-abort"))
    wait_for(lambda: connector.get(meta).phase == TaskExecution.RUNNING)
    connector.delete(meta)
    assert until_final(connector, meta).phase == TaskExecution.ABORTED


def test_a_rejected_launch_fails_with_its_problems(sandbox, tasks):
    connector = BatchlaneConnector(0)
    meta = connector.create(tasks.too_many_retries, output_prefix(sandbox, "n-bad"), int_inputs(0), metadata("n-bad"))
    resource = until_final(connector, meta)
    assert resource.phase == TaskExecution.FAILED
    assert "retries" in resource.message  # the launcher's problem, read from its rejection item


def test_the_grpc_connector_service_creates_gets_and_deletes(sandbox, tasks):
    from tests.flyte.grpc_service import ConnectorServer

    with ConnectorServer() as server:
        prefix = output_prefix(sandbox, "n-grpc")
        created = server.create(tasks.single, prefix, int_inputs(2), metadata("n-grpc"))
        meta = BatchlaneMetadata.decode(created.resource_meta)
        assert meta.launch_id == launch_id_of("n-grpc")
        resource = wait_for(
            lambda: (lambda r: r if r.phase == TaskExecution.SUCCEEDED else None)(
                server.get(created.resource_meta).resource
            )
        )
        assert resource.log_links[0].name == "AWS Batch Job"
        server.delete(created.resource_meta)  # of an ended launch: answered, nothing to stop


def test_get_is_one_read(sandbox, tasks, monkeypatch):
    connector = BatchlaneConnector(0)
    meta = connector.create(tasks.single, output_prefix(sandbox, "n-count"), int_inputs(3), metadata("n-count"))
    until_final(connector, meta)
    import threading

    import botocore.client

    calls = []
    original = botocore.client.BaseClient._make_api_call
    mine = threading.get_ident()  # the sandbox's own threads (handlers, simulated Batch) call AWS too

    def counting(self, operation, params):
        if threading.get_ident() == mine:
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    connector.get(meta)
    assert calls == ["BatchGetItem", "GetObject"]  # the summary, then (succeeded) the outputs pyflyte-execute wrote
