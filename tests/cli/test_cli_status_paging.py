"""`batchlane status` pages the children of a large launch (issue 14): `--limit`, `--after`,
`--failed`, `--child`, with `--json`, through paged Queries (never a Scan, never the whole
partition). The launch's items are written directly (3,000 children, the failed ones among the
first 1,500, in range items written by the aggregator's own adapter), and every DynamoDB request the
command makes is counted."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import botocore.client
import pytest

from batchlane.client.status import FAILED_SCAN_PAGE
from batchlane.common.executions import launch_key
from batchlane.status.adapters.shards import ExecutionsShards
from batchlane.status.ranges import ChildRange, ranges_of
from batchlane.status.states import Attempt, ChildState
from tests.integration.conftest import world  # noqa: F401 - a fixture

LAUNCH = "big-1"
SIZE = 3000
FAILED = [i for i in range(SIZE) if i % 100 == 7 and i < 1500]  # 7, 107, ..., 1407: 15 children
PK = launch_key("platform", LAUNCH)  # the CLI reads as batchlane.cli's team
JOB = "0f6c3a1e-5d7b-4c43-9f5e-2b8f7d3a9c10"
OUTPUTS = f"s3://bench-data/launches/p/d/{LAUNCH}/outputs/"


def child_state(i: int) -> ChildState:
    if i in FAILED:
        return ChildState.from_item(
            {
                "index": i,
                "status": "FAILED",
                "n": 2,
                "statusReason": "Essential container in task exited",
                "attempts": [
                    {
                        "exitCode": 137,
                        "statusReason": "Host EC2 (instance i-1) terminated.",
                        "logStream": f"wf/default/s{i}a",
                    },
                    {
                        "exitCode": 3,
                        "reason": "OutOfMemoryError: Container killed due to memory usage",
                        "logStream": f"wf/default/s{i}b",
                    },
                ],
            }
        )
    return ChildState(i, "SUCCEEDED", 1, attempts=(Attempt(exit_code=0, log_stream=f"wf/default/s{i}"),))


@pytest.fixture
def big_launch(world):
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    with table.batch_writer() as batch:
        batch.put_item(
            Item={
                "pk": PK,
                "launchId": LAUNCH,
                "team": "platform",
                "sk": "launch",
                "state": "SUBMITTED",
                "jobName": "t",
                "queue": "q",
                "size": SIZE,
                "isArray": True,
                "jobId": JOB,
                "region": "us-east-1",
                "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{JOB}",
                "outputsUri": OUTPUTS,
            }
        )
        batch.put_item(
            Item={
                "pk": PK,
                "launchId": LAUNCH,
                "team": "platform",
                "sk": "status",
                "phase": "failed",
                "reason": "15 children failed",
                "n_SUBMITTED": -SIZE,
                "n_SUCCEEDED": SIZE - len(FAILED),
                "n_FAILED": len(FAILED),
            }
        )
    shards = ExecutionsShards(world.config.table_name("executions"))
    for number, children in ranges_of(child_state(i) for i in range(SIZE)).items():
        shards.put_range(PK, ChildRange(number, {c.index: c for c in children}), None)
    return LAUNCH


@pytest.fixture
def requests(monkeypatch):
    """The DynamoDB requests made (operation names, counted)."""
    made: Counter = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            made[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return made


def test_a_large_launch_shows_its_summary_and_a_first_page(cli, big_launch, requests):
    result = cli("status", LAUNCH)
    assert result.code == 0, result.err
    assert f"Launch {LAUNCH}: failed (15 children failed)" in result.out
    assert "counts SUCCEEDED 2985  FAILED 15" in result.out
    # Compact: the failed children (no links), not 100 rows of the 2,985 that succeeded.
    assert "failed children: 15 of 15, indexes 7-1407" in result.out and "https://" not in result.out
    assert len(result.out.splitlines()) < 25
    assert requests == {"BatchGetItem": 1, "Query": -(-1408 // FAILED_SCAN_PAGE)}
    requests.clear()
    every = cli("status", LAUNCH, "--children").out  # the first page of every child, as before
    assert "children: 100 of 3000, indexes 0-99" in every
    assert f"next page: batchlane status {LAUNCH} --after 99" in every
    assert requests == {"BatchGetItem": 1, "Query": 1}


def test_limit_and_after_page_on_in_json(cli, big_launch, requests):
    result = cli("status", LAUNCH, "--limit", "50", "--after", "99", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [c["index"] for c in doc["children"]] == list(range(100, 150))
    assert doc["after"] == 149 and doc["next"] == f"batchlane status {LAUNCH} --after 149 --limit 50"
    assert doc["phase"] == "failed" and doc["counts"] == {"SUCCEEDED": 2985, "FAILED": 15}
    assert doc["children"][7]["status"] == "FAILED" and doc["children"][7]["index"] == 107
    assert requests == {"BatchGetItem": 1, "Query": 1}


def test_the_last_page_says_there_is_no_more(cli, big_launch):
    doc = json.loads(cli("status", LAUNCH, "--after", str(SIZE - 3), "--json").out)
    assert [c["index"] for c in doc["children"]] == [SIZE - 2, SIZE - 1]
    assert doc["after"] is None and doc["next"] is None
    assert "(no more children)" in cli("status", LAUNCH, "--after", str(SIZE - 3)).out


def test_failed_lists_the_failed_children_with_reasons_and_links(cli, big_launch, requests):
    result = cli("status", LAUNCH, "--failed")
    assert result.code == 0, result.err
    assert "failed children: 15 of 15, indexes 7-1407" in result.out
    assert "(no more failed children)" in result.out
    rows = [line.split() for line in result.out.splitlines() if line.startswith("    ") and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == FAILED
    # INDEX STATUS ATTEMPTS (earlier attempts' failures) EXIT FAILURE REASON
    assert all(r[1:6] == ["FAILED", "2", "(spot-reclaimed)", "3", "out-of-memory"] for r in rows)
    assert "Essential container in task exited" in result.out
    assert (
        "AWS Batch #107-1 (PhaseRetryableFailure): https://us-east-1.console.aws.amazon.com/cloudwatch/home"
        in result.out
    )
    # The summary counts 15 failures: the search stops at the last one (index 1407), so the
    # children from 2,000 on are never read.
    assert requests == {"BatchGetItem": 1, "Query": -(-1408 // FAILED_SCAN_PAGE)}


def test_failed_pages_follow_their_next_command_to_the_end(cli, big_launch):
    seen, argv = [], ["status", LAUNCH, "--failed", "--limit", "4", "--json"]
    for _ in range(10):
        doc = json.loads(cli(*argv).out)
        seen += [c["index"] for c in doc["children"]]
        assert all(c["status"] == "FAILED" and c["failureClass"] for c in doc["children"])
        if doc["next"] is None:
            break
        argv = doc["next"].split()[1:] + ["--json"]
    assert seen == FAILED


def test_failed_on_a_launch_without_failures_reads_no_child(cli, big_launch, requests, world):
    table = boto3.resource("dynamodb").Table(world.config.table_name("executions"))
    table.update_item(
        Key={"pk": PK, "sk": "status"},
        UpdateExpression="SET n_FAILED = :z",
        ExpressionAttributeValues={":z": 0},
    )
    requests.clear()
    result = cli("status", LAUNCH, "--failed")
    assert result.code == 0 and "no failed children" in result.out
    assert requests == {"BatchGetItem": 1}


def test_child_shows_every_attempt_its_links_and_outputs(cli, big_launch, requests):
    result = cli("status", LAUNCH, "--child", "107")
    assert result.code == 0, result.err
    out = result.out
    assert f"Launch {LAUNCH}, child 107: FAILED (Essential container in task exited)" in out
    assert f"job {JOB}:107   attempts 2" in out
    assert "attempt 0: exit 137" in out and "Host EC2 (instance i-1) terminated." in out
    assert "attempt 1: exit 3" in out and "OutOfMemoryError" in out
    assert (
        "AWS Batch #107-0 (PhaseRetryableFailure): https://" in out
        and "AWS Batch #107-1 (PhaseRetryableFailure): https://" in out
    )
    assert f"outputs: {OUTPUTS}107/outputs.json" in out
    assert requests == {"BatchGetItem": 1, "GetItem": 1}  # its log's last lines: from the item read, no more

    doc = json.loads(cli("status", LAUNCH, "--child", "107", "--json").out)["child"]
    assert [a["exitCode"] for a in doc["attemptDetails"]] == [137, 3]
    assert [a["log"]["name"] for a in doc["attemptDetails"]] == [
        "AWS Batch #107-0 (PhaseRetryableFailure)",
        "AWS Batch #107-1 (PhaseRetryableFailure)",
    ]
    assert doc["outputsUri"] == f"{OUTPUTS}107/outputs.json"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--child", "3000"], 2, "has 3000 children"),
        (["--child", "3", "--failed"], 2, "--child shows one child"),
        (["--limit", "0"], 2, "from 1 to 1000"),
        (["--limit", "1001"], 2, "from 1 to 1000"),
    ],
)
def test_paging_usage_errors(cli, big_launch, argv, code, message):
    result = cli("status", LAUNCH, *argv)
    assert result.code == code and message in result.err
