"""`batchlane logs` in-process: the status record written by the real launcher and aggregator (moto),
the log lines in moto's CloudWatch Logs where Batch's events say they are."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import boto3
import pytest

from batchlane.cli.main import main
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events, log_stream
from tests.cli.test_cli_status import deliver, launched, task  # noqa: F401 - fixtures
from tests.integration.conftest import launch, world  # noqa: F401 - fixtures

GROUP = "/batchlane/jobs"
FAIL = AttemptPlan("exit", 2)
NOW = int(time.time() * 1000) // 1000 * 1000  # CloudWatch refuses events older than 14 days


def write_lines(stream: str, *lines: str, at: int = NOW) -> None:
    logs = boto3.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=GROUP)
    if not logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    events = [{"timestamp": at + k, "message": line} for k, line in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


@pytest.fixture
def failed_map(launched, deliver):
    """A map of 3 whose child 1 failed twice (exit code 2), each attempt with its own stream."""
    record = launched("lg-1", inputs=[{"i": i} for i in range(3)], retries=1)
    job = record["jobId"]
    plans = [ChildPlan(), ChildPlan(attempts=(FAIL, FAIL)), ChildPlan()]
    write_lines(log_stream(job, 1, 0), "first try", "Traceback: KeyError 'x'")
    write_lines(log_stream(job, 1, 1), "second try", "ValueError: bad input")
    assert deliver(*launch_events(job, plans, log_group=GROUP)) == {"batchItemFailures": []}
    return job


def test_logs_of_a_failed_child_print_any_attempt_and_refusals_are_one_line(cli, failed_map):
    result = cli("logs", "lg-1", "--child", "1")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["second try", "ValueError: bad input"]

    first = cli("logs", "lg-1", "--child", "1", "--attempt", "0", "--timestamps")
    second = datetime.fromtimestamp(NOW / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert first.code == 0 and first.out.splitlines() == [
        f"{second}.000Z first try",
        f"{second}.001Z Traceback: KeyError 'x'",
    ]

    doc = json.loads(cli("logs", "lg-1", "--child", "1", "--json").out)
    assert doc["logGroup"] == GROUP and doc["logStream"] == log_stream(failed_map, 1, 1)
    assert doc["attempt"] == 1 and [e["message"] for e in doc["events"]] == ["second try", "ValueError: bad input"]

    status = cli("status", "lg-1", "--child", "1")  # a failed child: the last lines of its log too
    assert status.code == 0 and status.out.endswith(
        "  last lines of its log (batchlane logs lg-1 --child 1):\n    | second try\n    | ValueError: bad input\n"
        + status.out.splitlines()[-1]
        + "\n"
    )
    detail = json.loads(cli("status", "lg-1", "--child", "1", "--json").out)["child"]
    assert detail["logTail"] == ["second try", "ValueError: bad input"]
    assert detail["attemptDetails"][0]["log"]["logStream"] == log_stream(failed_map, 1, 0)
    assert "logTail" not in json.loads(cli("status", "lg-1", "--child", "0", "--json").out)["child"]

    page = failed_map_page(cli)
    assert "<title>batchlane lg-1: failed</title>" in page and page.count('class="c"') == 3
    assert "ValueError: bad input" in page  # the failed child's last log lines

    unknown = cli("logs", "nope")
    assert unknown.code == 1 and "no launch 'nope'" in unknown.err
    beyond = cli("logs", "lg-1", "--child", "3")
    assert beyond.code == 2 and "has 3 children (indexes 0-2)" in beyond.err
    no_attempt = cli("logs", "lg-1", "--child", "1", "--attempt", "5")
    assert no_attempt.code == 1 and "attempt 5" in no_attempt.err and no_attempt.err.count("\n") == 1


def test_follow_prints_new_lines_until_the_child_ends(capsys, launched, deliver):
    record = launched("lg-2", inputs=[{"i": 0}, {"i": 1}])
    job = record["jobId"]
    events = launch_events(job, [ChildPlan(), ChildPlan()], log_group=GROUP)
    child0 = [e for e in events if e["detail"]["jobId"] == f"{job}:0"]
    running = [e for e in child0 if e["detail"]["status"] != "SUCCEEDED"]
    stream = log_stream(job, 0, 0)
    write_lines(stream, "starting")
    assert deliver(*running) == {"batchItemFailures": []}

    capsys.readouterr()
    codes: list[int] = []
    follower = threading.Thread(
        target=lambda: codes.append(main(["logs", "lg-2", "--follow", "--poll", "0.05"])), daemon=True
    )
    follower.start()
    follower.join(0.3)
    assert follower.is_alive(), "it stopped while the child was running"
    write_lines(stream, "halfway", "done", at=NOW + 1000)
    assert deliver(*[e for e in child0 if e["detail"]["status"] == "SUCCEEDED"]) == {"batchItemFailures": []}
    follower.join(10)
    assert not follower.is_alive() and codes == [0]
    captured = capsys.readouterr()
    printed = [line for line in captured.out.splitlines() if not line.startswith('{"_aws"')]  # handler metrics
    assert printed == ["starting", "halfway", "done"]
    assert f"==> child 0, attempt 0: {GROUP} {stream}" in captured.err


def failed_map_page(cli) -> str:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "lg-1.html"
    result = cli("status", "lg-1", "--html", path)
    assert result.code == 0 and result.out.startswith(f"Wrote {path}: launch lg-1, 3 children, 1 log tail(s)")
    return path.read_text()
