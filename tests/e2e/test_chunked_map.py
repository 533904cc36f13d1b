"""A map task bigger than one Batch array job, with a concurrency cap, through the sandbox: chunked,
aggregated as one launch, the cap held at every moment, outputs in global index order."""

from __future__ import annotations

import json

import pytest

from batchlane.cli.common import CLI_SOURCE
from batchlane.cli.main import main
from batchlane.common.tenancy import PARTS, LaunchData
from batchlane.deployment.config import load_config
from batchlane.sandbox.core import Sandbox
from batchlane.sandbox.executor import peak_running
from batchlane.sandbox.scenario import parse_scenario

SIZE, CAP, MAX_ARRAY = 22, 6, 4  # chunks of 2, 3 in flight (batchlane.common.chunks)

SCENARIO = parse_scenario(
    {
        "seed": 5,
        "defaults": {"runSeconds": 0.3},
        "launches": [
            {"detail": {"launchId": "e2e-chunked"}, "children": {"13": {"failures": [{"attempt": 1, "exitCode": 2}]}}},
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    config = load_config("dev")
    config = config.model_copy(update={"limits": config.limits.model_copy(update={"max_array_size": MAX_ARRAY})})
    with Sandbox.started(config, scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
        yield sandbox


def test_a_capped_map_bigger_than_an_array_job_runs_chunked_as_one_launch(sandbox, capfd, tmp_path):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(SIZE)))
    code = main(
        [
            "launch",
            "--launch-id",
            "e2e-chunked",
            "--project",
            "e2e",
            "--domain",
            "development",
            "--workflow",
            "wf",
            "--task",
            "t",
            "--image",
            "busybox:1.36",
            "--inputs-file",
            str(inputs),
            "--retries",
            "1",
            "--max-concurrency",
            str(CAP),
            "--wait",
            "--wait-timeout",
            "30",
            "--json",
        ]
    )
    out, err = capfd.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["phase"] == "succeeded" and doc["size"] == SIZE
    assert doc["counts"]["SUCCEEDED"] == SIZE and doc.get("waiting", 0) == 0
    jobs = {e["detail"]["jobId"].split(":")[0] for e in sandbox.executor.emitted}
    assert len(jobs) == SIZE // 2  # eleven chunk jobs of two children, one launch
    assert peak_running(list(sandbox.executor.emitted)) <= CAP
    outputs = doc["outputs"]["echo"]
    assert outputs == [{"i": i} for i in range(SIZE)]  # each child computed its own element, in order
    # Each chunk's outputs were kept as a part when its array job succeeded, while the launch ran on
    # (the finish merged them; it read the children of the chunk that ended the launch itself).
    s3 = sandbox.session.client("s3")
    bucket = doc["outputsUri"][5:].split("/", 1)[0]
    data = LaunchData(sandbox.config.team_of_source(CLI_SOURCE), "e2e", "development", "e2e-chunked")
    parts = s3.list_objects_v2(Bucket=bucket, Prefix=data.prefix(PARTS)).get("Contents", [])
    kept = {int(p["Key"].rsplit("/", 1)[1]) for p in parts}
    assert set(range(SIZE // 2 - 2)) <= kept <= set(range(SIZE // 2))  # the last chunks may end together
