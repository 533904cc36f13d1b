"""``batchlane sandbox run SCENARIO --json``: from scratch to every launch's final status."""

from __future__ import annotations

import json
from pathlib import Path

from batchlane.cli.main import main

SCENARIO = Path(__file__).parent / "scenarios" / "map-with-retries.yaml"


def test_sandbox_run_prints_each_launch_final_status(capfd):
    code = main(["sandbox", "run", str(SCENARIO), "--json"])
    captured = capfd.readouterr()
    assert captured.out.strip(), (code, captured.err[-2000:])
    report = json.loads(captured.out)
    assert code == 0, report["problems"]
    results = {launch["name"]: launch for launch in report["launches"]}
    assert results["malformed"]["result"] == "rejected"
    assert {results["single"]["result"], results["map"]["result"]} <= {"succeeded", "events-emitted"}
    assert results["map"]["record"]["size"] == 5 and report["batchEventsEmitted"] > 20
    if report["statusPath"]:
        assert results["map"]["status"]["outputs"]["echo"] == [{"i": i} for i in range(5)]
