"""The aggregator against moto with a batch of good events and events with absurd values: the good
ones are folded, the bad ones acknowledged (never retried into the DLQ), logged and counted."""

from __future__ import annotations

import copy

from batchlane.sandbox.simulate import ChildPlan, launch_events
from batchlane.status.events import MAX_TEXT
from tests.integration.test_aggregator import agg, children, deliver, launched, metric, summary  # noqa: F401 - fixtures


def test_absurd_values_do_not_fail_their_batchmates(world, launched, deliver, capsys, caplog):
    record = launched("bad-1", inputs=[{"i": 0}, {"i": 1}])
    job = record["jobId"]
    good = launch_events(job, [ChildPlan(), ChildPlan()])
    finals = {e["detail"]["jobId"]: e for e in good if e["detail"]["status"] == "SUCCEEDED"}

    superscript = copy.deepcopy(finals[f"{job}:1"])  # "abc:²": int() raised and failed the whole batch
    superscript["detail"]["jobId"] = f"{job}:²"
    del superscript["detail"]["arrayProperties"]
    huge_exit = copy.deepcopy(finals[f"{job}:1"])
    huge_exit["detail"]["attempts"][0]["container"]["exitCode"] = 10**40
    huge_time = copy.deepcopy(finals[f"{job}:0"])
    huge_time["detail"]["attempts"][0]["startedAt"] = 10**40
    long_reason = copy.deepcopy(finals[f"{job}:0"])  # readable: folded with its reason cut
    long_reason["detail"]["statusReason"] = "Essential container in task exited " + "x" * 300_000

    capsys.readouterr()
    response = deliver(*good, superscript, huge_exit, huge_time, long_reason)

    assert response == {"batchItemFailures": []}
    s = summary(world, "bad-1")
    assert s["phase"] == "succeeded" and s["n_SUCCEEDED"] == 2
    state = children(world, "bad-1")
    assert state[1].attempts[0].exit_code == 0 and state[0].attempts[0].started_at < 10**13
    assert len(state[0].status_reason) == MAX_TEXT and state[0].status_reason.startswith("Essential container")
    out = capsys.readouterr().out
    assert metric(out, "StatusEventMalformed") == 3
    assert metric(out, "StatusEventProcessed") == len(good) + 1
    problems = [r.problem for r in caplog.records if r.getMessage().startswith("skipping an event")]
    assert len(problems) == 3
    assert sum("jobId" in p for p in problems) == 1 and sum("exitCode" in p for p in problems) == 1
    assert sum("startedAt" in p for p in problems) == 1 and all(len(p) <= 500 for p in problems)
