"""Launch benchmark: AWS calls per launch (cold and warm) and the launcher's import time.

Run by hand: ``make bench`` (or ``.venv/bin/python bench/launch_bench.py``). Everything runs
against moto in-process; every AWS call any client makes is counted with a botocore
``before-call`` event hook registered on each client as it is created.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_NAMESPACE": "batchlane",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
)

import botocore.session  # noqa: E402 - after the dummy credentials and Powertools' environment
from moto import mock_aws  # noqa: E402 - after the dummy credentials and Powertools' environment

CALLS: Counter = Counter()
_create_client = botocore.session.Session.create_client


def _counting_create_client(self, *args, **kwargs):
    client = _create_client(self, *args, **kwargs)
    service = client.meta.service_model.service_name
    client.meta.events.register("before-call", lambda model, **_: CALLS.update([f"{service}:{model.name}"]))
    return client


botocore.session.Session.create_client = _counting_create_client


def launch_event(launch_id: str, size: int) -> dict:
    from integration.conftest import eventbridge_event, sqs_event

    detail = {
        "launchId": launch_id,
        "project": "p",
        "domain": "d",
        "workflow": "w",
        "task": "bench.task",
        "container": {"image": "busybox:1.36", "command": ["run"]},
    }
    if size > 1:
        detail["inputs"] = [{"i": i} for i in range(size)]
    return sqs_event(json.dumps(eventbridge_event(detail)))


def measure_calls(launches: int, size: int) -> None:
    from integration.conftest import LambdaContext

    from batchlane.common import aws
    from batchlane.deployment.config import load_config
    from batchlane.sandbox.provision import provision

    with mock_aws(config={"batch": {"use_docker": False}}):
        aws.reset_clients()
        deployment = provision(load_config("dev"))
        os.environ.update(deployment.function_environment())
        from batchlane.launch import handler

        handler.runtime.cache_clear()
        events = [launch_event(f"warm-{i}", size) for i in range(launches)]
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines
            CALLS.clear()
            handler.handler(launch_event("cold", size), LambdaContext())
            cold = dict(CALLS)
            CALLS.clear()
            started = time.perf_counter()
            for event in events:
                handler.handler(event, LambdaContext())
            elapsed = time.perf_counter() - started
        warm = {k: v / launches for k, v in sorted(CALLS.items())}
    print(f"\nmap task of {size} inputs" if size > 1 else "\nsingle task")
    print(f"  cold launch: {sum(cold.values())} AWS calls: " + ", ".join(f"{k} {v}" for k, v in sorted(cold.items())))
    print(
        f"  warm launch (mean of {launches}): {sum(warm.values()):.2f} AWS calls: "
        + ", ".join(f"{k} {v:g}" for k, v in warm.items())
    )
    writes = sum(v for k, v in warm.items() if k.startswith("s3:Put"))
    reads = sum(v for k, v in warm.items() if k in ("dynamodb:Query", "ssm:GetParametersByPath"))
    print(
        f"  warm: SubmitJob {warm.get('batch:SubmitJob', 0):g}, S3 writes {writes:g}, "
        f"routing/settings reads {reads:g}, RegisterJobDefinition {warm.get('batch:RegisterJobDefinition', 0):g}"
    )
    print(f"  handler time per warm launch against moto: {1000 * elapsed / launches:.1f} ms")


def measure_import(runs: int = 7) -> None:
    code = "import time; t = time.perf_counter(); import batchlane.launch.handler; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # warm the .pyc cache
    times = [
        float(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    print(
        f"\nlauncher handler import: median {1000 * statistics.median(times):.0f} ms, "
        f"min {1000 * min(times):.0f} ms, max {1000 * max(times):.0f} ms over {runs} fresh interpreters"
    )


if __name__ == "__main__":
    measure_calls(launches=50, size=1)
    measure_calls(launches=20, size=1000)
    measure_import()
