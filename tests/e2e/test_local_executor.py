"""The local executor: jobs' commands run as processes on this machine against the sandbox.

The example job (``sandbox/examples/jobs/word_stats.py``) as a map task with one genuine failure,
the environment Batch gives a container, a timeout killing a process, and an abort stopping the
running ones."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import uuid
import zlib

import pytest
import yaml

import waiting
from batchlane.deployment.config import load_config
from batchlane.sandbox.demo import EXAMPLES
from batchlane.sandbox.local import TIMEOUT_REASON
from batchlane.sandbox.local_execution import LocalExecution
from batchlane.sandbox.provision import status_path_available
from batchlane.sandbox.scenario import load_scenario, parse_scenario
from tests.e2e.conftest import task

pytestmark = pytest.mark.skipif(not status_path_available(), reason="no status path in this checkout")

WORD_STATS = load_scenario(EXAMPLES / "word-stats.yaml")
WORD_STATS_LAUNCH = yaml.safe_load((EXAMPLES / "word-stats-launch.yaml").read_text())
SLEEPER = "e2e/sleeper:1"  # prints a line, then sleeps for a minute unless stopped
ENV_PRINTER = "e2e/env:1"  # prints the variables a job gets, as JSON
NAP = "e2e/nap:1"  # naps a little longer for child 0 than for child 1, then exits 0
VOLUME_WRITER = "e2e/volume:1"  # writes its index to the mounted volume; prints its nofile limits
SECRET_READER = "e2e/secret:1"  # prints a digest of its DB_PASSWORD, never the value
PRINTED = (
    "AWS_BATCH_JOB_ID",
    "AWS_BATCH_JOB_ATTEMPT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_CE_NAME",
    "AWS_BATCH_JQ_NAME",
    "BATCHLANE_INPUTS_URI",
    "BATCHLANE_OUTPUTS_URI",
    "BATCHLANE_LAUNCH_ID",
    "AWS_ENDPOINT_URL",
    "EXECUTIONS_TABLE",
)
SCENARIO = parse_scenario(
    {
        "execute": "local",
        "imageMap": {
            **{k: list(v) for k, v in WORD_STATS.image_map.items()},
            SLEEPER: ["{python}", "-c", "import time; print('sleeping', flush=True); time.sleep(60)"],
            SECRET_READER: [
                "{python}",
                "-c",
                "import hashlib, os; print('digest', hashlib.sha256(os.environ['DB_PASSWORD'].encode()).hexdigest())",
            ],
            NAP: [
                "{python}",
                "-c",
                "import os, time; time.sleep(1.5 - 1.4 * int(os.environ.get('AWS_BATCH_JOB_ARRAY_INDEX', 0)))",
            ],
            VOLUME_WRITER: [
                "{python}",
                "-c",
                "import os, resource; i = os.environ['AWS_BATCH_JOB_ARRAY_INDEX'];"
                " open(f'ref/child-{i}', 'w').write(i); print('nofile', *resource.getrlimit(resource.RLIMIT_NOFILE))",
            ],
            ENV_PRINTER: [
                "{python}",
                "-c",
                f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {list(PRINTED)!r}}}))",
            ],
        },
        "launches": [
            {"detail": {"launchId": "e2e-timeout"}, "attemptDurationSeconds": 1.5},
            {"detail": {"launchId": "e2e-abort-local"}},
        ],
    }
)
QUEUE_VCPUS = 2  # the default queue's compute here (spot + ondemand, 1 vCPU each): 2 one-vCPU jobs at once
PROCESSES = 4  # more than the queue allows: the vCPUs are the limit


def small_compute(config):
    """The deployment with the default queue's compute environments shrunk to 1 vCPU each."""
    return config.model_copy(
        update={
            "compute_environments": [
                ce.model_copy(update={"max_vcpus": 1}) if ce.name in ("spot", "ondemand") else ce
                for ce in config.compute_environments
            ]
        }
    )


@pytest.fixture(scope="module")
def sandbox():
    from batchlane.sandbox.core import Sandbox

    with Sandbox.started(
        small_compute(load_config("dev")),
        scenario=SCENARIO,
        visibility_timeout_seconds=1,
        execution=LocalExecution(max_processes=PROCESSES, stop_grace_seconds=2),
    ) as sandbox:
        yield sandbox


def wait_for(predicate, timeout=30.0, poll=0.1):  # processes take longer than simulated jobs
    return waiting.wait_for(predicate, timeout, poll)


def finished(sandbox, launch_id: str, timeout: float = 120.0) -> dict:  # processes: slow on a loaded machine
    return wait_for(
        lambda: (s := sandbox.status(launch_id)) and s.get("storedPhase") in ("succeeded", "failed", "aborted") and s,
        timeout,
    )


def log_lines(sandbox, stream: str) -> list[str]:
    logs = sandbox.session.client("logs")
    return [
        e["message"]
        for e in logs.get_log_events(logGroupName=sandbox.config.job_log_group, logStreamName=stream)["events"]
    ]


