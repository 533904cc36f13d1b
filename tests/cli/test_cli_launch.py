"""`batchlane launch`: the detail from flags and files, input errors (exit 2), no answer (exit 1),
AWS errors (exit 3). The full round trip runs through the sandbox in tests/e2e/test_launch_cli.py."""

from __future__ import annotations

import json
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
        ([*FLAGS, "--nodes", "3:main"], "--nodes: expected COUNT[:MAIN_NODE]"),
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


def test_workload_flags_make_the_issue_28_fields():
    detail = detail_of(
        *FLAGS,
        "--secret",
        "DB=ssm:/g/db",
        "--mount",
        "reference:/ref:ro",
        "--mount",
        "scratch:/work",
        "--shm",
        "4096",
        "--ulimit",
        "nofile=1024:4096",
        "--ulimit",
        "core=0",
        "--init",
        "--arch",
        "ARM64",
        "--after",
        "a-1",
        "--after",
        "a-2:N_TO_N",
        "--nodes",
        "3:1",
    )
    assert detail["after"] == [{"launchId": "a-1"}, {"launchId": "a-2", "type": "N_TO_N"}]
    assert detail["nodes"] == {"count": 3, "mainNode": 1}
    assert detail_of(*FLAGS, "--nodes", "4")["nodes"] == {"count": 4}
    container = detail["container"]
    assert container["secrets"] == {"DB": "ssm:/g/db"}
    assert container["mounts"] == [
        {"volume": "reference", "path": "/ref", "readOnly": True},
        {"volume": "scratch", "path": "/work"},
    ]
    assert container["ulimits"] == {"nofile": {"soft": 1024, "hard": 4096}, "core": {"soft": 0, "hard": 0}}
    assert (container["sharedMemoryMiB"], container["initProcessEnabled"], container["architecture"]) == (
        4096,
        True,
        "ARM64",
    )


def test_every_contract_field_has_a_flag_named_after_it_and_old_names_still_work():
    detail = detail_of(
        *FLAGS,
        "--launch-id",
        "x-2",
        "--inputs-location",
        '{"uri": "s3://b/in.jsonl", "size": 3}',
        "--timeout-seconds",
        "120",
        "--retry-on",
        "infrastructure",
        "--share-identifier",
        "teamA",
        "--scheduling-priority",
        "7",
        "--parameter",
        "n=1",
        "--queue-hint",
        "critical",
        "--no-propagate-tags",
        "--max-concurrency",
        "2",
        "--min-success-ratio",
        "0.5",
    )
    assert {k: v for k, v in detail.items() if k not in ("project", "domain", "workflow", "task", "container")} == {
        "launchId": "x-2",
        "inputsLocation": {"uri": "s3://b/in.jsonl", "size": 3},
        "timeoutSeconds": 120,
        "retryOn": "infrastructure",
        "shareIdentifier": "teamA",
        "schedulingPriority": 7,
        "parameters": {"n": "1"},
        "queueHint": "critical",
        "propagateTags": False,
        "maxConcurrency": 2,
        "minSuccessRatio": 0.5,
    }
    old = detail_of(*FLAGS, "--timeout", "120", "--share", "teamA")
    assert old["timeoutSeconds"] == 120 and old["shareIdentifier"] == "teamA"


def test_dry_run_lists_every_problem_in_the_launchers_words_and_sends_nothing(cli, unused_endpoint):
    # Anything sent would go to an endpoint where nothing listens: exit 3. Nothing is sent.
    bad = cli(
        "launch",
        *FLAGS,
        "--launch-id",
        "bad id",
        "--vcpu",
        "0",
        "--memory",
        "64",
        "--retries",
        "12",
        "--input",
        "{}",
        "--dry-run",
        "--endpoint-url",
        unused_endpoint,
    )
    assert bad.code == 2, bad.err
    assert bad.out.splitlines() == [
        "Invalid bad id: 4 problem(s); the launcher would reject it, nothing was sent",
        '  launchId: must match the pattern ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$, not a string ("bad id")',
        "  container.resources.vcpu: must be more than 0, not a whole number (0)",
        "  container.resources.memory: must be at least 128, not a whole number (64)",
        "  retries: must be at most 9, not a whole number (12)",
    ]
    good = cli("launch", *FLAGS, "--input", "{}", "--dry-run", "--endpoint-url", unused_endpoint)
    assert good.code == 0 and good.out.startswith("Valid: my.task-") and "nothing was sent" in good.out


def test_validate_checks_a_file_with_the_deployments_settings(cli, tmp_path):
    path = tmp_path / "launch.yaml"
    path.write_text(
        "launchId: v-1\nproject: p\ndomain: d\nworkflow: w\ntask: t\n"
        "container: {image: busybox, platform: FARGATE, resources: {vcpu: 3, gpu: 1}}\n"
        "role: arn:aws:iam::123456789012:role/not-a-job-role\ntimeoutSeconds: 30\n"
    )
    result = cli("validate", str(path), "--json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["valid"] is False
    fields = [p["field"] for p in doc["problems"]]
    assert fields == ["timeoutSeconds", "role", "container.resources.gpu", "container.resources.vcpu"], doc
    assert "is not an allowed job role" in doc["problems"][1]["message"]
    path.write_text("launchId: v-2\nproject: p\ndomain: d\nworkflow: w\ntask: t\ncontainer: {image: busybox}\n")
    ok = cli("validate", str(path), "--json")
    assert ok.code == 0 and json.loads(ok.out)["valid"] is True
    assert cli("validate", str(tmp_path / "missing.yaml")).code == 2


def test_every_option_of_every_command_says_what_it_is():
    import argparse

    def undocumented(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from undocumented(sub, [*path, name])
            elif not action.help:
                yield " ".join([*path, *(action.option_strings or [action.dest])])

    assert list(undocumented(build_parser(), ["batchlane"])) == []


@pytest.mark.parametrize(("line", "expected"), [("batchlane lo", {"logs"}), ("batchlane status x --fo", {"--follow"})])
def test_the_shell_completes_commands_and_options(tmp_path, line, expected):
    pytest.importorskip("argcomplete", reason="the completion extra (requirements-dev.txt pins it)")
    answer = tmp_path / "completions"
    paths = [str(ROOT / "lambdas"), str(ROOT / "toolkit"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    subprocess.run([sys.executable, "-m", "batchlane.cli.main"], env=env, capture_output=True, timeout=60, check=True)
    assert set(answer.read_text().split()) == expected
