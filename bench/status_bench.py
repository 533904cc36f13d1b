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
  for a few batch sizes, shuffled and in true order (the worst case: every event advances).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas"))

from batchlane.status.events import parse_event  # noqa: E402
from batchlane.status.fold import (  # noqa: E402
    ChildState, add_deltas, count_delta, merge_child, merge_parent, observe, summarize,
)
from batchlane.status.simulate import launch_events, simple_array  # noqa: E402

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
        for obs in observations[start:start + batch]:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--dup", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
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
    print(f"simulated: {args.size} children, {len(true_order)} distinct events, {len(dups)} duplicates, "
          f"{n} delivered shuffled (built in {time.perf_counter() - t0:.1f}s)")

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
    print(f"changed merges  : {changed} of {n} events ({changed / n:.3f} per event) = child writes "
          f"without coalescing; duplicates that changed a state: {dup_writes}")
    item_sizes = sorted(len(json.dumps(i)) for i in items)
    print(f"child item JSON : median {item_sizes[len(item_sizes) // 2]} B, max {item_sizes[-1]} B; "
          f"{child_events} child events")
    true_obs = [observe(parse_event(b)) for b in bodies_true]
    for label, obs_list in (("shuffled+dups", observations), ("true order", true_obs)):
        for batch in (10, 100, 1000):
            cw, sw = writes_per_batch(obs_list, batch)
            print(f"writes/event    : {label:<13} batch {batch:>4}: {(cw + sw) / len(obs_list):.3f} "
                  f"({cw} child + {sw} summary for {len(obs_list)} events)")
    print(f"launch          : phase={status.phase} counts={ {k: v for k, v in status.counts.items() if v} }")


if __name__ == "__main__":
    main()
