"""The metrics port prints nothing when POWERTOOLS_METRICS_DISABLED is set (the sandbox sets it)."""

from __future__ import annotations

from batchlane.common.observability import PowertoolsCounter


def test_dimensioned_counts_respect_metrics_disabled(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "batchlane")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    PowertoolsCounter().count("JobSubmitted", queue="q")
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    PowertoolsCounter().count("JobSubmitted", queue="q")
    assert '"JobSubmitted"' in capsys.readouterr().out
