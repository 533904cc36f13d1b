"""The JSON Schemas in docs/schemas/ are the ones the event models generate, and they describe real
events; the field table of docs/launch-event.md is the one generated from its schema."""

import json
import shutil
from pathlib import Path

import pytest

from batchlane import schemas as schemas_module
from batchlane.common.event_types import event_id
from batchlane.schema_docs import begin_marker, end_marker, field_table, type_of, with_block
from batchlane.schemas import documented, schemas
from batchlane.status.models import TaskAbortRejected, TaskStatusChanged

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_SCHEMA = "task-launch-requested.json"


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
    assert phase.pop("eventId") == event_id("Task Status Changed", "phase", "_", "l", "j", "queued")
    assert phase == {
        "kind": "phase",
        "launchId": "l",
        "team": "_",
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
    rejected = TaskAbortRejected(launchId=None, reason="the event names no launchId").detail()
    assert rejected.pop("eventId") == event_id("Task Abort Rejected", None, None, "the event names no launchId", None)
    assert rejected == {
        "launchId": None,
        "team": None,
        "reason": "the event names no launchId",
    }
    json.dumps(phase), json.dumps(progress)


def test_the_launch_event_doc_holds_the_generated_field_table():
    [(path, text)] = documented(ROOT / "docs", schemas()).items()
    assert path == ROOT / "docs" / "launch-event.md"
    assert path.read_text() == text, "run: python -m batchlane.schemas docs/schemas"


def test_the_field_table_has_a_row_per_field_nested_ones_by_path():
    table = field_table(json.loads(schemas()[LAUNCH_SCHEMA]))
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    assert list(rows)[:6] == ["launchId", "project", "domain", "workflow", "task", "container"]
    assert {"container.resources.memory", "inputsLocation.uri", "inputsLocation.index", "retryOn"} <= set(rows)
    assert rows["container.resources.memory"] == (
        "| `container.resources.memory` | integer, 128..2000000 | default `2048` | MiB per child |"
    )
    assert rows["inputsLocation.uri"].split(" | ")[2] == "required"
    assert rows["retryOn"].split(" | ")[1] == '`"any"` or `"infrastructure"`'


@pytest.mark.parametrize(
    "schema, expected",
    [
        ({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}, "integer, at least 1, or null"),
        ({"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "number, > 0, at most 1"),
        ({"type": "array", "items": {"type": "string"}, "maxItems": 3}, "list of string, at most 3 items"),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "object of string values"),
        ({"type": "string", "pattern": "^a|b$"}, "string, `^a\\|b$`"),
        ({"type": "string", "pattern": "x" * 61}, "string, a pattern (in the JSON Schema)"),
        ({}, "any JSON"),
    ],
)
def test_a_field_type_reads_as_its_schema_says(schema, expected):
    assert field_table({"properties": {"f": schema}}).splitlines()[2].split(" | ")[1] == expected
    assert type_of(schema, {}).replace("|", "\\|") == expected


def test_regenerating_rewrites_the_schemas_and_the_table(tmp_path, capsys):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    name = "launch-fields"
    stale = with_block((docs / "launch-event.md").read_text(), name, "| stale |\n")
    (docs / "launch-event.md").write_text(stale)
    (docs / "schemas" / LAUNCH_SCHEMA).write_text("{}")
    schemas_module.main(str(docs / "schemas"))
    assert (docs / "launch-event.md").read_text() == (ROOT / "docs" / "launch-event.md").read_text()
    assert (docs / "schemas" / LAUNCH_SCHEMA).read_text() == schemas()[LAUNCH_SCHEMA]
    assert begin_marker(name) in stale and end_marker(name) in stale


def test_a_doc_without_its_markers_is_an_error():
    with pytest.raises(ValueError, match="launch-fields"):
        with_block("# no table here\n", "launch-fields", "| x |\n")


def test_a_repeat_has_the_same_event_id_and_another_announcement_another():
    def phase(phase: str, job_id: str = "j", counts: dict | None = None) -> str:
        return TaskStatusChanged.phase_change(
            launch_id="l",
            job_id=job_id,
            queue="q",
            phase=phase,
            previous=None,
            reason="r",
            size=1,
            counts=counts or {"SUCCEEDED": 1},
        ).detail()["eventId"]

    assert phase("succeeded") == phase("succeeded", counts={"SUCCEEDED": 1, "RUNNING": 0})  # a re-fold's repeat
    assert len({phase("succeeded"), phase("running"), phase("succeeded", job_id="j2")}) == 3
