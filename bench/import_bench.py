"""Cold start of every Lambda function (batchlane.deployment.contract.FUNCTIONS, what stacks/
deploys): the handler module's import, and the import plus what the first invocation builds
before its first AWS call (the service and its boto3 clients, Powertools' Tracer with the X-Ray
SDK), each in N fresh interpreters, side by side with a bare ``import boto3`` (the floor: every
function needs boto3 by its first AWS call). The cases run interleaved so that the machine's
load falls on all of them alike; the ratio to the floor is the figure that travels.

The environment is a Lambda's: the function's variables from the dev configuration, the
Powertools ones, ``LAMBDA_TASK_ROOT`` (so Powertools traces, as in Lambda) and dummy credentials;
nothing calls AWS. Run by hand:

    .venv/bin/python bench/import_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT / "toolkit")]

from batchlane.deployment.config import StateNames, load_config  # noqa: E402 - after the sys.path set-up: runs from a checkout
from batchlane.deployment.contract import FUNCTIONS, function_environment  # noqa: E402 - after the sys.path set-up: runs from a checkout

BUDGET_MS = 250  # issue 14: launcher and aggregator handler import, median
# What a function's first invocation builds before any AWS call, by its handler module's name.
SETUP = {"handler": "runtime", "reconcile": "reconciler"}

TIMED = """
import time, json, sys
t0 = time.perf_counter()
{statement}
t1 = time.perf_counter()
loaded = {{"xray": "aws_xray_sdk.core" in sys.modules, "boto3": "boto3" in sys.modules}}
{setup}
t2 = time.perf_counter()
print(json.dumps({{"import": (t1 - t0) * 1000, "first": (t2 - t0) * 1000, **loaded}}))
"""


def lambda_environment(function: str) -> dict[str, str]:
    names = StateNames(
        routing_table="bench-routing",
        executions_table="bench-executions",
        data_bucket="bench-data",
        event_bus="bench-bus",
    )
    variables = function_environment(load_config("dev"), function, names).variables()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {
        **base,
        **variables,
        "PYTHONPATH": str(ROOT / "lambdas"),
        "LAMBDA_TASK_ROOT": str(ROOT / "lambdas"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "BATCHLANE_DEPLOYMENT": "bench",
    }


def cases() -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, import statement, first-invocation setup, environment) per function, the floor first."""
    found = [("import boto3", "import boto3", "pass", lambda_environment("launcher"))]
    for function, shape in FUNCTIONS.items():
        module, entry = shape.handler.rsplit(".", 1)
        setup = (
            f"import {module} as h; h.{SETUP[entry]}(); "
            'from batchlane.common.observability import tracer; getattr(tracer, "tracer", tracer)'
        )
        found.append((function, f"import {module}", setup, lambda_environment(function)))
    return found


def run_once(statement: str, setup: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", TIMED.format(statement=statement, setup=setup)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per case")
    args = parser.parse_args()
    todo = cases()
    samples: dict[str, list[dict]] = {name: [] for name, *_ in todo}
    for _ in range(args.runs):
        for name, statement, setup, env in todo:
            samples[name].append(run_once(statement, setup, env))
    floor = statistics.median(s["import"] for s in samples["import boto3"])
    print(f"cold start, {args.runs} fresh interpreters per case (ms; ratio: median / median of `import boto3`)")
    print(
        f"{'case':<14} {'import med':>10} {'p90':>7} {'ratio':>6}   {'+1st-call setup med':>19} {'p90':>7} {'ratio':>6}"
        "   boto3/X-Ray at import"
    )
    over = []
    for name, runs in samples.items():
        imports, firsts = [r["import"] for r in runs], [r["first"] for r in runs]
        med = statistics.median(imports)
        line = (
            f"{name:<14} {med:>10.0f} {p90(imports):>7.0f} {med / floor:>6.2f}   "
            f"{statistics.median(firsts):>19.0f} {p90(firsts):>7.0f} {statistics.median(firsts) / floor:>6.2f}"
        )
        if name != "import boto3":
            line += f"   {'yes' if runs[0]['boto3'] else 'no'}/{'yes' if runs[0]['xray'] else 'no'}"
            if name in ("launcher", "aggregator") and med >= BUDGET_MS:
                over.append(name)
        print(line)
    print(
        f"budget: launcher and aggregator import median < {BUDGET_MS} ms: "
        + ("met" if not over else f"NOT met by {', '.join(over)}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
