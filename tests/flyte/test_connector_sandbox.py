"""The connector as FlytePropeller calls it (tests/flyte/propeller.py, built from propeller's source),
over flytekit's gRPC connector service (what ``pyflyte serve connector`` serves), against the
sandbox whose local executor runs every job's command for real: ``pyflyte-execute`` and
``pyflyte-map-execute`` read their inputs from and write their outputs to the emulated S3, and each
test asserts what propeller would read. Needs flytekit: ``make test`` runs it in ``.venv-flyte``."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

flytekit = pytest.importorskip("flytekit")  # the main run (.venv, no flytekit) skips this module
pytestmark = pytest.mark.flyte

from flyteidl.core.execution_pb2 import TaskExecution  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

from access_table import CONNECTOR_POLICY  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from aws_calls import Call, authorizations  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.deployment.config import load_config  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.flyte.connector import EVENT_SOURCE, BatchlaneConnector, BatchlaneMetadata, deployment_names  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.sandbox.core import Sandbox  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.sandbox.local_execution import LocalExecution  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from iam_policy import allowed  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.grpc_service import ConnectorServer  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.propeller import Execution, Propeller, array_elements, gather, task_node  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.workflows import ROLE, int_inputs, list_inputs, serialized_tasks  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flyte-app:1"
ENTRYPOINT = (sys.executable, str(Path(__file__).with_name("container.py")))
PROJECT_ROLE = "arn:aws:iam::123456789012:role/batchlane-dev-us-east-1-job-flytesnacks"
MAP_SIZE = 10  # 2 failing children with min_success_ratio 0.8: exactly enough (each child is a flytekit process)
SUBMITTED: dict[str, dict] = {}  # jobName -> the SubmitJob request the launcher made (moto does not keep overrides)
# Every AWS call the connector made (create, get, delete), checked against its team's policy at the end.
CONNECTOR_CALLS: list[Call] = []
_IN_CONNECTOR = threading.local()  # set while a connector method runs in this thread (not the sandbox's)


def _attributed(method):
    def run(self, *args, **kwargs):
        _IN_CONNECTOR.running = True
        try:
            return method(self, *args, **kwargs)
        finally:
            _IN_CONNECTOR.running = False

    return run


@pytest.fixture(scope="module")
def sandbox():
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "SubmitJob":
            SUBMITTED[params["jobName"]] = params
        if getattr(_IN_CONNECTOR, "running", False):
            CONNECTOR_CALLS.append(Call("connector", self.meta.service_model.signing_name, operation, dict(params)))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording
    execution = LocalExecution(image_map={IMAGE: ENTRYPOINT}, every_launch=True, max_processes=4)
    patch = pytest.MonkeyPatch()
    for name in ("create", "get", "delete"):
        patch.setattr(BatchlaneConnector, name, _attributed(getattr(BatchlaneConnector, name)))
    try:
        with Sandbox.started(load_config("dev"), execution=execution, visibility_timeout_seconds=1) as sandbox:
            yield sandbox
    finally:
        botocore.client.BaseClient._make_api_call = original
        patch.undo()


@pytest.fixture(scope="module")
def tasks():
    return serialized_tasks()


@pytest.fixture(scope="module")
def propeller(sandbox):
    with ConnectorServer() as server:
        yield Propeller(server, sandbox.session.client("s3"))


def an_execution(sandbox, name: str, workflow: str = "tests.flyte.workflows.single", **kwargs) -> Execution:
    return Execution(bucket=sandbox.deployment.bucket, name=name, workflow=workflow, **kwargs)


def launch_id_of(resource_meta: bytes) -> str:
    return BatchlaneMetadata.decode(resource_meta).launch_id


def submitted_job(sandbox, launch_id: str) -> dict:
    record = sandbox.launch_record(launch_id, source=EVENT_SOURCE)
    return SUBMITTED[record.job_name]


def environment(job: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["containerOverrides"]["environment"]}


def integers(literals) -> list | int | None:
    if literals is None or literals.HasField("scalar") and literals.scalar.HasField("none_type"):
        return None
    if literals.HasField("collection"):
        return [integers(x) for x in literals.collection.literals]
    return literals.scalar.primitive.integer


def test_a_task_runs_as_the_users_role_with_the_executions_context(sandbox, tasks, propeller, monkeypatch):
    execution = an_execution(
        sandbox,
        "plain",
        run_as=PROJECT_ROLE,  # RunAs wins over the annotation
        annotations={"eks.amazonaws.com/role-arn": ROLE},
        environment={"EXECUTION_SETTING": "from-the-execution"},
    )
    node = task_node(execution, "n0", int_inputs(4))
    [result] = propeller.run(tasks.single, [node], execution)
    assert result.phase == TaskExecution.SUCCEEDED, result.message
    assert not result.resource.HasField("outputs")  # left in <outputPrefix>/outputs.pb, as propeller reads them
    assert integers(result.outputs.literals["o0"]) == 16
    assert result.resource.log_links[0].name == "AWS Batch Job"
    launch_id = launch_id_of(result.resource_meta)
    job = submitted_job(sandbox, launch_id)
    env = environment(job)
    assert env["EXECUTION_SETTING"] == "from-the-execution" and env["TEAM_SETTING"] == "on"
    assert (env["FLYTE_INTERNAL_EXECUTION_ID"], env["FLYTE_ATTEMPT_NUMBER"]) == ("plain", "0")
    assert job["containerOverrides"]["command"][1:3] == ["--inputs", f"{node.output_prefix}/inputs.pb"]
    assert job["schedulingPriorityOverride"] == 7 and job["retryStrategy"] == {"attempts": 3}
    definition = sandbox.session.client("batch").describe_job_definitions(
        jobDefinitionName=sandbox.launch_record(launch_id, source=EVENT_SOURCE).job_definition
    )["jobDefinitions"][0]
    assert definition["containerProperties"]["jobRoleArn"] == PROJECT_ROLE
    assert reads_of_one_get(result, monkeypatch) == ["BatchGetItem", "GetObject", "PutObject"]


def test_a_repeated_create_task_launches_nothing_new(sandbox, tasks, propeller):
    execution = an_execution(sandbox, "again")
    node = task_node(execution, "n0", int_inputs(1))
    first, second = (propeller.create(tasks.too_many_retries, node, execution) for _ in range(2))
    assert launch_id_of(first) == launch_id_of(second)
    retried = task_node(execution, "n0", int_inputs(1), attempt=1)  # propeller's next attempt: a new launch
    assert launch_id_of(propeller.create(tasks.too_many_retries, retried, execution)) != launch_id_of(first)


def test_a_legacy_map_is_one_array_job_that_succeeds_with_enough_children(sandbox, tasks, propeller):
    execution = an_execution(sandbox, "legacy", workflow="tests.flyte.workflows.fragile_map")
    xs = [-1 if i in (3, 7) else i for i in range(MAP_SIZE)]  # 2 of 10 fail; min_success_ratio 0.8
    node = task_node(execution, "n0", list_inputs(x=xs))
    [result] = propeller.run(tasks.legacy_map, [node], execution, timeout=180)
    assert result.phase == TaskExecution.SUCCEEDED, result.message
    assert integers(result.outputs.literals["o0"]) == [None if x < 0 else x + 1 for x in xs]
    launch_id = launch_id_of(result.resource_meta)
    assert submitted_job(sandbox, launch_id)["arrayProperties"] == {"size": MAP_SIZE}
    assert sandbox.launch_record(launch_id, source=EVENT_SOURCE).min_success_ratio == 0.8
    names = [link.name for link in result.resource.log_links]
    assert names[0] == "AWS Batch Job" and "AWS Batch #3-0 (PhaseRetryableFailure)" in names  # a link per child attempt
    assert len(names) == 1 + MAP_SIZE


def test_two_maps_and_a_task_after_them_share_no_launch(sandbox, tasks, propeller):
    """Elements are nodes n0..nk under each ArrayNode, like the top-level nodes n0, n1, n2."""
    execution = an_execution(sandbox, "twomaps", workflow="tests.flyte.workflows.two_maps_then_total")
    first = array_elements(execution, "n0", list_inputs(x=[2, 3]))
    second = array_elements(execution, "n1", list_inputs(x=[4]))
    results = propeller.run(tasks.map_element, first + second, execution)
    assert [r.phase for r in results] == [TaskExecution.SUCCEEDED] * 3, [r.message for r in results]
    a, b = gather(results[:2])["o0"], gather(results[2:])["o0"]
    assert [integers(x) for x in a] == [4, 9] and [integers(x) for x in b] == [16]  # each its own element
    after = task_node(execution, "n2", list_inputs(a=[4, 9], b=[16]))
    [last] = propeller.run(tasks.total, [after], execution)
    assert last.phase == TaskExecution.SUCCEEDED and integers(last.outputs.literals["o0"]) == 29
    assert len({launch_id_of(r.resource_meta) for r in [*results, last]}) == 4


def test_a_failure_carries_the_users_exception(sandbox, tasks, propeller):
    execution = an_execution(sandbox, "failing")
    [result] = propeller.run(tasks.strict, [task_node(execution, "n0", int_inputs(-5))], execution)
    assert result.phase == TaskExecution.FAILED  # never RETRYABLE_FAILED: Batch did the task's retries
    assert result.message.startswith("[0]: ")
    assert "x must not be negative, got -5" in result.message
    assert result.resource.log_links[0].name == "AWS Batch Job"


def test_delete_aborts(sandbox, tasks, propeller):
    execution = an_execution(sandbox, "abort")
    node = task_node(execution, "n0", int_inputs(60))
    meta = propeller.create(tasks.sleepy, node, execution)
    deadline = time.monotonic() + 60
    while propeller.get(tasks.sleepy, node, meta).phase != TaskExecution.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    propeller.delete(tasks.sleepy, meta)
    while (resource := propeller.get(tasks.sleepy, node, meta)).phase != TaskExecution.ABORTED:
        assert time.monotonic() < deadline, resource.message
        time.sleep(0.3)


def test_a_rejected_launch_fails_with_its_problems(sandbox, tasks, propeller):
    execution = an_execution(sandbox, "rejected")
    [result] = propeller.run(tasks.too_many_retries, [task_node(execution, "n0", int_inputs(0))], execution)
    assert result.phase == TaskExecution.FAILED
    assert "retries" in result.message  # the launcher's problem, read from its rejection item


def test_a_launch_batchlane_never_recorded_fails_after_the_deadline(sandbox, monkeypatch):
    bus, table = deployment_names()
    meta = BatchlaneMetadata("flyte:never-sent", "s3://b/p", 1, bus, table, created_at=time.time() - 1)
    connector = BatchlaneConnector(0)
    assert connector.get(meta).phase == TaskExecution.QUEUED  # within the deadline: perhaps on its way
    monkeypatch.setenv("BATCHLANE_FLYTE_UNKNOWN_SECONDS", "0.5")
    resource = connector.get(meta)
    assert resource.phase == TaskExecution.FAILED and "no record of launch flyte:never-sent" in resource.message


def reads_of_one_get(result, monkeypatch) -> list[str]:
    """One GetTask of a succeeded launch: the summary (one read), then <prefix>/0/outputs.pb left at
    <prefix>/outputs.pb."""
    import botocore.client

    calls = []
    original = botocore.client.BaseClient._make_api_call
    mine = threading.get_ident()  # the sandbox's own threads (handlers, simulated Batch) call AWS too

    def counting(self, operation, params):
        if threading.get_ident() == mine:
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    BatchlaneConnector(0).get(BatchlaneMetadata.decode(result.resource_meta))
    return calls


def test_the_connectors_calls_on_batchlane_are_exactly_its_teams_policy(sandbox):
    """Every call the connector made in this module on batchlane's bus, table and launch data is
    allowed by its team's synthesized policy (tests/fixtures/connector-policy.json, which
    tests/infrastructure/test_tenancy_iam.py keeps equal to the template's), and every statement of
    the policy is used. Its other calls are on Flyte's metadata (here in the sandbox's bucket,
    outside launches/), which its Flyte role reaches."""
    if not CONNECTOR_CALLS:
        pytest.skip("runs after this module's connector tests, on the calls they made")
    statements = json.loads(CONNECTOR_POLICY.read_text())
    account = sandbox.deployment.account
    needs = [
        need
        for call in CONNECTOR_CALLS
        for need in authorizations(call, account, "us-east-1")
        if not need[1].startswith("arn:aws:s3:::")
        or need[1].startswith(f"arn:aws:s3:::{sandbox.deployment.bucket}/launches/")
    ]
    assert not [n for n in needs if not allowed(statements, service=None, action=n[0], resource=n[1], context=n[2])]
    exercised = {(c.operation, c.params.get("Entries", [{}])[0].get("DetailType")) for c in CONNECTOR_CALLS}
    if {("PutEvents", "Task Launch Requested"), ("PutEvents", "Task Abort Requested"), ("Query", None)} <= exercised:
        unused = [
            s["Sid"]
            for s in statements
            if not any(allowed([s], service=None, action=a, resource=r, context=c) for a, r, c in needs)
        ]
        assert not unused
