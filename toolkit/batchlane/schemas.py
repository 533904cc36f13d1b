"""JSON Schemas of every event on batchlane's bus, generated from their models, and the field tables
generated from them into the docs beside DIR: ``python -m batchlane.schemas [DIR]`` (default docs/schemas)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from batchlane.common.event_types import (
    ABORT_REJECTED,
    ABORT_REQUESTED,
    CHUNK_DUE,
    LAUNCH_REJECTED,
    LAUNCH_REQUESTED,
    LAUNCHED,
    STATUS_CHANGED,
)
from batchlane.launch.answers import TaskLaunched, TaskLaunchRejected
from batchlane.launch.models import LaunchRequest
from batchlane.schema_docs import field_table, with_block
from batchlane.status.models import TaskAbortRejected, TaskAbortRequested, TaskChunkDue, TaskStatusChanged

SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "task-launch-requested.json": (LaunchRequest, LAUNCH_REQUESTED),
    "task-launched.json": (TaskLaunched, LAUNCHED),
    "task-launch-rejected.json": (TaskLaunchRejected, LAUNCH_REJECTED),
    "task-status-changed.json": (TaskStatusChanged, STATUS_CHANGED),
    "task-abort-requested.json": (TaskAbortRequested, ABORT_REQUESTED),
    "task-abort-rejected.json": (TaskAbortRejected, ABORT_REJECTED),
    "task-chunk-due.json": (TaskChunkDue, CHUNK_DUE),
}

# doc (beside DIR) -> (its generated block, the schema whose fields it tabulates)
FIELD_TABLES = {"launch-event.md": ("launch-fields", "task-launch-requested.json")}


def schemas() -> dict[str, str]:
    out = {}
    for filename, (model, detail_type) in SCHEMAS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f'batchlane: detail of a "{detail_type}" event',
            **schema,
        }
        out[filename] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def documented(docs: Path, generated: dict[str, str]) -> dict[Path, str]:
    """Each doc of FIELD_TABLES in ``docs`` (those it has), its field table generated from ``generated``."""
    out = {}
    for doc, (block, filename) in FIELD_TABLES.items():
        if not (docs / doc).is_file():
            continue
        table = field_table(json.loads(generated[filename]))
        out[docs / doc] = with_block((docs / doc).read_text(), block, table)
    return out


def main(directory: str) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    generated = schemas()
    for filename, text in generated.items():
        (target / filename).write_text(text)
        print(target / filename)
    for path, text in documented(target.parent, generated).items():
        path.write_text(text)
        print(path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
