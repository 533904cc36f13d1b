"""``batchlane sandbox load``: its options (the run itself: tests/e2e/test_load.py)."""

from __future__ import annotations

from batchlane.cli.main import build_parser, main


def test_load_defaults_to_2000_launches_against_batch_s_own_50_per_second():
    args = build_parser().parse_args(["sandbox", "load"])
    assert (args.launches, args.batch_rate, args.submit_rate) == (2000, 50, None)


def test_load_refuses_a_count_or_rate_that_cannot_run_before_starting_anything(capsys):
    assert main(["sandbox", "load", "--launches", "0"]) == 2
    assert main(["sandbox", "load", "--batch-rate", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
