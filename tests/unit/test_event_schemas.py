"""The JSON Schemas in docs/schemas/ are the ones the event models generate, and they describe real events."""

import json
from pathlib import Path

from batchlane.schemas import schemas
from batchlane.status.models import TaskAbortRejected, TaskStatusChanged

ROOT = Path(__file__).resolve().parents[2]


def test_published_schemas_are_the_generated_ones():
    published = {p.name for p in (ROOT / "docs" / "schemas").glob("*.json")}
    generated = schemas()
    assert published == set(generated), "run: python -m batchlane.schemas docs/schemas"
    for filename, text in generated.items():
        assert (ROOT / "docs" / "schemas" / filename).read_text() == text, (
            "run: python -m batchlane.schemas docs/schemas"
        )


def test_status_events_leave_out_only_what_has_no_value():
    phase = TaskStatusChanged.phase_change(
        launch_id="l",
        job_id="j",
        queue="q",
        phase="queued",
        previous=None,
        reason="1 waiting",
        size=1,
        counts={"SUBMITTED": 1, "FAILED": 0},
    ).detail()
    assert phase == {
        "kind": "phase",
        "launchId": "l",
        "jobId": "j",
        "queue": "q",
        "phase": "queued",
        "size": 1,
        "counts": {"SUBMITTED": 1},
        "previousPhase": None,
        "reason": "1 waiting",
    }
    progress = TaskStatusChanged.progress(
        launch_id="l",
        job_id="j",
        queue="q",
        phase="running",
        size=200,
        counts={"SUCCEEDED": 3, "FAILED": 2, "RUNNING": 195},
    ).detail()
    assert progress["final"] == 5 and "previousPhase" not in progress and "outputsUri" not in progress
    assert TaskAbortRejected(launchId=None, reason="the event names no launchId").detail() == {
        "launchId": None,
        "reason": "the event names no launchId",
    }
    json.dumps(phase), json.dumps(progress)
