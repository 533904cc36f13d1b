"""What a cold start imports, and that tracing still happens (issue 14; figures: bench/import_bench.py).

Importing a function's handler module loads neither boto3, nor the X-Ray SDK, nor the event
models: they come with the first invocation. In Lambda the first invocation builds Powertools'
Tracer and the handler's subsegment reaches the X-Ray daemon; outside Lambda the SDK is never
imported. Each case runs in a fresh interpreter (the test process has imported everything).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from batchlane.deployment.contract import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
# Loaded only once a handler runs: boto3 and botocore's clients, the X-Ray SDK, the models of the
# events, the services and their adapters.
HEAVY = (
    "boto3",
    "botocore.client",
    "aws_xray_sdk.core",
    "aws_lambda_powertools.utilities.parser",
    "batchlane.status.events",
    "batchlane.launch.models",
    "batchlane.launch.service",
    "batchlane.status.service",
    "batchlane.status.reconcile",
    "batchlane.common.aws",
)
HANDLER_MODULES = sorted({shape.handler.rsplit(".", 1)[0] for shape in FUNCTIONS.values()})


def run_python(code: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "_X_AMZN", "AWS_XRAY"))}
    environ.update(PYTHONPATH=f"{ROOT / 'lambdas'}{os.pathsep}{ROOT}", **env)
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_importing_a_handler_loads_nothing_heavy(module):
    loaded = run_python(
        f"import json, sys, {module}\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    assert loaded == []


TRACED = """
import json, sys
from batchlane.common.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return {"answer": event["n"] * 2}

class Context:
    function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "f", 128, "arn", "r"

results = [handler({"n": n}, Context()) for n in (1, 2)]
print(json.dumps({"results": results, "xray": "aws_xray_sdk.core" in sys.modules}))
"""


def test_outside_lambda_a_handler_runs_untraced_without_the_xray_sdk():
    ran = run_python(TRACED, POWERTOOLS_TRACE_DISABLED="false")
    assert ran == {"results": [{"answer": 2}, {"answer": 4}], "xray": False}


def test_in_lambda_every_invocation_is_traced():
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    try:
        port = daemon.getsockname()[1]
        ran = run_python(
            TRACED,
            LAMBDA_TASK_ROOT=str(ROOT),
            POWERTOOLS_TRACE_DISABLED="false",
            POWERTOOLS_SERVICE_NAME="launcher",
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{port}",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        assert ran == {"results": [{"answer": 2}, {"answer": 4}], "xray": True}
        names = []
        while len(names) < 2:
            _, body = daemon.recv(65536).decode().split("\n", 1)  # the daemon's header line, then the document
            names.append(json.loads(body)["name"])
    finally:
        daemon.close()
    assert names == ["## handler", "## handler"]
