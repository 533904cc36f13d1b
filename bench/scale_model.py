"""The status path of one big map at AWS scale, second by second (pure; no AWS, no moto).

What one child costs is MEASURED on the real aggregator handler against moto with DynamoDB's limits
metered (bench/ddb_limits.py; ``Costs.measured``); this module scales it to N children and runs the
queue in front of the aggregator against the limits moto does not have:

* a partition key takes about 1,000 WRU per second: a key every child of the launch writes caps the
  launch at ``1000 / WRU per event on it`` events per second;
* a transaction holds its items for ``transaction_seconds``; concurrent transactions on one item
  conflict, so an item every child's transaction touches takes at most ``1 / transaction_seconds``
  transactions per second;
* the event source mapping starts at most ``max_concurrency`` invocations (unbounded: Lambda's
  account default of 1,000), each taking its requests' latency.

Events beyond what DynamoDB takes in a second fail. A failed event is received again after the
queue's visibility timeout (or after ``retry_delay(receives)`` when the aggregator sets its own,
per record), and goes to the dead-letter queue once received ``max_receive_count`` times.

Children: ``max_concurrency`` children of ``duration`` seconds at a time, started at an even rate
(``max_concurrency / duration`` per second); a child's events but its last arrive as it starts,
its last as it ends. The lag is the time from the last child's end until the queue is empty.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices (USD), December 2026."""

    write_unit: float = 0.625e-6  # DynamoDB on-demand, per write request unit
    read_unit: float = 0.125e-6  # ... per read request unit
    sqs_request: float = 0.40e-6  # SQS standard, per request (64 KB)
    lambda_request: float = 0.20e-6
    lambda_gb_second: float = 0.0000166667  # x86


@dataclass(frozen=True)
class Limits:
    partition_write_units: float = 1000.0  # per partition key per second
    transaction_seconds: float = 0.025  # an item is held by one transaction this long
    request_seconds: float = 0.008  # one DynamoDB request as the handler waits for it
    invocation_overhead_seconds: float = 0.02
    # A throttled request's retries inside the invocation (botocore standard mode, 4 attempts: jittered
    # waits of up to 1, 2, 4 s) before its records fail: a throttled invocation holds its slot longer.
    throttled_seconds: float = 3.5
    account_concurrency: int = 1000  # Lambda's default, when the mapping sets no maximum
    rollup_seconds: float = 1.0  # the launch's summary is rolled up at most this often (status.rollup)


@dataclass(frozen=True)
class Costs:
    """Per child, as measured on the real handler (batchlane's design under test)."""

    events: float  # events per child reaching the aggregator
    write_units: float
    read_units: float
    write_requests: float
    read_requests: float
    hot_key_units: float  # WRU per child on the hottest key that every child of the launch writes
    hot_item_transactions: float  # transactions per child on the hottest item every child's transaction touches
    range_key_units: float = 0.0  # WRU per child on the hottest key only a range of children writes
    range_key_children: int = 0  # ... and how many children that range holds
    rollup_units: float = 0.0  # WRU per write of the launch's own key, written at a bounded rate (status.rollup)

    @classmethod
    def measured(
        cls, meter, children: int, events: int, launch_key: str | None = None, shard_children: int = 0
    ) -> Costs:
        """From a DynamoMeter over a sample of ``children`` children (``events`` delivered). With
        ``launch_key``: its writes are the roll-ups, at a bounded rate whatever the children, and
        the keys of its shards (``<launch key>#s<n>``) each take ``shard_children`` children at scale."""
        totals = meter.totals()
        loads = meter.key_loads()
        shards = {pk for pk in loads if launch_key and pk.startswith(f"{launch_key}#s")}
        rated = {launch_key} if launch_key in loads else set()
        launch_wide = [(u, n) for pk, (u, n) in loads.items() if n >= children and pk not in shards | rated]
        ranges = [(u / n, n) for pk, (u, n) in loads.items() if 0 < n < children and pk not in shards | rated]
        # A shard's WRU per child: over the sample's children in it (a Lambda batch may mix shards).
        ranges += [
            (u / _in_shard(pk, children, shard_children), shard_children)
            for pk, (u, _) in loads.items()
            if pk in shards
        ]
        rollups = meter.write_requests_on(launch_key) if rated else 0
        hot_items = [t for t, n in meter.transaction_items().values() if n >= children]
        range_units, range_children = max(ranges, default=(0.0, 0))
        return cls(
            events=events / children,
            write_units=totals["write_units"] / children,
            read_units=totals["read_units"] / children,
            write_requests=totals["write_requests"] / children,
            read_requests=totals["read_requests"] / children,
            hot_key_units=max((u for u, _ in launch_wide), default=0) / children,
            hot_item_transactions=max(hot_items, default=0) / children,
            range_key_units=range_units,
            range_key_children=range_children,
            rollup_units=loads[launch_key][0] / rollups if rollups else 0.0,
        )


@dataclass(frozen=True)
class Scenario:
    children: int = 1_000_000
    max_concurrency: int = 200_000  # the map's children running at once
    duration: float = 60.0  # one child's run, seconds
    batch_size: int = 100  # the aggregator's SQS batch
    batching_window: float = 2.0
    aggregator_concurrency: int | None = None  # the event source mapping's MaximumConcurrency
    memory_gb: float = 0.5
    max_receive_count: int = 10
    visibility_timeout: float = 360.0
    retry_delay: Callable[[int], float] | None = None  # per record (the aggregator's own back-off)


