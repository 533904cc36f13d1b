"""The simulated Batch's direct writes into the emulator land exactly as the API's would."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from batchlane.sandbox.backplane import Backplane


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def test_events_reach_a_rule_s_queue_as_put_events_would_deliver_them(aws):
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="batch", EventPattern=json.dumps({"source": ["aws.batch"]}))
    events.put_targets(Rule="batch", Targets=[{"Id": "1", "Arn": arn}])
    at = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    entry = {
        "Source": "aws.batch",
        "DetailType": "Batch Job State Change",
        "Detail": json.dumps({"jobId": "j"}),
        "Resources": ["arn:aws:batch:us-east-1:123456789012:job/j"],
        "EventBusName": "default",
        "Time": at,
    }
    answer = Backplane.of(aws).put_events([entry, {**entry, "Source": "other"}, {**entry, "Detail": "not json"}])
    events.put_events(Entries=[entry])  # the same event through the API, to compare
    assert answer["FailedEntryCount"] == 1 and "EventId" in answer["Entries"][0]
    assert answer["Entries"][2]["ErrorCode"] == "MalformedDetail"
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert len(bodies) == 2  # the "other" source matches no rule
    direct, through_api = ({k: v for k, v in b.items() if k not in ("id", "ingestion-time")} for b in bodies)
    assert direct == through_api and direct["detail"] == {"jobId": "j"} and direct["resources"] == entry["Resources"]


def test_log_lines_are_read_back_through_the_api_in_a_stream_made_once(aws):
    plane = Backplane.of(aws)
    for _ in range(2):  # a second call finds the group and the stream
        plane.ensure_log_stream("/aws/batch/job", "def/default/task")
    now = int(time.time() * 1000)
    plane.put_log_events(
        "/aws/batch/job",
        "def/default/task",
        [{"timestamp": now, "message": "started"}, {"timestamp": now + 1, "message": "exit code 0"}],
    )
    read = aws.client("logs").get_log_events(logGroupName="/aws/batch/job", logStreamName="def/default/task")
    assert [e["message"] for e in read["events"]] == ["started", "exit code 0"]


def test_an_output_object_is_json_under_the_bucket_s_encryption(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="data")
    s3.put_bucket_encryption(
        Bucket="data",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]
        },
    )
    Backplane.of(aws).put_json("data", "out/0/outputs.json", {"o": [1, "é"]})
    got = s3.get_object(Bucket="data", Key="out/0/outputs.json")
    assert json.loads(got["Body"].read()) == {"o": [1, "é"]}
    assert got["ContentType"] == "application/json" and got["ServerSideEncryption"] == "aws:kms"
    with pytest.raises(Exception, match="NoSuchBucket|does not exist"):
        Backplane.of(aws).put_json("missing", "k", {})
