"""The load test, small: launches at once against a Batch that takes 2 SubmitJob per second (AWS:
50), so throttling really happens; none is lost, none is duplicated, none is dead-lettered."""

from __future__ import annotations

from batchlane.sandbox.load import run_load


def test_a_burst_against_a_throttling_batch_is_absorbed_exactly_once():
    report = run_load(12, batch_rate=2, batch_burst=1, timeout=60)
    assert not report.timed_out and report.submitted == 12
    assert report.lost == 0 and report.duplicates == 0 and report.dead_letters == 0
    assert report.throttles > 0  # the launcher tried faster than Batch took them, and retried
    # Batch's rate held: never more than its rate (plus the one saved token) in any second.
    assert report.peak_submits_per_second <= 2 + 1
    assert report.concurrency == 4  # the dev config's launcherMaxConcurrency, as the event source mapping runs it
