"""Pure launch logic: validation, planning, settings (no AWS)."""

import json
import re
from pathlib import Path

import pytest
from launch_examples import ROLE, SETTINGS, TABLE, detail

from batchlane.common.settings import Limits, Settings
from batchlane.launch.planner import JobDefinitionSpec, job_name, plan_launch
from batchlane.launch.validation import validate
from batchlane.routing import decide

ROOT = Path(__file__).resolve().parents[3]


def plan(**overrides):
    request, role, problems = validate(detail(**overrides), SETTINGS)
    assert problems == []
    return plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), SETTINGS, "bucket")


def test_lambda_layer_pins_match_the_tested_versions():
    def pins(path):
        lines = (ROOT / path).read_text().splitlines()
        return {
            re.split(r"[=\[]", line)[0].lower(): line.split("==")[1]
            for line in lines
            if "==" in line and not line.startswith("#")
        }

    tested, layer = pins("requirements.txt"), pins("lambdas/requirements.txt")
    assert layer and all(tested[name] == version for name, version in layer.items())


@pytest.mark.parametrize("retries, attempts", [(0, 1), (3, 4), (9, 10)])
def test_retries_become_attempts(retries, attempts):
    launch_plan, _ = plan(retries=retries)
    assert launch_plan.submit_request("def")["retryStrategy"] == {"attempts": attempts}


def test_ten_retries_is_refused_not_clamped():
    _, _, problems = validate(detail(retries=10), SETTINGS)
    assert [p.field for p in problems] == ["retries"]


def test_default_timeout_and_minimum():
    launch_plan, _ = plan()
    assert launch_plan.timeout_seconds == Limits().default_timeout_seconds
    _, _, problems = validate(detail(timeoutSeconds=59), SETTINGS)
    assert [p.field for p in problems] == ["timeoutSeconds"]


def test_job_names_are_deterministic_valid_and_distinct():
    name = job_name("my.module.some task!", "launch-1")
    assert name == job_name("my.module.some task!", "launch-1") != job_name("my.module.some task!", "launch-2")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", name)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", job_name("_" * 300, "x"))


def test_job_definition_name_follows_its_content():
    spec = JobDefinitionSpec("img", ROLE, "EC2", None, "/g")
    assert spec.name == JobDefinitionSpec("img", ROLE, "EC2", None, "/g").name
    assert spec.name != JobDefinitionSpec("img", "arn:aws:iam::1:role/other", "EC2", None, "/g").name
    assert spec.name != JobDefinitionSpec("img", ROLE, "FARGATE", None, "/g").name
    assert len(json.dumps(spec.register_request())) < 24 * 1024


def test_input_variants_give_size_and_inputs_file():
    assert plan(input={"a": 1})[0].inputs_body == b'{"a":1}\n'
    assert plan()[0].inputs_body == b"{}\n"
    array = plan(inputs=[1, 2, 3])[0]
    assert (array.size, array.is_array, array.inputs_body) == (3, True, b"1\n2\n3\n")
    uploaded = plan(inputsLocation={"uri": "s3://their-bucket/in.jsonl", "size": 7})[0]
    assert (uploaded.size, uploaded.inputs_key, uploaded.inputs_uri) == (7, None, "s3://their-bucket/in.jsonl")


def test_only_one_input_form():
    _, _, problems = validate(detail(input={}, inputs=[1, 2]), SETTINGS)
    assert [p.field for p in problems] == ["inputs"]


def test_fargate_resources_must_be_a_fargate_size():
    container = {"image": "x", "platform": "FARGATE", "resources": {"vcpu": 1, "memory": 1024}}
    _, _, problems = validate(detail(container=container), SETTINGS)
    assert [p.field for p in problems] == ["container.resources.memory"]
    assert "2048-8192 MiB" in problems[0].message


def test_no_role_and_no_default_role_is_a_problem():
    _, _, problems = validate(detail(), Settings())
    assert [(p.field, p.message) for p in problems] == [("role", "is required: this deployment has no default role")]


def test_settings_from_ssm_parameters():
    settings = Settings.from_parameters(
        {
            "default-role-arn": ROLE,
            "allowed-role-arns": f"{ROLE},arn:aws:iam::1:role/b",
            "routing-cache-seconds": "5",
            "limits": '{"maxArraySize": 500}',
            "something-else": "ignored",
        }
    )
    assert settings.routing_cache_seconds == 5 and settings.limits.max_array_size == 500
    assert settings.usable_role_arns == {ROLE, "arn:aws:iam::1:role/b"}
    with pytest.raises(ValueError, match="SSM parameter limits: limits: unknown key 'maxArray'"):
        Settings.from_parameters({"limits": '{"maxArray": 1}'})
    with pytest.raises(ValueError, match="routing-cache-seconds"):
        Settings.from_parameters({"routing-cache-seconds": "900"})


def test_share_identifier_is_sent_only_when_given():
    assert "shareIdentifier" not in plan()[0].submit_request("def")
    assert plan(shareIdentifier="team_a")[0].submit_request("def")["shareIdentifier"] == "team_a"
