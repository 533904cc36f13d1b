"""A serialized task template, as propeller sends it (tests/flyte/propeller.py), to a launch detail
(real flytekit models; no AWS)."""

from __future__ import annotations

import pytest

pytest.importorskip("flytekit")  # the main run (.venv, no flytekit) skips this module
pytestmark = pytest.mark.flyte

from flytekit.models.security import Identity, Secret, SecurityContext  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

from batchlane.flyte.launch import launch_detail  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.launch.models import LaunchRequest  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.propeller import Execution, array_elements, metadata, render, task_node  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.workflows import BATCH_CONFIG, ROLE, int_inputs, list_inputs, serialized_tasks  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
EXECUTION = Execution(
    bucket="metadata",
    name="exec1",
    workflow="tests.flyte.workflows.squares",
    annotations={"eks.amazonaws.com/role-arn": ROLE},
    environment={"EXECUTION_SETTING": "x", "FLYTE_FAIL_ON_ERROR": "false"},
)


@pytest.fixture(scope="module")
def tasks():
    return serialized_tasks()


def detail_of(template, node, execution=EXECUTION, **kwargs) -> dict:
    rendered = render(template, node, execution)
    return launch_detail(
        rendered, node.output_prefix, node.inputs, metadata(template, node, execution), **kwargs
    ).detail


def test_the_detail_carries_the_template_and_the_execution(tasks):
    detail = detail_of(tasks.single, task_node(EXECUTION, "n0", int_inputs(2)))
    assert (detail["project"], detail["domain"]) == ("flytesnacks", "development")
    assert detail["workflow"] == "tests-flyte-workflows-squares"  # propeller's workflow-name label
    assert detail["role"] == ROLE and detail["retries"] == 2
    assert detail["container"]["resources"] == {"vcpu": 2.0, "memory": 4096}
    assert (detail["schedulingPriority"], detail["parameters"], detail["propagateTags"], detail["tags"]) == (
        BATCH_CONFIG.schedulingPriority,
        BATCH_CONFIG.parameters,
        False,
        BATCH_CONFIG.tags,
    )
    env = detail["container"]["environment"]
    assert env["EXECUTION_SETTING"] == "x" and env["FLYTE_INTERNAL_EXECUTION_PROJECT"] == "flytesnacks"
    assert "FLYTE_FAIL_ON_ERROR" not in env  # batchlane sets it on every job
    assert "queueHint" not in detail
    LaunchRequest.model_validate(detail)  # a valid launch under the strict contract


def test_ids_differ_for_every_node_element_and_attempt_and_repeat_for_the_same(tasks):
    top = [task_node(EXECUTION, f"n{i}", int_inputs(i)) for i in range(2)]
    elements = array_elements(EXECUTION, "n0", list_inputs(x=[1, 2])) + array_elements(
        EXECUTION, "n1", list_inputs(x=[3, 4])
    )
    retried = task_node(EXECUTION, "n0", int_inputs(0), attempt=1)
    nodes = [*top, *elements, retried]
    ids = [detail_of(tasks.map_element, node)["launchId"] for node in nodes]
    assert len(set(ids)) == len(nodes)  # top-level n0 and the elements n0 of two maps included
    assert ids[0] == detail_of(tasks.map_element, top[0])["launchId"]
    assert all(LaunchRequest.model_validate(detail_of(tasks.map_element, n)).launch_id for n in nodes)


def test_an_element_reads_its_own_inputs_not_the_array_nodes_lists(tasks):
    [_, element] = array_elements(EXECUTION, "n3", list_inputs(x=[5, 6]))
    assert element.input_path.endswith("/n3/data/inputs.pb")  # propeller renders {{.input}} to the lists
    command = detail_of(tasks.map_element, element)["container"]["command"]
    assert command[1:5] == [
        "--inputs",
        f"{element.output_prefix}/inputs.pb",
        "--output-prefix",
        f"{element.output_prefix}/0",
    ]


def test_the_run_as_role_wins_then_the_annotation_keys_in_order(tasks):
    node = task_node(EXECUTION, "n0", int_inputs(1))
    run_as = Execution(
        bucket="m", name="e", workflow="w", run_as=OTHER_ROLE, annotations={"iam.amazonaws.com/role": ROLE}
    )
    assert detail_of(tasks.single, node, run_as)["role"] == OTHER_ROLE
    kube2iam = Execution(bucket="m", name="e", workflow="w", annotations={"iam.amazonaws.com/role": ROLE})
    assert detail_of(tasks.single, node, kube2iam)["role"] == ROLE
    assert "role" not in detail_of(tasks.single, node, kube2iam, role_annotation_keys=("eks.amazonaws.com/role-arn",))


def test_a_legacy_map_is_one_array_with_its_ratio_and_parallelism(tasks):
    template = serialized_tasks().legacy_map
    template._custom = {"parallelism": "4", "minSuccesses": "15"}
    detail = detail_of(template, task_node(EXECUTION, "n0", list_inputs(x=list(range(20)))))
    assert len(detail["inputs"]) == 20 and detail["maxConcurrency"] == 4 and detail["minSuccessRatio"] == 0.75
    assert detail["container"]["command"][0] == "pyflyte-map-execute"  # flytekit appends the index itself
    LaunchRequest.model_validate(detail)


def test_fractional_cpu_is_rounded_up_on_ec2_and_kept_on_fargate(tasks):
    template = serialized_tasks().single
    template.container.resources.limits.clear()
    node = task_node(EXECUTION, "n0", int_inputs(1))
    assert detail_of(template, node)["container"]["resources"]["vcpu"] == 1.0  # 500m requested
    template._config = {"platformCapabilities": "FARGATE"}
    assert detail_of(template, node)["container"]["resources"]["vcpu"] == 0.5


def test_flyteadmins_queue_becomes_the_hint(tasks):
    template = serialized_tasks().single
    template.container._config = {"child_queue": "critical"}
    assert detail_of(template, task_node(EXECUTION, "n0", int_inputs(1)))["queueHint"] == "critical"


def test_the_security_contexts_role_is_used_without_run_as(tasks):
    template = serialized_tasks().single  # flytekit's local runs: no execution identity
    template._security_context = SecurityContext(run_as=Identity(iam_role=OTHER_ROLE))
    plain = Execution(bucket="m", name="e", workflow="w")
    assert detail_of(template, task_node(plain, "n0", int_inputs(1)), plain)["role"] == OTHER_ROLE


def test_secret_requests_become_secrets_in_the_variables_flytekit_reads(tasks):
    from flytekit.core.context_manager import SecretsManager

    template = serialized_tasks().single
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:genomics/api-AbCdEf"
    requests = [
        Secret(group="genomics", key="db_password"),
        Secret(group=arn, key="token"),
        Secret(group=arn, env_var="API"),
    ]
    template._security_context = SecurityContext(secrets=requests)
    secrets = detail_of(template, task_node(EXECUTION, "n0", int_inputs(1)))["container"]["secrets"]
    names = SecretsManager()
    assert secrets == {
        names.get_secrets_env_var("genomics", "db_password"): "ssm:/genomics/db_password",
        names.get_secrets_env_var(arn, "token"): f"secretsmanager:{arn}:token",
        "API": f"secretsmanager:{arn}",
    }
    assert names.get_secrets_env_var("genomics", "db_password") == "_FSEC_GENOMICS_DB_PASSWORD"
