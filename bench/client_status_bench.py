"""What a client's poll costs on a 10,000-child launch (moto, in process): the AWS calls and time of
``BatchlaneClient.summary`` (what the Flyte connector's ``get`` makes: one BatchGetItem, whatever the
size; tests/flyte/test_connector_sandbox.py::test_get_is_one_read counts the connector's own calls)
against the whole-partition read (``Executions.status``, what ``batchlane status`` shows). Run by hand:

    .venv/bin/python bench/client_status_bench.py [--size 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

TABLE = "batchlane-bench-executions"


def fill(dynamodb, size: int) -> None:
    """A launched array of ``size`` children, every child RUNNING with one log stream."""
    import boto3

    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "launchId", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "launchId", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}])
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    with table.batch_writer() as batch:
        batch.put_item(Item={"launchId": "L", "sk": "launch", "state": "SUBMITTED", "jobName": "t", "queue": "q",
                             "size": size, "isArray": True, "jobId": "j",
                             "jobArn": "arn:aws:batch:us-east-1:123456789012:job/j", "region": "us-east-1"})
        batch.put_item(Item={"launchId": "L", "sk": "status", "phase": "running", "reason": "children running",
                             "n_SUBMITTED": -size, "n_RUNNING": size})
        for i in range(size):
            batch.put_item(Item={"launchId": "L", "sk": f"child#{i:06d}", "index": i, "status": "RUNNING", "n": 0,
                                 "rev": 1, "attempts": [{"logStream": f"t/default/{i}"}]})


def _items(parsed: dict) -> int:
    if "Item" in parsed:
        return 1
    return len(parsed.get("Items", [])) + sum(len(v) for v in parsed.get("Responses", {}).values())


def measured(client, label: str, read) -> None:
    """The calls ``read`` makes, the items they return (what DynamoDB bills reads by) and the time."""
    calls: Counter = Counter()
    items = [0]
    before = lambda model, **_: calls.update([model.name])  # noqa: E731
    after = lambda parsed, **_: items.__setitem__(0, items[0] + _items(parsed))  # noqa: E731
    client.meta.events.register("before-call.dynamodb", before)
    client.meta.events.register("after-call.dynamodb", after)
    t0 = time.perf_counter()
    read()
    seconds = time.perf_counter() - t0
    client.meta.events.unregister("before-call.dynamodb", before)
    client.meta.events.unregister("after-call.dynamodb", after)
    print(f"  {label:<50} {sum(calls.values()):>2} call(s) {str(dict(calls)):<32} {items[0]:>6} items "
          f"{seconds * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    import boto3
    from moto import mock_aws

    from batchlane.client.api import BatchlaneClient

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        fill(dynamodb, args.size)
        client = BatchlaneClient(lambda service: dynamodb, bus_name="b", executions_table=TABLE)
        print(f"client status reads, one launch of {args.size} children (moto, in process):")
        measured(dynamodb, "summary (BatchlaneClient.summary; connector get)", lambda: client.summary("L"))
        measured(dynamodb, "one page of 100 children (children)", lambda: client.children("L", limit=100))
        measured(dynamodb, "whole partition (Executions.status)", lambda: client.executions.status("L"))


if __name__ == "__main__":
    main()
