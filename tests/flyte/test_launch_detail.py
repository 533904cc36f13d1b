"""A serialized aws-batch task template to a launch detail (real flytekit models; no AWS)."""

from __future__ import annotations

import pytest

pytest.importorskip("flytekit")  # the main run (.venv, no flytekit) skips this module
pytestmark = pytest.mark.flyte

from flytekit.models.security import Identity, SecurityContext  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

from batchlane.flyte.launch import launch_detail, launch_id  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from batchlane.launch.models import LaunchRequest  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module
from tests.flyte.workflows import BATCH_CONFIG, ROLE, metadata, serialized_tasks  # noqa: E402 - after importorskip: the main run (no flytekit) skips this module

PREFIX = "s3://metadata/flyte/exec1/n0"


@pytest.fixture(scope="module")
def tasks():
    return serialized_tasks()


def test_the_detail_carries_the_template_and_the_execution(tasks):
    launch = launch_detail(tasks.single, PREFIX, None, metadata("n0"))
    detail = launch.detail
    assert (detail["project"], detail["domain"], detail["workflow"]) == ("flytesnacks", "development", "training")
    assert detail["role"] == ROLE and detail["retries"] == 2 and launch.size == 1
    assert detail["container"]["resources"] == {"vcpu": 2.0, "memory": 4096}
    assert (detail["schedulingPriority"], detail["parameters"], detail["propagateTags"], detail["tags"]) == (
        BATCH_CONFIG.schedulingPriority,
        BATCH_CONFIG.parameters,
        False,
        BATCH_CONFIG.tags,
    )
    assert "queueHint" not in detail
    assert LaunchRequest.model_validate(detail).queue_hint is None  # a valid launch under the strict contract


def test_the_security_contexts_role_wins_over_the_annotation(tasks):
    template = serialized_tasks().single
    template._security_context = SecurityContext(run_as=Identity(iam_role="arn:aws:iam::123456789012:role/other"))
    assert (
        launch_detail(template, PREFIX, None, metadata("n0")).detail["role"] == "arn:aws:iam::123456789012:role/other"
    )


def test_flyteadmins_queue_becomes_the_hint(tasks):
    template = serialized_tasks().single
    template.container._config = {"child_queue": "critical"}
    assert launch_detail(template, PREFIX, None, metadata("n0")).detail["queueHint"] == "critical"


def test_the_launch_id_is_one_per_task_execution_attempt():
    assert launch_id(metadata("n0")) == launch_id(metadata("n0")) != launch_id(metadata("n1"))
    assert launch_id(None) != launch_id(None)  # a local run without an execution: a fresh id each time


def test_the_template_is_rendered_without_being_changed(tasks):
    before = list(tasks.single.container.args)
    command = launch_detail(tasks.single, PREFIX, None, metadata("n0")).detail["container"]["command"]
    assert f"{PREFIX}/inputs.pb" in command and f"{PREFIX}/0" in command
    assert list(tasks.single.container.args) == before and "{{.input}}" in before


def test_secret_requests_become_secrets_in_the_variables_flytekit_reads(tasks):
    from flytekit.core.context_manager import SecretsManager
    from flytekit.models.security import Secret

    template = serialized_tasks().single
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:genomics/api-AbCdEf"
    requests = [
        Secret(group="genomics", key="db_password"),
        Secret(group=arn, key="token"),
        Secret(group=arn, env_var="API"),
    ]
    template._security_context = SecurityContext(secrets=requests)
    secrets = launch_detail(template, PREFIX, None, metadata("n0")).detail["container"]["secrets"]
    names = SecretsManager()
    assert secrets == {
        names.get_secrets_env_var("genomics", "db_password"): "ssm:/genomics/db_password",
        names.get_secrets_env_var(arn, "token"): f"secretsmanager:{arn}:token",
        "API": f"secretsmanager:{arn}",
    }
    assert names.get_secrets_env_var("genomics", "db_password") == "_FSEC_GENOMICS_DB_PASSWORD"
