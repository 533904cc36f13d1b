"""`batchlane launch`: the detail from flags and files, input errors (exit 2), no answer (exit 1),
AWS errors (exit 3). The full round trip runs through the sandbox in tests/e2e/test_launch_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchlane.cli.launch import build_detail, generated_launch_id
from batchlane.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]

FLAGS = ["--project", "p", "--domain", "d", "--workflow", "w", "--task", "my.task", "--image", "busybox"]


def detail_of(*argv: str) -> dict:
    return build_detail(build_parser().parse_args(["launch", *argv]))


def test_flags_make_a_launch_detail():
    detail = detail_of(
        *FLAGS,
        "--launch-id",
        "x-1",
        "--input",
        '{"a": [1]}',
        "--retries",
        "2",
        "--timeout",
        "600",
        "--vcpu",
        "2",
        "--memory",
        "4096",
        "--platform",
        "EC2",
        "--role",
        "default",
        "--env",
        "A=1",
        "--tag",
        "team=ml",
        "--command",
        "python",
        "-m",
        "job",
    )
    assert detail == {
        "launchId": "x-1",
        "project": "p",
        "domain": "d",
        "workflow": "w",
        "task": "my.task",
        "role": "default",
        "retries": 2,
        "timeoutSeconds": 600,
        "input": {"a": [1]},
        "tags": {"team": "ml"},
        "container": {
            "image": "busybox",
            "command": ["python", "-m", "job"],
            "platform": "EC2",
            "environment": {"A": "1"},
            "resources": {"vcpu": 2, "memory": 4096},
        },
    }


def test_a_file_is_the_base_and_flags_override_it(tmp_path):
    (tmp_path / "l.yaml").write_text(
        "launchId: from-file\nproject: p\ndomain: d\nworkflow: w\ntask: t\n"
        "container: {image: a, resources: {memory: 1024}}\ninput: {x: 1}\n"
    )
    (tmp_path / "in.jsonl").write_text('{"i": 0}\n\n{"i": 1}\n')
    detail = detail_of(
        "--file",
        str(tmp_path / "l.yaml"),
        "--image",
        "b",
        "--vcpu",
        "0.5",
        "--inputs-file",
        str(tmp_path / "in.jsonl"),
        "--min-success-ratio",
        "0.5",
    )
    assert detail["launchId"] == "from-file" and detail["container"] == {
        "image": "b",
        "resources": {"memory": 1024, "vcpu": 0.5},
    }
    assert detail["inputs"] == [{"i": 0}, {"i": 1}] and "input" not in detail and detail["minSuccessRatio"] == 0.5


def test_a_launch_id_is_generated_from_the_task():
    detail = detail_of(*FLAGS, "--input", "{}")
    assert detail["launchId"].startswith("my.task-")
    assert generated_launch_id("a b/c").startswith("a-b-c-")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*FLAGS, "--input", "{bad"], "--input: not valid JSON"),
        (["--project", "p"], "nothing to launch"),
        (["--file", "/nonexistent/launch.json"], "no such file"),
        ([*FLAGS, "--env", "NOVALUE"], "--env: expected NAME=VALUE"),
        ([*FLAGS, "--input", "{}", "--inputs-file", "x.jsonl"], "not allowed with argument"),
    ],
)
def test_invalid_input_is_one_line_and_exit_code_2(cli, argv, message):
    result = cli("launch", *argv)
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_no_record_and_no_answers_queue_means_no_answer(cli, aws, boto_session):
    boto_session.client("events").create_event_bus(Name="batchlane-dev")
    boto_session.client("dynamodb").create_table(
        TableName="batchlane-dev-executions",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    result = cli("launch", *FLAGS, "--input", "{}", "--launch-id", "nobody-listens", "--answer-timeout", "0.3")
    assert result.code == 1
    assert "no answer for launch nobody-listens within 0.3 s" in result.err and "batchlane-dev-answers" in result.err


def test_an_unreachable_endpoint_is_an_aws_error(cli, unused_endpoint):
    result = cli("launch", *FLAGS, "--input", "{}", "--endpoint-url", unused_endpoint)
    assert result.code == 3 and result.err.startswith("batchlane: AWS error")


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "inf", "most"])
@pytest.mark.parametrize("command", [("launch", *FLAGS, "--input", "{}"), ("status", "replay", "events.jsonl")])
def test_min_success_ratio_is_a_number_from_0_to_1_for_every_command(cli, command, value):
    result = cli(*command, "--min-success-ratio", value)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert f"argument --min-success-ratio: expected a number from 0 to 1, got '{value}'" in result.err


def test_the_command_line_starts_without_boto3_or_pydantic():
    """Offline commands (routes explain --config, status replay, --help) never pay for the AWS SDK."""
    probe = (
        "import sys; from batchlane.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('boto3', 'botocore', 'pydantic') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT / "toolkit"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
