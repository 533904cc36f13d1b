"""A deployment's resources in moto (in-process), and helpers to drive the launcher like Lambda does."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws

from batchlane.common import aws
from batchlane.common.executions import PARTITION_KEY, key, launch_key
from batchlane.common.tenancy import LaunchData, s3_uri
from batchlane.deployment.config import load_config
from batchlane.sandbox.provision import Provisioned, provision
from batchlane.sandbox.submit_rules import submit_rules


class LambdaContext:
    function_name = "batchlane-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:batchlane-test"
    aws_request_id = "test-request"
    log_group_name = "/aws/lambda/batchlane-test"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def eventbridge_event(detail, detail_type: str = "Task Launch Requested") -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "my.orchestrator",
        "account": "123456789012",
        "time": "2026-11-24T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "x",
                    "ApproximateFirstReceiveTimestamp": "0",
                },
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:launches",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


@dataclass
class World:
    deployment: Provisioned
    answers_queue: str
    seen: list = field(default_factory=list)

    @property
    def config(self):
        return self.deployment.config

    def answers(self) -> list[dict]:
        """Events batchlane published on its bus since the last call."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.answers_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.answers_queue, ReceiptHandle=m["ReceiptHandle"])

    def key(self, launch_id: str, source: str = "my.orchestrator") -> str:
        """The launch key of ``launch_id`` put by ``source`` (the events here are my.orchestrator's)."""
        return launch_key(self.config.team_of_source(source), launch_id)

    def launch_record(self, launch_id: str, source: str = "my.orchestrator") -> dict | None:
        table = boto3.resource("dynamodb").Table(self.config.table_name("executions"))
        return table.get_item(Key=key(self.key(launch_id, source), "launch")).get("Item")

    def execution_items(self, launch_id: str, source: str = "my.orchestrator") -> dict[str, dict]:
        """Every item of a launch's partition (launch record, status items), by sort key."""
        from boto3.dynamodb.conditions import Key

        from batchlane.common.values import from_dynamo

        table = boto3.resource("dynamodb").Table(self.config.table_name("executions"))
        found = table.query(
            KeyConditionExpression=Key(PARTITION_KEY).eq(self.key(launch_id, source)), ConsistentRead=True
        )["Items"]
        return {i["sk"]: from_dynamo(i) for i in found}

    def jobs(self) -> list[dict]:
        batch = boto3.client("batch")
        found = []
        for queue in self.deployment.queue_arns:
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
                found += batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
        return [j for j in found if ":" not in j["jobId"]]  # parents and plain jobs, not children


def assembled_of(record: dict) -> str:
    """Where the aggregator writes a launch record's assembled outputs (only it writes there)."""
    data = LaunchData(record["team"], record["project"], record["domain"], record["launchId"])
    return s3_uri(record["outputsUri"].removeprefix("s3://").split("/", 1)[0], data.assembled_key)


@contextmanager
def moto_world(setenv):
    """The dev deployment's resources in moto, an answers queue on its bus, fresh launcher caches;
    ``setenv(name, value)`` sets the functions' environment (pytest's monkeypatch.setenv)."""
    with submit_rules(), mock_aws(config={"batch": {"use_docker": False}}):
        aws.reset_clients()
        deployment = provision(load_config("dev"))
        for key, value in deployment.function_environment().items():
            setenv(key, value)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="answers")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events")
        events.put_rule(
            Name="answers", EventBusName=deployment.config.bus_name, EventPattern=json.dumps({"source": ["batchlane"]})
        )
        events.put_targets(Rule="answers", EventBusName=deployment.config.bus_name, Targets=[{"Id": "q", "Arn": arn}])
        from batchlane.launch import handler

        handler.runtime.cache_clear()
        yield World(deployment, url)
        handler.runtime.cache_clear()
        aws.reset_clients()


@pytest.fixture
def world(monkeypatch):
    with moto_world(monkeypatch.setenv) as w:
        yield w


@pytest.fixture
def launch(world):
    """Deliver launch events to the launcher the way the SQS event source does."""
    from batchlane.launch import handler

    def deliver(*details, raw_bodies: tuple[str, ...] = ()) -> dict:
        bodies = tuple(json.dumps(eventbridge_event(d)) for d in details) + raw_bodies
        return handler.handler(sqs_event(*bodies), LambdaContext())

    return deliver


@pytest.fixture
def atomic_moto(monkeypatch):
    """moto in-process handles concurrent requests without DynamoDB's per-request atomicity: serialise
    requests, as the real service makes each conditional write atomic."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def atomic(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)
