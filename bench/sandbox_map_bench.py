"""A big map task through the whole local sandbox (simulated executor): chunked, capped, one launch.

The launch goes on the bus as any client's would; the launcher writes the inputs once (JSON Lines
and its index) and submits the first chunks; the simulated Batch runs every child (events through
EventBridge and SQS, an output object per child); the aggregator folds the events, makes the next
chunks due, and assembles the outputs. Prints: time to ``succeeded``, events per second through the
status path, the counts, the most children running at once against the cap, the chunk jobs, and
whether the outputs are every child's own, in global index order.

Run: .venv/bin/python bench/sandbox_map_bench.py [--size 100000] [--chunk-size 10000] [--cap 20000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT / "toolkit"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "batchlane")
# The bench's own status reads share the sandbox's one core with what it measures: not too often.
POLL_SECONDS = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="inputs of the map task")
    ap.add_argument("--chunk-size", type=int, default=10_000, help="limits.maxArraySize: children per chunk job")
    ap.add_argument("--cap", type=int, default=None, help="maxConcurrency (default: two chunks' worth)")
    ap.add_argument("--run-seconds", type=float, default=0.05, help="how long each simulated child runs")
    ap.add_argument("--timeout", type=float, default=3 * 3600)
    args = ap.parse_args()
    cap = args.cap or 2 * args.chunk_size

    from batchlane.client.outputs import read_outputs
    from batchlane.common.inputs import index_uri, write_jsonl
    from batchlane.common.tenancy import INPUTS, LaunchData
    from batchlane.deployment.config import load_config
    from batchlane.sandbox.core import Sandbox
    from batchlane.sandbox.executor import peak_running
    from batchlane.sandbox.scenario import parse_scenario

    config = load_config("dev")
    config = config.model_copy(update={"limits": config.limits.model_copy(update={"max_array_size": args.chunk_size})})
    scenario = parse_scenario(
        {"seed": 3, "defaults": {"runSeconds": args.run_seconds}, "launches": [{"detail": {"launchId": "bench-map"}}]}
    )
    launch = {
        "launchId": "bench-map",
        "project": "bench",
        "domain": "development",
        "workflow": "wf",
        "task": "t",
        "container": {"image": "busybox:1.36"},
        "retries": 0,
        "maxConcurrency": cap,
    }
    with Sandbox.started(config, scenario=scenario, visibility_timeout_seconds=30) as sandbox:
        # Uploaded once by the client (a million inputs do not fit in a 256 KB event): lines and index.
        lines, index = io.BytesIO(), io.BytesIO()
        write_jsonl(({"i": i} for i in range(args.size)), lines, index)
        # Under the launch's own inputs prefix (its team: the sandbox client's).
        data = LaunchData(sandbox.client.team, launch["project"], launch["domain"], launch["launchId"])
        bucket, key = sandbox.deployment.bucket, f"{data.prefix(INPUTS)}uploaded.jsonl"
        s3 = sandbox.session.client("s3")
        s3.put_object(Bucket=bucket, Key=key, Body=lines.getvalue())
        s3.put_object(Bucket=bucket, Key=index_uri(key), Body=index.getvalue())
        launch["inputsLocation"] = {
            "uri": f"s3://{bucket}/{key}",
            "size": args.size,
            "index": f"s3://{bucket}/{index_uri(key)}",
        }
        started = time.monotonic()
        sandbox.put_launch(launch)
        summary = None
        last_print = 0.0
        while time.monotonic() - started < args.timeout:
            summary = sandbox.client.summary("bench-map")
            now = time.monotonic() - started
            if summary.final:
                break
            if now - last_print >= 30:
                last_print = now
                print(f"  [{now:7.0f} s] {summary.phase}: {json.dumps(summary.counts)}", flush=True)
            time.sleep(POLL_SECONDS)
        elapsed = time.monotonic() - started
        if summary and summary.problems:
            print("problems              :", json.dumps(summary.problems))
        events = list(sandbox.executor.emitted)
        jobs = {e["detail"]["jobId"].split(":")[0] for e in events}
        # The assembled document itself (the status document would read every child's item too).
        assembled = read_outputs(s3, summary.outputs_uri) if summary and summary.outputs_uri else None
        outputs = (assembled or {}).get("echo")
        in_order = outputs == [{"i": i} for i in range(args.size)]
        print(f"map task              : {args.size} inputs, chunks of {args.chunk_size}, maxConcurrency {cap}")
        print(f"phase                 : {summary.phase if summary else 'none'} after {elapsed:.0f} s")
        print(f"counts                : {json.dumps(summary.counts if summary else {})}")
        print(f"Batch events          : {len(events)} = {len(events) / elapsed:.0f} per second through the status path")
        print(f"chunk jobs            : {len(jobs)}")
        print(f"most running at once  : {peak_running(events)} (cap {cap})")
        order = "every child its own, in global index order" if in_order else "WRONG or missing"
        print(f"outputs               : {order}")
        # Everything (emulator, executor, both handlers, this client) is one process here.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"sandbox peak memory   : {peak_mb:.0f} MB (whole process)")
        return 0 if summary and summary.phase == "succeeded" and in_order and peak_running(events) <= cap else 1


if __name__ == "__main__":
    sys.exit(main())
