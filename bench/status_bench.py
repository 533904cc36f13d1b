"""Status fold benchmark: a simulated 10,000-child array job, five events per child
(PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED) plus the parent's two, 10% of them delivered
twice, all shuffled. Run by hand; prints figures, asserts only correctness:

    .venv/bin/python bench/status_bench.py [--size 10000] [--dup 0.1] [--seed 7] [--repeat 3]

Figures:
* events/s of parsing (SQS body JSON -> model -> observation), of the pure fold
  (observation -> merge_child into the child's state), and of both together;
* "changed" merges vs events: the conditional child writes the aggregator would issue if it
  wrote after every event; duplicates must cause none;
* write requests per event when the aggregator coalesces per Lambda batch (one conditional
  write per child whose state changed in the batch + one summary update per launch per batch),
  for a few batch sizes, shuffled and in true order (the worst case: every event advances);
* write requests per event under the TRANSACTION model of the write path before shards (computed
  by driving the pure fold with a write-count model, not DynamoDB): per Lambda batch and launch one
  TransactWriteItems (<= 98 changed children + parent + summary per transaction), one conditional
  UpdateItem per phase change, at most one progress claim per progress interval. Kept as the
  baseline: the shard path (ranges of 100 children, no transaction) is measured by
  ``bench/scale_bench.py --limits``, and ``--moto N`` here runs the real handler against moto
  (in-process) on an N-child array and reports the write requests it counted;
* Lambda invocations per event for the configured SQS batch size and batching window
  (config/dev.yaml ``aggregator``), at several arrival rates.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "lambdas"),
    str(Path(__file__).resolve().parents[1] / "toolkit"),
]

from batchlane.sandbox.simulate import launch_events, simple_array  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.status.events import parse_event  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.status.fold import summarize  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.status.observations import merge_child, merge_parent, observe  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.status.phase import add_deltas, count_delta  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.status.states import ChildState  # noqa: E402 - after the sys.path set-up: runs from a checkout

JOB = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def fold_observations(observations):
    children: dict[int, ChildState] = {}
    parent = None
    changed = 0
    for obs in observations:
        c = obs.child
        if c is not None:
            new, ch = merge_child(children.get(c.index), c)
            if ch:
                children[c.index] = new
                changed += 1
        else:
            parent, ch = merge_parent(parent, obs.parent)
            changed += ch
    return children, parent, changed


def writes_per_batch(observations, batch: int) -> tuple[int, int]:
    """(child writes, summary writes) when state is written once per child per Lambda batch."""
    children: dict[int, ChildState] = {}
    parent = None
    child_writes = summary_writes = 0
    for start in range(0, len(observations), batch):
        before: dict[int, ChildState | None] = {}
        deltas: dict[str, int] = {}
        parent_changed = False
        for obs in observations[start : start + batch]:
            c = obs.child
            if c is None:
                parent, ch = merge_parent(parent, obs.parent)
                parent_changed |= ch
                continue
            old = children.get(c.index)
            new, ch = merge_child(old, c)
            if ch:
                before.setdefault(c.index, old)
                add_deltas(deltas, count_delta(old.status if old else None, new.status))
                children[c.index] = new
        child_writes += sum(1 for i, old in before.items() if children[i] != old)
        summary_writes += 1 if (deltas or parent_changed) else 0
    return child_writes, summary_writes


CHILDREN_PER_TRANSACTION = 98  # batchlane.status.service: + parent + summary = DynamoDB's 100 items


def transaction_model(
    observations, batch: int, size: int, *, progress_interval: int = 60, events_per_second: float = 1000.0
) -> dict[str, int]:
    """Write requests and items the aggregator issues for this delivery order (one launch)."""
    from batchlane.status.phase import decide_phase, initial_counts

    children: dict[int, ChildState] = {}
    parent = None
    counts = initial_counts(size)
    phase = None
    out = {"transactions": 0, "items": 0, "phase_writes": 0, "progress_writes": 0, "batches": 0}
    for start in range(0, len(observations), batch):
        out["batches"] += 1
        changed: set[int] = set()
        parent_changed = False
        for obs in observations[start : start + batch]:
            c = obs.child
            if c is None:
                parent, ch = merge_parent(parent, obs.parent)
                parent_changed |= ch
                continue
            old = children.get(c.index)
            new, ch = merge_child(old, c)
            if ch:
                children[c.index] = new
                changed.add(c.index)
                add_deltas(counts, count_delta(old.status if old else None, new.status))
        # a child that changed and changed back within the batch still costs its write: count it
        chunks = -(-len(changed) // CHILDREN_PER_TRANSACTION) if changed else (1 if parent_changed else 0)
        out["transactions"] += chunks
        out["items"] += len(changed) + int(parent_changed) + chunks
        decision = decide_phase(size, size, counts, parent_status=parent.status if parent else None)
        if decision.phase != phase:
            out["phase_writes"] += 1
            phase = decision.phase
    seconds = len(observations) / events_per_second
    out["progress_writes"] = int(seconds // progress_interval) if progress_interval else 0
    return out


def invocations_per_event(batch_size: int, window_s: float, rate: float, pollers: int = 5) -> float:
    """Lambda's SQS event source: each poller invokes with up to ``batch_size`` messages, or with
    what arrived within ``window_s``; ``pollers`` (5 to start, more under load) share the arrivals."""
    per_poller = rate / pollers
    messages = min(batch_size, max(1.0, per_poller * window_s)) if window_s else 1.0
    if not window_s:
        messages = min(batch_size, max(1.0, per_poller * 0.02))  # no window: whatever one poll returns
    return 1.0 / messages


def moto_run(size: int, dup: float, seed: int) -> None:
    """The real aggregator handler on an N-child array, in moto (in-process)."""
    import os

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import boto3
    from moto import mock_aws

    from batchlane.common import aws
    from batchlane.common.executions import SUBMITTED, SUMMARY_SK, LaunchRecord, key
    from batchlane.common.tenancy import LaunchData, s3_uri
    from batchlane.common.values import to_dynamo
    from batchlane.deployment.config import load_config
    from batchlane.sandbox.provision import provision
    from batchlane.status import handler as aggregator

    config = load_config("dev")
    with mock_aws(config={"batch": {"use_docker": False}}):
        aws.reset_clients()
        deployment = provision(config)
        for k, v in deployment.function_environment().items():
            os.environ[k] = v
        aggregator.runtime.cache_clear()
        table = boto3.resource("dynamodb").Table(config.table_name("executions"))
        data = LaunchData("platform", "bench", "development", "L-moto")  # a launch of team platform (dev.yaml)
        launch = LaunchRecord(
            launch_id=data.launch_id,
            team=data.team,
            project=data.project,
            domain=data.domain,
            state=SUBMITTED,
            job_name="bench",
            queue="q",
            job_id=JOB,
            size=size,
            is_array=True,
            is_map_task=True,
            outputs_uri=s3_uri(deployment.bucket, data.children_prefix),
        )
        table.put_item(Item=to_dynamo(launch.to_item()))
        rng = random.Random(seed)
        events = launch_events(JOB, simple_array(JOB, size), rng=rng)
        delivered = events + rng.sample(events, int(len(events) * dup))
        rng.shuffle(delivered)
        batch = config.aggregator.batch_size
        t = time.perf_counter()
        for k in range(0, len(delivered), batch):
            body = {
                "Records": [
                    {"messageId": f"m{k + i}", "body": json.dumps(e), "attributes": {}, "eventSource": "aws:sqs"}
                    for i, e in enumerate(delivered[k : k + batch])
                ]
            }
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines
                assert aggregator.handler(body, _Context())["batchItemFailures"] == []
        elapsed = time.perf_counter() - t
        store = aggregator.runtime().store
        phase = table.get_item(Key=key(launch.key, SUMMARY_SK))["Item"]["phase"]
        print(
            f"moto handler    : {size} children, {len(delivered)} events in batches of {batch}: "
            f"{store.write_requests / len(delivered):.3f} write requests/event ({store.write_requests}), "
            f"{store.items_written / len(delivered):.3f} items/event; phase {phase}; {elapsed:.1f}s"
        )


class _Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--dup", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--moto",
        type=int,
        default=0,
        metavar="N",
        help="also run the real handler against moto on an N-child array (e.g. 1000)",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    true_order = launch_events(JOB, simple_array(JOB, args.size), rng=rng)
    bodies_true = [json.dumps(e) for e in true_order]
    dups = rng.sample(range(len(bodies_true)), int(len(bodies_true) * args.dup))
    tagged = [(b, False) for b in bodies_true] + [(bodies_true[i], True) for i in dups]
    rng.shuffle(tagged)
    bodies = [b for b, _ in tagged]
    n = len(bodies)
    print(
        f"simulated: {args.size} children, {len(true_order)} distinct events, {len(dups)} duplicates, "
        f"{n} delivered shuffled (built in {time.perf_counter() - t0:.1f}s)"
    )

    # correctness first
    observations = [observe(parse_event(b)) for b in bodies]
    launch = {"launchId": "L-bench", "jobId": JOB, "size": args.size, "isArray": True, "minSuccessRatio": 1}
    children, parent, changed = fold_observations(observations)
    status = summarize(launch, children, parent)
    reference = summarize(launch, *fold_observations([observe(parse_event(b)) for b in bodies_true])[:2])
    assert status == reference, "shuffled + duplicated fold differs from the true-order fold"
    assert status.phase == "succeeded" and status.counts["SUCCEEDED"] == args.size

    # duplicates never cause a write: replay with "first copy seen" tracking
    seen: set[str] = set()
    state: dict[int, ChildState] = {}
    dup_writes = 0
    for b, obs in zip(bodies, observations, strict=True):
        if obs.child is None:
            continue
        new, ch = merge_child(state.get(obs.child.index), obs.child)
        if ch:
            state[new.index] = new
            dup_writes += b in seen
        seen.add(b)
    assert dup_writes == 0, f"{dup_writes} duplicate events changed a state"

    # throughput
    parse_s = timed(lambda: [observe(parse_event(b)) for b in bodies], args.repeat)
    fold_s = timed(lambda: fold_observations(observations), args.repeat)
    both_s = timed(lambda: fold_observations([observe(parse_event(b)) for b in bodies]), args.repeat)
    items = [c.to_item() for c in children.values()]
    codec_s = timed(lambda: [ChildState.from_item(i).to_item() for i in items], args.repeat)
    print(f"parse + observe : {n / parse_s:>10,.0f} events/s")
    print(f"pure fold       : {n / fold_s:>10,.0f} events/s   (goal >= 50,000)")
    print(f"parse + fold    : {n / both_s:>10,.0f} events/s")
    print(f"item codec      : {len(items) / codec_s:>10,.0f} child items/s (from_item + to_item)")

    # writes
    child_events = sum(1 for o in observations if o.child is not None)
    print(
        f"changed merges  : {changed} of {n} events ({changed / n:.3f} per event) = child writes "
        f"without coalescing; duplicates that changed a state: {dup_writes}"
    )
    item_sizes = sorted(len(json.dumps(i)) for i in items)
    print(
        f"child item JSON : median {item_sizes[len(item_sizes) // 2]} B, max {item_sizes[-1]} B; "
        f"{child_events} child events"
    )
    true_obs = [observe(parse_event(b)) for b in bodies_true]
    for label, obs_list in (("shuffled+dups", observations), ("true order", true_obs)):
        for batch in (10, 100, 1000):
            cw, sw = writes_per_batch(obs_list, batch)
            print(
                f"writes/event    : {label:<13} batch {batch:>4}: {(cw + sw) / len(obs_list):.3f} "
                f"({cw} child + {sw} summary for {len(obs_list)} events)"
            )
    print(f"launch          : phase={status.phase} counts={ {k: v for k, v in status.counts.items() if v} }")

    # the transaction model (pure fold + write-count model, not DynamoDB)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from batchlane.deployment.config import load_config

    agg = load_config("dev").aggregator
    for label, obs_list in (("shuffled+dups", observations), ("true order", true_obs)):
        for batch in sorted({10, agg.batch_size, 1000}):
            m = transaction_model(obs_list, batch, args.size)
            requests = m["transactions"] + m["phase_writes"] + m["progress_writes"]
            print(
                f"transactions    : {label:<13} batch {batch:>4}: {requests / len(obs_list):.3f} write requests/event "
                f"({m['transactions']} TransactWriteItems + {m['phase_writes']} phase + {m['progress_writes']} "
                f"progress), {m['items'] / len(obs_list):.3f} items/event (2 WCU each)"
            )
    print(
        f"invocations     : SQS batch size {agg.batch_size}, batching window {agg.batching_window_seconds}s "
        f"(config/dev.yaml), 5 pollers: at most 1 per {agg.batch_size} events when busy"
    )
    for rate in (10, 100, 1000, 5000):
        print(
            f"                  {rate:>5} events/s -> "
            f"{invocations_per_event(agg.batch_size, agg.batching_window_seconds, rate):.3f} invocations/event"
        )
    if args.moto:
        moto_run(args.moto, args.dup, args.seed)


if __name__ == "__main__":
    main()
