"""``batchlane sandbox demo`` runs to the end with every step behaving (exit code 0)."""

from __future__ import annotations

import io
import time

from batchlane.sandbox.demo import run_demo


def test_the_demo_runs_to_the_end(tmp_path):
    out = io.StringIO()
    t0 = time.monotonic()
    code = run_demo(out, log_file=str(tmp_path / "demo.log"))
    text = out.getvalue()
    assert code == 0, text[-3000:]
    assert time.monotonic() - t0 < 60
    for needle in (
        "1. Start the sandbox",
        "routes import flyteadmin-queues.yaml",
        "SUCCEEDED 7  FAILED 1",
        "AWS Batch #2-0 (PhaseRetryableFailure)",
        "on queue batchlane-dev-critical",
        "Rejected demo-bad",
        "Rejected demo-intruder",
        "may not launch into project",
        "word_stats: bad input at line 3",
        "$ batchlane launches --source sandbox.demo",
        "Launches of team sandbox, newest first:",
        "5 launches, newest first, with their phases",
        "all 11 steps behaved",
    ):
        assert needle in text, needle