@dataclass
class Outcome:
    events: float = 0.0
    processed: float = 0.0
    received: float = 0.0
    failed: float = 0.0
    dead_lettered: float = 0.0
    sqs_requests: float = 0.0
    last_child_end: float = 0.0
    drained_at: float = 0.0
    capacity: dict[str, float] = field(default_factory=dict)  # events/s per limit
    peak_range_key_units: float = 0.0  # WRU/s on the hottest range key at its children's peak

    @property
    def lag(self) -> float:
        return max(0.0, self.drained_at - self.last_child_end)


def _in_shard(pk: str, children: int, shard_children: int) -> int:
    """The sample's children in the shard ``<launch key>#s<n>`` (children ``n * shard_children`` on)."""
    first = int(pk.rsplit("#s", 1)[1]) * shard_children
    return max(1, min(children, first + shard_children) - first)


def capacities(costs: Costs, scenario: Scenario, limits: Limits) -> dict[str, float]:
    """Events per second of one launch each limit admits."""
    per_event = 1 / costs.events
    requests = (costs.write_requests + costs.read_requests) * per_event * scenario.batch_size
    invocation = limits.invocation_overhead_seconds + requests * limits.request_seconds
    concurrency = scenario.aggregator_concurrency or limits.account_concurrency
    key_units, item_transactions = costs.hot_key_units * per_event, costs.hot_item_transactions * per_event
    # A range (shard) key takes its children's events while they start and end: at the launch's whole
    # start rate when its children are contiguous (they start together), the conservative reading.
    range_units = costs.range_key_units * per_event  # WRU per launch event, on the hottest range key
    return {
        "partition key": limits.partition_write_units / key_units if key_units else math.inf,
        "range key": limits.partition_write_units / range_units if range_units else math.inf,
        "item in transactions": 1 / limits.transaction_seconds / item_transactions if item_transactions else math.inf,
        "aggregator concurrency": concurrency * scenario.batch_size / invocation,
        "invocation seconds": invocation,
    }


def arrivals(costs: Costs, scenario: Scenario) -> tuple[list[float], float]:
    """Events arriving in each second, and when the last child ends."""
    rate = scenario.max_concurrency / scenario.duration  # children started per second
    starting = scenario.children / rate
    end = starting + scenario.duration
    seconds = [0.0] * (math.ceil(end) + 1)
    for t in range(len(seconds)):
        started = max(0.0, min(t + 1.0, starting) - t) * rate
        ended = max(0.0, min(t + 1.0, end) - max(t, scenario.duration)) * rate
        seconds[t] = started * (costs.events - 1) + ended
    return seconds, end


def run(costs: Costs, scenario: Scenario, limits: Limits = Limits(), horizon: float = 7 * 86_400) -> Outcome:
    caps = capacities(costs, scenario, limits)
    # What DynamoDB admits per second (the roll-ups are rated per second, not per event: a check).
    taken = min(caps["partition key"], caps["item in transactions"], caps["range key"])
    concurrency = scenario.aggregator_concurrency or limits.account_concurrency
    ok_share = 1.0
    incoming, end = arrivals(costs, scenario)
    out = Outcome(events=sum(incoming), last_child_end=end, capacity=caps)
    rate = scenario.max_concurrency / scenario.duration
    out.peak_range_key_units = costs.range_key_units * rate  # its children start together at the launch's rate
    visible: dict[int, float] = defaultdict(float)  # receives so far -> events visible
    hidden: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))  # second -> receives -> events
    t = 0
    while t < horizon:
        if t < len(incoming):
            visible[0] += incoming[t]
        for receives, n in hidden.pop(t, {}).items():
            visible[receives] += n
        waiting = sum(visible.values())
        if t >= len(incoming) and waiting < 1e-6 and not hidden:
            break
        # An invocation takes its requests' time, and a throttled one its retries' waits too.
        busy = caps["invocation seconds"] + (1 - ok_share) * limits.throttled_seconds
        received = min(waiting, concurrency * scenario.batch_size / busy)
        ok_share = min(1.0, taken / received) if received else 1.0
        for receives in list(visible):
            got = visible[receives] * (received / waiting if waiting else 0)
            visible[receives] -= got
            failed = got * (1 - ok_share)
            out.processed += got - failed
            out.failed += failed
            if receives + 1 >= scenario.max_receive_count:
                out.dead_lettered += failed
            elif failed:
                delay = scenario.retry_delay(receives + 1) if scenario.retry_delay else scenario.visibility_timeout
                hidden[t + max(1, math.ceil(delay))][receives + 1] += failed
                out.sqs_requests += failed if scenario.retry_delay else 0  # ChangeMessageVisibility
        out.received += received
        out.sqs_requests += received / 10 + received * ok_share / 10  # ReceiveMessage, DeleteMessageBatch
        t += 1
        if sum(visible.values()) < 1e-6 and not hidden:
            out.drained_at = t + scenario.batching_window
    out.sqs_requests += out.events  # EventBridge's SendMessage, one per event
    if t >= horizon:
        out.drained_at = math.inf
    return out


def dollars_per_million(costs: Costs, scenario: Scenario, out: Outcome, limits: Limits, prices: Prices) -> dict:
    """Control-plane $ per million children, by service."""
    scale = 1e6 / scenario.children
    invocations = out.received / scenario.batch_size
    seconds = invocations * out.capacity["invocation seconds"]
    per_child_events = out.processed / scenario.children / costs.events  # failed attempts write nothing
    dynamo = (
        costs.write_units * per_child_events * prices.write_unit
        + costs.read_units * (out.received / scenario.children / costs.events) * prices.read_unit
    ) * scenario.children
    return {
        "dynamodb": dynamo * scale,
        "sqs": out.sqs_requests * prices.sqs_request * scale,
        "lambda": (invocations * prices.lambda_request + seconds * scenario.memory_gb * prices.lambda_gb_second)
        * scale,
    }
