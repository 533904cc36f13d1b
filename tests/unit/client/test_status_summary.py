"""The client-side status summary: one BatchGetItem, whatever the launch; rejections readable by id."""

from __future__ import annotations

import pytest

from batchlane.client.records import Executions
from batchlane.client.status import READ_KEYS, launch_summary, summary_from_items
from batchlane.common.executions import range_sk
from batchlane.status.ranges import ChildRange
from batchlane.status.states import Attempt, ChildState

RECORD = {
    "launchId": "L",
    "sk": "launch",
    "state": "SUBMITTED",
    "jobName": "t-1",
    "queue": "q",
    "size": 1,
    "jobId": "j-1",
    "jobArn": "arn:aws:batch:us-east-1:123456789012:job/j-1",
    "region": "us-east-1",
    "logGroup": "/batchlane/jobs",
}


def child(status: str, streams: list[str], n: int) -> dict:
    """Child 0's range item (as the aggregator stores it: status.ranges)."""
    state = ChildState(0, status, n, attempts=tuple(Attempt(exit_code=1, log_stream=s) for s in streams))
    return {"sk": range_sk(0), "states": ChildRange(0, {0: state}).encode(), "rev": 1}


def test_an_unknown_id_and_a_rejected_id():
    assert summary_from_items("L", {}).phase == "unknown"
    problems = [{"field": "retries", "message": "must be at most 9"}]
    rejected = summary_from_items("L", {"rejection": {"sk": "rejection", "problems": problems}})
    assert rejected.phase == "rejected" and rejected.final and rejected.problems == problems
    assert rejected.message == "retries: must be at most 9"


def test_a_launch_record_wins_over_an_earlier_rejection():
    summary = summary_from_items("L", {"launch": RECORD, "rejection": {"problems": [{"field": "x", "message": "y"}]}})
    assert summary.phase == "submitted" and summary.problems == []


def test_a_failed_plain_job_has_its_error_counts_and_every_attempts_link():
    summary = summary_from_items(
        "L",
        {
            "launch": RECORD,
            range_sk(0): child("FAILED", ["s/0", "s/1"], 2),
            "status": {
                "phase": "failed",
                "reason": "1 of 1 failed",
                "error": "[0]: exit code 1",
                "n_SUBMITTED": -1,
                "n_FAILED": 1,
            },
        },
    )
    assert (summary.phase, summary.error, summary.counts) == ("failed", "[0]: exit code 1", {"FAILED": 1})
    assert [link["name"] for link in summary.links] == [
        "AWS Batch Job",
        "AWS Batch #0-0 (PhaseRetryableFailure)",
        "AWS Batch #0-1 (PhaseRetryableFailure)",
    ]
    assert "/batchlane/jobs" in summary.links[1]["url"].replace("$252F", "/")


def test_an_array_summary_names_the_job_not_child_zero():
    record = {**RECORD, "size": 3, "isArray": True}
    summary = summary_from_items("L", {"launch": record, range_sk(0): child("RUNNING", ["s/0"], 0)})
    assert [link["name"] for link in summary.links] == ["AWS Batch Job"]


class CountingDynamo:
    """Answers BatchGetItem from items in the low-level form; counts every call by name."""

    def __init__(self, items: list[dict]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serialize = TypeSerializer().serialize
        self.items = {i["sk"]: {k: serialize(v) for k, v in i.items()} for i in items}
        self.calls: list[str] = []

    def batch_get_item(self, RequestItems):
        self.calls.append("BatchGetItem")
        [(table, request)] = RequestItems.items()
        assert request["ConsistentRead"] is True and len(request["Keys"]) == len(READ_KEYS) + 1  # + child 0's range
        found = [self.items[k["sk"]["S"]] for k in request["Keys"] if k["sk"]["S"] in self.items]
        return {"Responses": {table: found}}


@pytest.mark.parametrize("size", [1, 10_000, 1_000_000])
def test_the_summary_is_one_batch_get_item_whatever_the_size(size):
    record = {**RECORD, "size": size, "isArray": size > 1}
    counts = {"n_SUBMITTED": -size, "n_SUCCEEDED": size}  # rolled up from the shards
    dynamo = CountingDynamo([record, {"launchId": "L", "sk": "status", "phase": "succeeded", "reason": "r", **counts}])
    summary = launch_summary(Executions(dynamo, "executions"), "L")
    assert summary.phase == "succeeded" and summary.counts == {"SUCCEEDED": size}
    assert dynamo.calls == ["BatchGetItem"]
