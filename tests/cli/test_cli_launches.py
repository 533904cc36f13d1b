"""`batchlane launches` in-process: launch items written by the real launcher and phases by the real
aggregator (moto, the sandbox's table with its launchesByTeam index)."""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime

import pytest

from batchlane.cli.launches import since_arg
from batchlane.sandbox.simulate import ChildPlan, launch_events
from tests.cli.test_cli_status import deliver, launched, task  # noqa: F401 - fixtures
from tests.integration.conftest import eventbridge_event, launch, world  # noqa: F401 - fixtures


def _ids(result) -> list[str]:
    assert result.code == 0, result.err
    return [row["launchId"] for row in json.loads(result.out)["launches"]]


@pytest.fixture
def launches(launched, deliver, launch):
    """Team platform's a-1 (project p1, succeeded), a-2 (p2, no event yet), a-3 (p1, no event yet), in
    that order; team genomics' g-1. One moto world for every check (its setup is most of the time)."""
    first = launched("a-1", project="p1")
    assert deliver(*launch_events(first["jobId"], [ChildPlan()], rng=random.Random(1))) == {"batchItemFailures": []}
    for launch_id, project in (("a-2", "p2"), ("a-3", "p1")):
        time.sleep(0.002)  # distinct requestedAt (ms)
        launched(launch_id, project=project)
    genomics = eventbridge_event(task("g-1", project="genomics")) | {"source": "genomics.pipelines"}
    assert launch(raw_bodies=(json.dumps(genomics),)) == {"batchItemFailures": []}


def test_launches_lists_a_teams_launches_newest_first_filtered_and_paged(cli, launches):
    doc = json.loads(cli("launches", "--json").out)
    assert doc["team"] == "platform" and doc["next"] is None
    assert [(r["launchId"], r["project"], r["phase"]) for r in doc["launches"]] == [
        ("a-3", "p1", "queued"),
        ("a-2", "p2", "queued"),
        ("a-1", "p1", "succeeded"),
    ]
    text = cli("launches")
    assert text.code == 0 and text.out.splitlines()[0] == "Launches of team platform, newest first:"
    assert [line.split()[2] for line in text.out.splitlines()[2:]] == ["a-3", "a-2", "a-1"]

    # filters (project, domain, phase: on the page read) and --since (the index's sort key)
    assert _ids(cli("launches", "--project", "p1", "--json")) == ["a-3", "a-1"]
    assert _ids(cli("launches", "--phase", "succeeded", "--json")) == ["a-1"]
    assert _ids(cli("launches", "--phase", "queued", "--project", "p1", "--json")) == ["a-3"]
    assert _ids(cli("launches", "--domain", "production", "--json")) == []
    assert _ids(cli("launches", "--since", "1h", "--json")) == ["a-3", "a-2", "a-1"]
    assert _ids(cli("launches", "--since", "2100-01-01", "--json")) == []
    assert "No launches of team platform match." in cli("launches", "--phase", "failed").out

    # pages under a filter: neither skipped nor repeated
    first = json.loads(cli("launches", "--project", "p1", "--limit", "1", "--json").out)
    assert [r["launchId"] for r in first["launches"]] == ["a-3"] and first["next"]
    second = json.loads(cli("launches", "--project", "p1", "--limit", "1", "--next", first["next"], "--json").out)
    assert [r["launchId"] for r in second["launches"]] == ["a-1"] and second["next"] is None
    text = cli("launches", "--project", "p1", "--limit", "1")
    assert text.out.splitlines()[-1] == f"more: batchlane launches --project p1 --next {first['next']}"

    # a team sees its own launches only, and cannot continue another team's listing
    assert _ids(cli("launches", "--source", "genomics.pipelines", "--json")) == ["g-1"]
    assert _ids(cli("launches", "--team", "genomics", "--json")) == ["g-1"]
    refused = cli("launches", "--team", "genomics", "--next", first["next"])
    assert refused.code == 2 and "another team's listing" in refused.err
    assert cli("launches", "--next", "garbage!").code == 2


def test_since_reads_times_ago_and_iso_times():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert since_arg("2h", now) == int(datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp() * 1000)
    assert since_arg("7d", now) == int(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp() * 1000)
    assert since_arg("2026-12-01T08:00:00+01:00") == int(datetime(2026, 12, 1, 7, 0, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(argparse.ArgumentTypeError):
        since_arg("yesterday")
