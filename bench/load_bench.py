"""Launch throughput and back-pressure: 2,000 launches at once against a Batch that takes 50
SubmitJob calls per second (as AWS, 429 beyond), in the local sandbox.

Prints: launches per second reached, the busiest second's submits, max in flight, throttles seen,
duplicates, lost, dead letters (batchlane.sandbox.load; docs/throughput.md). Then the same burst
against a Batch held to 10 per second (the rest of the account's 50 taken by other submitters), so
that throttling really happens.

Run: .venv/bin/python bench/load_bench.py [LAUNCHES]   (default 2000; bounded, local only)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT / "toolkit"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")

from batchlane.sandbox.load import run_load  # noqa: E402 - after the sys.path and log-level set-up


def main() -> int:
    launches = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    ok = True
    for batch_rate in (50, 10):
        started = time.monotonic()
        report = run_load(launches, batch_rate=batch_rate, timeout=1800)
        print("\n".join(report.lines()))
        print(f"  (run {time.monotonic() - started:.0f} s, sandbox start and checks included)\n")
        ok = ok and report.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