def word_stats_module():
    """The example job's own code, to say what its outputs must be."""
    spec = importlib.util.spec_from_file_location("word_stats", EXAMPLES / "jobs" / "word_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def word_stats(sandbox) -> dict:
    """The example map task, launched once and run to its end: two tests read it."""
    sandbox.put_launch(WORD_STATS_LAUNCH)
    return finished(sandbox, "demo-word-stats")


def test_the_example_map_task_outputs_are_computed_by_the_script(sandbox, word_stats):
    status = word_stats
    assert status["phase"] == "succeeded" and status["counts"] == {**status["counts"], "SUCCEEDED": 4, "FAILED": 1}
    statistics = word_stats_module().statistics
    expected = [statistics(doc) if "text" in doc else None for doc in WORD_STATS_LAUNCH["inputs"]]
    assert status["outputs"] == {
        key: [e and e[key] for e in expected] for key in ("words", "distinct", "top", "longest")
    }
    assert status["outputs"]["words"][0] == 12  # "The quick brown fox ... The dog sleeps."
    assert sandbox.executor.peak_running == QUEUE_VCPUS  # maxVcpus / the job's vCPU, not the process limit


def test_a_child_that_exits_non_zero_is_retried_and_its_logs_show_its_stderr(sandbox, word_stats):
    status = word_stats
    child = next(c for c in status["children"] if c["index"] == 3)
    assert child["status"] == "FAILED" and child["attempts"] == 2 and len(child["logs"]) == 2
    job = sandbox.executor.job_of_launch("demo-word-stats")
    [final] = [e["detail"] for t, i, e in job.history if i == 3 and e["detail"]["status"] == "FAILED"]
    assert [a["container"]["exitCode"] for a in final["attempts"]] == [2, 2]
    assert final["statusReason"] == "Essential container in task exited"
    for attempt, record in enumerate(final["attempts"], start=1):
        lines = log_lines(sandbox, record["container"]["logStreamName"])
        assert f"word_stats: child 3, attempt {attempt}, job {job.job_id}:3" in lines
        assert any(line.startswith("word_stats: bad input at line 3 of s3://") and '"txt"' in line for line in lines)
        assert record["stoppedAt"] >= record["startedAt"] > 0


def test_the_job_gets_the_environment_batch_gives_it(sandbox):
    sandbox.put_launch(task("e2e-env", container={"image": ENV_PRINTER}, inputs=[{"i": 0}, {"i": 1}]))
    status = finished(sandbox, "e2e-env")
    assert status["phase"] == "succeeded"
    job = sandbox.executor.job_of_launch("e2e-env")
    stream = next(
        e["detail"]["container"]["logStreamName"]
        for t, i, e in job.history
        if i == 1 and e["detail"]["status"] == "RUNNING"
    )
    printed = json.loads(next(line for line in log_lines(sandbox, stream) if line.startswith("{")))
    record = sandbox.launch_record("e2e-env")
    assert printed == {
        "AWS_BATCH_JOB_ID": f"{job.job_id}:1",
        "AWS_BATCH_JOB_ATTEMPT": "1",
        "AWS_BATCH_JOB_ARRAY_INDEX": "1",
        "AWS_BATCH_CE_NAME": "batchlane-dev-spot",
        "AWS_BATCH_JQ_NAME": record.queue,
        "BATCHLANE_INPUTS_URI": record.inputs_uri,
        "BATCHLANE_OUTPUTS_URI": record.outputs_uri,
        "BATCHLANE_LAUNCH_ID": "e2e-env",
        "AWS_ENDPOINT_URL": sandbox.endpoint,
        "EXECUTIONS_TABLE": None,  # the sandbox's own (the handlers') environment does not leak into a job
    }


def test_a_timeout_kills_the_process_and_is_not_retried(sandbox):
    sandbox.put_launch(task("e2e-timeout", container={"image": SLEEPER}, retries=2))
    status = finished(sandbox, "e2e-timeout", timeout=20)
    assert status["phase"] == "failed"
    [child] = status["children"]
    assert child["attempts"] == 1  # Batch does not retry an attempt that timed out
    job = sandbox.executor.job_of_launch("e2e-timeout")
    final = next(e["detail"] for t, i, e in job.history if e["detail"]["status"] == "FAILED")
    [attempt] = final["attempts"]
    assert final["statusReason"] == attempt["statusReason"] == TIMEOUT_REASON
    assert attempt["container"]["exitCode"] == 143  # SIGTERM: 128 + 15
    assert 1400 <= attempt["stoppedAt"] - attempt["startedAt"] < 10_000
    assert log_lines(sandbox, attempt["container"]["logStreamName"]) == ["sleeping"]
    assert sandbox.executor.processes("e2e-timeout") == []


def test_an_abort_stops_the_running_processes(sandbox):
    sandbox.put_launch(task("e2e-abort-local", container={"image": SLEEPER}, inputs=[{"i": i} for i in range(3)]))
    running = wait_for(lambda: len(p := sandbox.executor.processes("e2e-abort-local")) == QUEUE_VCPUS and p, timeout=20)
    wait_for(lambda: sandbox.status("e2e-abort-local") and sandbox.status("e2e-abort-local")["counts"].get("RUNNING"))
    sandbox.abort("e2e-abort-local", "e2e: stop")
    status = finished(sandbox, "e2e-abort-local", timeout=20)
    assert status["phase"] == "aborted"
    wait_for(lambda: all(p.poll() is not None for p in running), timeout=10)
    assert {p.returncode for p in running} == {-15}  # stopped by SIGTERM, as Batch stops a container
    for p in running:
        with pytest.raises(ProcessLookupError):
            os.kill(p.pid, 0)
    assert sandbox.executor.processes("e2e-abort-local") == []
    # The stopped children's FAILED events follow the aborted phase (as at Batch).
    wait_for(lambda: [c["status"] for c in sandbox.status("e2e-abort-local")["children"]] == ["FAILED"] * 3)


def test_a_job_reads_a_secret_whose_value_appears_in_no_event_record_or_log(sandbox):
    value = f"pw-{uuid.uuid4().hex}"
    name = "/batchlane-dev/genomics/db-password"  # config/dev.yaml allows /batchlane-dev/genomics/* to genomics
    sandbox.session.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString")
    secrets = {"DB_PASSWORD": f"ssm:{name}"}
    sandbox.put_launch(task("e2e-secret", project="genomics", container={"image": SECRET_READER, "secrets": secrets}))
    status = finished(sandbox, "e2e-secret")
    assert status["phase"] == "succeeded"
    job = sandbox.executor.job_of_launch("e2e-secret")
    assert job.definition["containerProperties"]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": name}]
    role = job.definition["containerProperties"]["executionRoleArn"]
    assert role.endswith("/batchlane-dev-us-east-1-execution-genomics")
    streams = {e["detail"]["container"].get("logStreamName") for _, _, e in job.history} - {None}
    lines = [line for stream in streams for line in log_lines(sandbox, stream)]
    assert f"digest {hashlib.sha256(value.encode()).hexdigest()}" in lines  # the container had the value
    table = sandbox.config.table_name("executions")
    items = sandbox.session.client("dynamodb").scan(TableName=table)["Items"]
    seen = json.dumps([e for _, _, e in job.history]) + _readable(items) + "\n".join(lines) + json.dumps(status)
    assert value not in seen


def test_a_map_writes_to_a_mounted_volume_with_its_ulimits(sandbox):
    container = {
        "image": VOLUME_WRITER,
        "mounts": [{"volume": "scratch", "path": "/ref"}],  # the sandbox: ./ref in the job's working directory
        "ulimits": {"nofile": {"soft": 256, "hard": 512}},
    }
    sandbox.put_launch(task("e2e-volume", project="genomics", container=container, inputs=[{"i": 0}, {"i": 1}]))
    status = finished(sandbox, "e2e-volume")
    assert status["phase"] == "succeeded"
    volume = os.path.join(sandbox.executor.volumes, "scratch")
    assert sorted(os.listdir(volume)) == ["child-0", "child-1"]  # one volume, both children wrote to it
    job = sandbox.executor.job_of_launch("e2e-volume")
    streams = {e["detail"]["container"].get("logStreamName") for _, _, e in job.history} - {None}
    assert {line for s in streams for line in log_lines(sandbox, s)} == {"nofile 256 512"}


def test_map_b_after_map_a_n_to_n_starts_child_i_after_as_child_i(sandbox):
    nap = {"image": NAP}
    sandbox.put_launch(task("e2e-map-a", container=nap, inputs=[{"i": 0}, {"i": 1}]))
    wait_for(lambda: sandbox.launch_record("e2e-map-a") and sandbox.launch_record("e2e-map-a").job_id)
    after = [{"launchId": "e2e-map-a", "type": "N_TO_N"}]
    sandbox.put_launch(task("e2e-map-b", container=nap, inputs=[{"i": 0}, {"i": 1}], after=after))
    assert finished(sandbox, "e2e-map-b")["phase"] == "succeeded"

    def ran(launch_id):  # child -> (started, stopped) of its one attempt, as Batch's events say
        job = sandbox.executor.job_of_launch(launch_id)
        ends = [e["detail"] for _, i, e in job.history if i is not None and e["detail"]["status"] == "SUCCEEDED"]
        return {d["arrayProperties"]["index"]: (d["startedAt"], d["stoppedAt"]) for d in ends}

    a, b = ran("e2e-map-a"), ran("e2e-map-b")
    assert all(b[i][0] >= a[i][1] for i in (0, 1)), (a, b)  # child i starts once A's child i succeeded
    assert b[1][0] < a[0][1]  # and not once all of A did: child 1 of A ends first


def _readable(items: list[dict]) -> str:
    """The table's items as text, the children's compressed ranges (batchlane.status.ranges) inflated."""
    return "\n".join(
        zlib.decompress(value["B"]).decode() if "B" in value else json.dumps(value)
        for item in items
        for value in item.values()
    )
