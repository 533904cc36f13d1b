"""The control plane under faults on the wire: one Batch job per launch and per chunk, the cap
kept, every delivery answered, every launch final?

Runs the wire-level fault matrix (tests/integration/wire_matrix.py): every AWS call of the launch,
chunk-due, status, finish, reconcile and abort paths (found by a clean run of each scenario: a
plain launch, a chunked map, an aborted map, a map whose last chunk's events are lost) x every
wire fault kind (throttle and 5xx before the effect; 5xx, read timeout, connection reset and the
Lambda dying after it), each cell one launch driven to its end with SQS's redelivery after the
real visibility timeout, then a duplicate of everything a day later; Batch jobs counted from
moto's jobs. Prints the figures, then the cells that broke a promise.

    --before   SubmitJob and PutEvents through the original client config
               (retries={"max_attempts": 1}: one retry, two attempts)
    --only S   only scenario S (plain, chunked, abort, reconcile)
    --call C   only the cells of call C (e.g. batch.SubmitJob), on every path it is made on

Run: .venv/bin/python bench/fault_matrix_bench.py [--before] [--only chunked]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests" / "support"), str(ROOT)]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
)

import conftest  # noqa: E402 - after the sys.path (tests/integration: the moto world)
from wire_lifecycle import set_world_limits  # noqa: E402 - after the sys.path set-up
from wire_matrix import discover, run_matrix  # noqa: E402 - after the sys.path set-up

from batchlane.common import aws  # noqa: E402 - after the sys.path set-up


def original_submit_config() -> None:
    """The SubmitJob / PutEvents client as it was configured before issue 22 (two attempts)."""
    from botocore.config import Config

    aws._SINGLE_ATTEMPT = Config(
        retries={"mode": "standard", "max_attempts": 1},
        connect_timeout=5,
        read_timeout=20,
        max_pool_connections=aws.MAX_POOL_CONNECTIONS,
    )
    aws.reset_clients()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--only")
    parser.add_argument("--call")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with conftest.moto_world(os.environ.__setitem__) as world:
        if args.before:
            original_submit_config()
        set_world_limits(world)
        cells = [
            c
            for c in discover(world)
            if args.only in (None, c.scenario) and args.call in (None, f"{c.service}.{c.operation}")
        ]
        print(f"{len(cells)} cells", file=sys.stderr, flush=True)
        figures = run_matrix(
            world, cells, lambda n, cell, problems: print(n, cell, problems or "", file=sys.stderr, flush=True)
        )
    label = "before (SubmitJob/PutEvents: max_attempts 1)" if args.before else "after"
    label += f", {args.only or 'every scenario'}, {args.call or 'every call'}"
    print(f"wire fault matrix, {label}: {figures.cells} cells in {time.perf_counter() - t0:.0f} s")
    print(f"  faults injected                {figures.faults}")
    print(f"  Batch jobs per launch (max)    {figures.max_jobs_per_launch}")
    print(f"  Batch jobs per chunk (max)     {figures.max_jobs_per_chunk}")
    print(f"  children in flight (max, cap 2) {figures.max_in_flight}")
    print(f"  unanswered deliveries          {figures.unanswered}")
    print(f"  stalled launches               {figures.stalled}")
    print(f"  cells breaking a promise       {len(figures.broken)}")
    for cell, problems in sorted(figures.broken.items()):
        print(f"    {cell}: {'; '.join(problems)}")


if __name__ == "__main__":
    main()
