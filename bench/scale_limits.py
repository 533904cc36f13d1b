"""``scale_bench.py --limits``: what one child costs on the real aggregator (moto, DynamoDB's limits
metered: bench/ddb_limits.py), then a 1,000,000-child map at AWS's limits (bench/scale_model.py).

The sample: ``--sample`` children in chunks of ``--chunk-size`` all in flight at once (the launch
partition and the summary are written by every chunk, as at scale), their events filtered by the
aggregator rule's own pattern (EventBridge's matcher, moto's) and delivered in Lambda batches of
the deployment's batch size, ``--dup`` of them twice.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random

from scale_bench import LAUNCH_KEY, _Context, chunk_events, chunk_record, launch_record  # type: ignore[import-not-found]

from batchlane.common.chunks import Chunks
from batchlane.common.executions import SHARD_CHILDREN, SUMMARY_SK, key

TODAY = 10.3  # $ per million children before issue 24 (the figure)


def _rule_matcher(config, queue_arn: str):
    """The aggregator rule's pattern (the deployment contract's) as EventBridge matches it (moto)."""
    from moto.events.models import EventPattern

    from batchlane.deployment.contract import event_paths

    path = event_paths(config, [queue_arn])["aggregator"]
    pattern = EventPattern.load(json.dumps(path.pattern))
    return pattern.matches_event


def _sample(args, config):
    """Deliver the sample through the metered handler; (meter, events delivered, events Batch sent)."""
    import boto3
    from ddb_limits import DynamoMeter  # type: ignore[import-not-found]

    from batchlane.common import aws
    from batchlane.common.values import to_dynamo
    from batchlane.sandbox.provision import provision
    from batchlane.status import handler as aggregator

    deployment = provision(config)
    os.environ.update(deployment.function_environment())
    aggregator.runtime.cache_clear()
    table = boto3.resource("dynamodb").Table(config.table_name("executions"))
    layout = Chunks.layout(args.sample, args.chunk_size)
    # Every chunk in flight at once (its window: all of them).
    launch = launch_record(args.sample, None, layout, region="us-east-1", chunk_window=layout.count)
    table.put_item(Item=to_dynamo(launch.to_item()))
    for c in range(layout.count):
        table.put_item(Item=to_dynamo(chunk_record(layout, c).to_item()))
    matches = None
    meter = DynamoMeter(aws.client("dynamodb"), config.table_name("executions"))
    rng = random.Random(args.seed)
    streams = [chunk_events(c, layout, rng, args.dup) for c in range(layout.count)]
    sent, starts, ends = 0, [], []
    while streams:  # the chunks' blocks interleaved: every chunk in flight at once
        for stream in list(streams):
            block = next(stream, None)
            if block is None:
                streams.remove(stream)
                continue
            sent += len(block)
            matches = matches or _rule_matcher(config, block[0]["detail"]["jobQueue"])
            for e in filter(matches, block):
                (ends if e["detail"]["status"] in ("SUCCEEDED", "FAILED") and not args.together else starts).append(e)
    # At scale a child's RUNNING and its end are a child's run apart: never in one Lambda batch.
    delivered = _deliver(starts, layout, meter, config.aggregator.batch_size, 0)
    delivered += _deliver(ends, layout, meter, config.aggregator.batch_size, delivered)
    phase = (table.get_item(Key=key(LAUNCH_KEY, SUMMARY_SK), ConsistentRead=True).get("Item") or {}).get("phase")
    return meter, delivered, sent, phase


def _deliver(events: list, layout: Chunks, meter, batch_size: int, first_id: int) -> int:
    """Through the handler in Lambda batches, each metered as one; the events delivered."""
    from batchlane.status import handler as aggregator

    for k in range(0, len(events), batch_size):
        records = events[k : k + batch_size]
        meter.begin_batch(
            len(records),
            {
                layout.offset(int(e["detail"]["tags"]["batchlane:chunk"])) + e["detail"]["arrayProperties"]["index"]
                for e in records
                if "index" in (e["detail"].get("arrayProperties") or {})
            },
        )
        body = {
            "Records": [
                {"messageId": f"m{first_id + k + i}", "body": json.dumps(e), "attributes": {}, "eventSource": "aws:sqs"}
                for i, e in enumerate(records)
            ]
        }
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines
            assert aggregator.handler(body, _Context())["batchItemFailures"] == []
    return len(events)


def run(args) -> None:
    import scale_model  # type: ignore[import-not-found]
    from moto import mock_aws

    from batchlane.common import aws
    from batchlane.deployment.config import load_config
    from batchlane.status import handler as aggregator

    if not args.moto_as_is:
        from batchlane.sandbox import moto_speedups

        moto_speedups.install()  # the emulator's cost per transaction, not batchlane's: see that module
    config = load_config("dev")
    with mock_aws(config={"batch": {"use_docker": False}}):
        aws.reset_clients()
        meter, delivered, sent, phase = _sample(args, config)
    unique = delivered / (1 + args.dup)
    costs = scale_model.Costs.measured(
        meter, args.sample, int(unique), launch_key=LAUNCH_KEY, shard_children=SHARD_CHILDREN
    )
    print(
        f"sample (real handler, moto, metered): {args.sample} children in chunks of {args.chunk_size}; "
        f"{sent} events sent by Batch, {delivered} delivered by the rule (dup {args.dup:.0%}); phase {phase}"
    )
    print(
        f"per child             : {costs.events:.2f} events, {costs.write_units:.2f} WRU "
        f"({costs.write_requests:.2f} write requests), {costs.read_units:.2f} RRU; hottest launch-wide key "
        f"{costs.hot_key_units:.2f} WRU, hottest launch-wide item in {costs.hot_item_transactions:.3f} transactions; "
        f"hottest shard key {costs.range_key_units:.3f} WRU (its {costs.range_key_children:,} children at scale); "
        f"a roll-up {costs.rollup_units:.1f} WRU"
    )
    limits, prices = scale_model.Limits(), scale_model.Prices()
    agg = config.aggregator
    for minutes in (1, 10):
        scenario = scale_model.Scenario(
            children=args.children,
            max_concurrency=args.max_concurrency or 200_000,
            duration=60.0 * minutes,
            batch_size=agg.batch_size,
            batching_window=agg.batching_window_seconds,
            memory_gb=agg.memory_mb / 1024,
            max_receive_count=agg.max_receive_count,
            visibility_timeout=6.0 * agg.timeout_seconds,
            aggregator_concurrency=config.aggregator_max_concurrency,
            retry_delay=aggregator.retry_delay,  # the handler's own per-record back-off
        )
        _report(costs, scenario, limits, prices, minutes)


def _report(costs, scenario, limits, prices, minutes: int) -> None:
    import scale_model  # type: ignore[import-not-found]

    out = scale_model.run(costs, scenario, limits)
    dollars = scale_model.dollars_per_million(costs, scenario, out, limits, prices)
    caps = out.capacity
    demand = scenario.max_concurrency / scenario.duration * costs.events
    print(f"--- {scenario.children:,} children, maxConcurrency {scenario.max_concurrency:,}, {minutes}-minute children")
    print(
        f"events/s per launch   : {demand:,.0f} arriving; admitted: partition key {caps['partition key']:,.0f}, "
        f"shard key {caps['range key']:,.0f}, "
        f"transactions on one item {caps['item in transactions']:,.0f}, aggregator concurrency "
        f"{caps['aggregator concurrency']:,.0f} ({scenario.aggregator_concurrency or limits.account_concurrency} "
        f"invocations of {caps['invocation seconds'] * 1000:.0f} ms)"
    )
    if costs.range_key_children:
        print(
            f"hottest shard key     : {out.peak_range_key_units:,.0f} WRU/s while its {costs.range_key_children:,} "
            f"children start (cap {limits.partition_write_units:,.0f}); the launch's own key: a roll-up of "
            f"{costs.rollup_units:.1f} WRU at most every {limits.rollup_seconds:.0f} s"
        )
    print(f"children running      : at most {scenario.max_concurrency:,} at a time (maxConcurrency held)")
    lag = "never (horizon)" if out.lag == float("inf") else f"{out.lag:,.0f} s"
    total = sum(dollars.values())
    print(
        f"status lag            : {lag} after the last child ends (at {out.last_child_end:,.0f} s); "
        f"{out.dead_lettered:,.0f} events dead-lettered, {out.failed:,.0f} failed receives"
    )
    print(
        f"per child             : {costs.write_units:.2f} WRU, {out.sqs_requests / scenario.children:.2f} SQS "
        f"requests, {out.received / scenario.batch_size / scenario.children:.4f} invocations"
    )
    print(
        f"$ per million children: {total:.2f} (DynamoDB {dollars['dynamodb']:.2f}, SQS {dollars['sqs']:.2f}, "
        f"Lambda {dollars['lambda']:.2f}; a third of today's ${TODAY}: {TODAY / 3:.2f}) at {prices}"
    )
