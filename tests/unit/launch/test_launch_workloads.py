"""The jobs real workloads need (issue 28): secrets, in the contract, the plan and Batch's API shapes."""

from __future__ import annotations

import dataclasses

import botocore.session
import pytest
from botocore.validate import ParamValidator
from launch_examples import SETTINGS, TABLE, detail

from batchlane.common.secrets import SecretAccess, value_from
from batchlane.common.settings import Settings
from batchlane.launch.planner import plan_launch
from batchlane.launch.validation import validate
from batchlane.routing import decide

EXEC_GENOMICS = "arn:aws:iam::123456789012:role/exec-genomics"
SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
GRANTS = (
    SecretAccess(
        name="genomics",
        projects=["genomics"],
        valueFrom=["ssm:/genomics/*", f"secretsmanager:{SM}:genomics/*"],
        executionRoleArn=EXEC_GENOMICS,
    ),
    SecretAccess(name="shared", projects=["*"], valueFrom=["ssm:/shared/*"], executionRoleArn=EXEC_GENOMICS + "2"),
)
WITH_SECRETS = dataclasses.replace(SETTINGS, secrets_allowed=GRANTS)
BATCH = botocore.session.get_session().get_service_model("batch")


def api_problems(operation: str, params: dict) -> str:
    """What botocore's own validation of Batch's service model says of a request ('' when none)."""
    report = ParamValidator().validate(params, BATCH.operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else ""


def planned(launch: dict, settings: Settings = WITH_SECRETS):
    request, role, problems = validate(launch, settings)
    assert problems == []
    plan, problems = plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), settings, "bucket")
    assert problems == [] and plan is not None
    return plan


def problems_of(launch: dict, settings: Settings = WITH_SECRETS) -> list[tuple[str, str]]:
    request, _, problems = validate(launch, settings)
    assert request is None
    return [(p.field, p.message) for p in problems]


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("ssm:/genomics/db/password", "/genomics/db/password"),
        (f"secretsmanager:{SM}:genomics/api-AbCdEf", f"{SM}:genomics/api-AbCdEf"),
        (f"secretsmanager:{SM}:genomics/api-AbCdEf:token", f"{SM}:genomics/api-AbCdEf:token::"),
    ],
)
def test_a_secret_reference_becomes_batchs_value_from(reference, expected):
    assert value_from(reference) == expected


def test_secrets_live_in_the_job_definition_with_the_grants_execution_role():
    secrets = {"DB_PASSWORD": "ssm:/genomics/db", "API_TOKEN": f"secretsmanager:{SM}:genomics/api-AbCdEf:token"}
    plan = planned(detail(project="genomics", container={"image": "busybox", "secrets": secrets}))
    register = plan.definition.register_request()
    assert register["containerProperties"]["secrets"] == [
        {"name": "API_TOKEN", "valueFrom": f"{SM}:genomics/api-AbCdEf:token::"},
        {"name": "DB_PASSWORD", "valueFrom": "/genomics/db"},
    ]
    assert register["containerProperties"]["executionRoleArn"] == EXEC_GENOMICS
    submit = plan.submit_request("def")
    assert "secrets" not in submit["containerOverrides"]  # SubmitJob cannot carry secrets
    assert api_problems("RegisterJobDefinition", register) == ""
    assert api_problems("SubmitJob", submit) == ""
    # Secrets change the definition; without them a launch keeps the deployment's execution role.
    plain = planned(detail(project="genomics")).definition
    assert plain.name != plan.definition.name and plain.execution_role_arn == SETTINGS.execution_role_arn


def test_every_secret_problem_is_listed_in_one_rejection():
    secrets = {
        "OTHER": "ssm:/vision/key",  # not allowed for genomics
        "BAD": "vault:/x",  # not a reference
        "PATH": "ssm:/genomics/p",  # reserved name
        "DUP": "ssm:/genomics/dup",  # also a plain variable
    }
    launch = detail(project="genomics", container={"image": "busybox", "environment": {"DUP": "1"}, "secrets": secrets})
    found = dict(problems_of(launch))
    assert set(found) == {
        "container.secrets.OTHER",
        "container.secrets.BAD",
        "container.secrets.PATH",
        "container.secrets.DUP",
    }
    assert "not a secret project" in found["container.secrets.OTHER"]
    assert "ssm:/genomics/*" in found["container.secrets.OTHER"]
    assert "is not a secret reference" in found["container.secrets.BAD"]
    assert "reserved" in found["container.secrets.PATH"]
    assert "also set in container.environment" in found["container.secrets.DUP"]


def test_secrets_of_two_grants_are_refused_and_no_grant_means_no_secrets():
    launch = detail(
        project="genomics", container={"image": "busybox", "secrets": {"A": "ssm:/genomics/a", "B": "ssm:/shared/b"}}
    )
    assert [f for f, _ in problems_of(launch)] == ["container.secrets"]
    one = detail(container={"image": "busybox", "secrets": {"A": "ssm:/shared/a"}})
    assert "allowed: none" in problems_of(one, SETTINGS)[0][1]


def test_secrets_allowed_is_read_from_its_ssm_parameter():
    text = '[{"name": "g", "projects": ["genomics"], "valueFrom": ["ssm:/g/*"], "executionRoleArn": "%s"}]'
    settings = Settings.from_parameters({"secrets-allowed": text % EXEC_GENOMICS})
    assert settings.secrets_allowed[0].allows("ssm:/g/db") and not settings.secrets_allowed[0].allows("ssm:/h/db")
    with pytest.raises(ValueError, match="secrets-allowed"):
        Settings.from_parameters({"secrets-allowed": '[{"name": "g", "projects": ["g"], "valueFrom": ["vault:x"]}]'})
