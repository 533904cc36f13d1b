"""What a client's poll costs on a 10,000-child launch (moto, in process): the AWS calls and time of
``BatchlaneClient.summary`` (what the Flyte connector's ``get`` makes: one BatchGetItem, whatever the
size; tests/flyte/test_connector_sandbox.py::test_get_is_one_read counts the connector's own calls)
against the whole-partition read (``Executions.status``, what ``batchlane status`` shows for a launch
of up to 1,000 children), and the pages ``batchlane status ID --limit/--after/--failed/--child`` read
(1% of the children failed, spread evenly; the FAILED count known from the summary). Run by hand:

    .venv/bin/python bench/client_status_bench.py [--size 10000]
    .venv/bin/python bench/client_status_bench.py --size 100000 --no-whole

The figures are the requests and the items they read (what DynamoDB bills); moto's time per Query
grows with the whole partition (it evaluates every item), so at 100,000 children the times say
nothing about DynamoDB's and the run takes minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "lambdas"),
    str(Path(__file__).resolve().parents[1] / "toolkit"),
]

TABLE = "batchlane-bench-executions"


FAILED_EVERY = 100  # child i failed when i % 100 == 7: 1% of the children


def fill(dynamodb, size: int) -> None:
    """A launched array of ``size`` children, RUNNING with one log stream, 1% FAILED."""
    import boto3

    from batchlane.common.executions import PARTITION_KEY, SORT_KEY, LaunchRecord, key
    from batchlane.common.values import to_dynamo

    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
    )
    # Launch L of a deployment without teams (the client's team: None).
    record = LaunchRecord(
        launch_id="L",
        state="SUBMITTED",
        job_name="t",
        queue="q",
        size=size,
        is_array=True,
        job_id="j",
        job_arn="arn:aws:batch:us-east-1:123456789012:job/j",
        region="us-east-1",
    )
    pk = record.key
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    with table.batch_writer() as batch:
        batch.put_item(Item=to_dynamo(record.to_item()))
        failed = len([i for i in range(size) if i % FAILED_EVERY == 7])
        batch.put_item(
            Item={
                **key(pk, "status"),
                "phase": "running",
                "reason": "children running",
                "n_SUBMITTED": -size,
                "n_RUNNING": size - failed,
                "n_FAILED": failed,
            }
        )
    _fill_children(pk, size)


def _fill_children(pk: str, size: int) -> None:
    """The children in their shards' range items, written as the aggregator writes them (the real
    ShardStore adapter): each range put, then its counts published to its shard's summary."""
    from batchlane.status.adapters.shards import ExecutionsShards
    from batchlane.status.ranges import ChildRange, ranges_of
    from batchlane.status.states import Attempt, ChildState

    def child(i: int) -> ChildState:
        if i % FAILED_EVERY == 7:
            attempt = Attempt(log_stream=f"t/default/{i}", exit_code=1)
            return ChildState(i, "FAILED", 1, status_reason="Essential container in task exited", attempts=(attempt,))
        return ChildState(i, "RUNNING", 0, attempts=(Attempt(log_stream=f"t/default/{i}"),))

    shards = ExecutionsShards(TABLE)
    for number, states in ranges_of(child(i) for i in range(size)).items():
        stored, _ = ChildRange(number).merge(states)
        shards.publish_range(pk, number, shards.put_range(pk, stored, None), stored.counts())


def _items(parsed: dict) -> int:
    """Items read (a filtered Query reads, and is billed for, its ScannedCount)."""
    if "Item" in parsed:
        return 1
    if "ScannedCount" in parsed:
        return parsed["ScannedCount"]
    return len(parsed.get("Items", [])) + sum(len(v) for v in parsed.get("Responses", {}).values())


def measured(client, label: str, read) -> None:
    """The calls ``read`` makes, the items they return (what DynamoDB bills reads by) and the time."""
    calls: Counter = Counter()
    items = [0]
    before = lambda model, **_: calls.update([model.name])
    after = lambda parsed, **_: items.__setitem__(0, items[0] + _items(parsed))
    client.meta.events.register("before-call.dynamodb", before)
    client.meta.events.register("after-call.dynamodb", after)
    t0 = time.perf_counter()
    read()
    seconds = time.perf_counter() - t0
    client.meta.events.unregister("before-call.dynamodb", before)
    client.meta.events.unregister("after-call.dynamodb", after)
    print(
        f"  {label:<50} {sum(calls.values()):>2} call(s) {str(dict(calls)):<32} {items[0]:>6} items read "
        f"{seconds * 1000:9.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-partition read (slow in moto)")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    import boto3
    from moto import mock_aws

    from batchlane.client.api import BatchlaneClient
    from batchlane.client.status import child_detail, failed_page, read_children

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        fill(dynamodb, args.size)
        client = BatchlaneClient(lambda service: dynamodb, bus_name="b", executions_table=TABLE)
        print(f"client status reads, one launch of {args.size} children (moto, in process):")
        measured(dynamodb, "summary (BatchlaneClient.summary; connector get)", lambda: client.summary("L"))
        measured(dynamodb, "one page of 100 children (children)", lambda: client.children("L", limit=100))
        summary = client.summary("L")
        record, failed = summary.record, summary.counts.get("FAILED", 0)
        middle = args.size // 2
        print(f"batchlane status pages (after the summary; {failed} failed children):")
        measured(dynamodb, "status L (first page of 100)", lambda: read_children(client.executions, "L", record=record))
        measured(
            dynamodb,
            f"status L --after {middle} --limit 1000",
            lambda: read_children(client.executions, "L", limit=1000, after=middle, record=record),
        )
        measured(
            dynamodb,
            "status L --failed (first 100 failed)",
            lambda: failed_page(client.executions, "L", summary=summary),
        )
        measured(
            dynamodb,
            f"status L --failed --after {middle}",
            lambda: failed_page(client.executions, "L", after=middle, summary=summary),
        )
        measured(
            dynamodb, f"status L --child {middle}", lambda: child_detail(client.executions, "L", middle, record=record)
        )
        if not args.no_whole:
            measured(dynamodb, "whole partition (Executions.status)", lambda: client.executions.status("L"))


if __name__ == "__main__":
    main()
