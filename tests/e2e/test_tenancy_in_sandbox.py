"""Tenancy end to end in the sandbox (docs/security.md): the dev deployment's teams, producers put
on the bus by PutEvents, the real launcher and aggregator, the simulated Batch."""

from __future__ import annotations

import time

import pytest

from batchlane.deployment.config import load_config
from batchlane.sandbox.core import Sandbox
from batchlane.sandbox.provision import status_path_available
from batchlane.sandbox.scenario import parse_scenario
from tests.e2e.conftest import task
from waiting import wait_for

pytestmark = pytest.mark.skipif(not status_path_available(), reason="no status path in this checkout")

GENOMICS = "genomics.pipelines"
SCENARIO = parse_scenario(
    {
        "seed": 3,
        "defaults": {"runSeconds": 0.2},
        "launches": [
            {"detail": {"launchId": "e2e-owned"}, "children": {"*": {"runSeconds": 30}}},
        ],
    }
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox.started(load_config("dev"), scenario=SCENARIO, visibility_timeout_seconds=1) as sandbox:
        yield sandbox


def answer(sandbox, launch_id, detail_type):
    return wait_for(
        lambda: next((a["detail"] for a in sandbox.answers_for(launch_id) if a["detail-type"] == detail_type), None)
    )


def test_a_team_launching_outside_its_projects_is_rejected(sandbox):
    sandbox.put_launch(task("e2e-intruder"), source=GENOMICS)  # project flytesnacks
    rejected = answer(sandbox, "e2e-intruder", "Task Launch Rejected")
    assert [p["field"] for p in rejected["problems"]] == ["source"]
    assert sandbox.launch_record("e2e-intruder") is None


def test_an_abort_from_another_team_is_rejected_and_the_job_keeps_running(sandbox):
    sandbox.put_launch(task("e2e-owned", project="genomics"), source=GENOMICS)
    answer(sandbox, "e2e-owned", "Task Launched")
    wait_for(lambda: (s := sandbox.status("e2e-owned", source=GENOMICS)) and s["counts"].get("RUNNING") == 1)
    # A launch id names a launch within its team: the sandbox team's "e2e-owned" does not exist,
    # and naming genomics' launch is refused to a team that is not an admin.
    sandbox.abort("e2e-owned", reason="not ours", source="sandbox.client")
    sandbox.abort("e2e-owned", reason="not ours", source="sandbox.client", team="genomics")
    rejected = wait_for(
        lambda: _abort_rejections(sandbox, "e2e-owned") if len(_abort_rejections(sandbox, "e2e-owned")) == 2 else None
    )
    assert rejected[0] == ("sandbox", "no such launch")
    # answered under the launch's key (its team), as the asking client, naming that team, reads it
    assert rejected[1][0] == "genomics" and rejected[1][1] == "team sandbox may abort its own launches only"
    time.sleep(1)
    assert sandbox.status("e2e-owned", source=GENOMICS)["phase"] == "running"
    assert not sandbox.executor.job_of_launch("e2e-owned").terminated
    sandbox.abort("e2e-owned", reason="ours", source=GENOMICS)
    assert wait_for(lambda: (s := sandbox.status("e2e-owned", source=GENOMICS)) and s["phase"] == "aborted")


def _abort_rejections(sandbox, launch_id):
    """(team answered, reason) of each abort rejection of ``launch_id`` heard so far, in order."""
    found = [a["detail"] for a in sandbox.answers_for(launch_id) if a["detail-type"] == "Task Abort Rejected"]
    return [(d.get("team"), d["reason"]) for d in found]
