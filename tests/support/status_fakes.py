"""In-memory fakes of the status path's ports (batchlane.status.ports), with the conditions the
DynamoDB adapter puts on its writes, so the aggregator's logic is tested without AWS."""

from __future__ import annotations

import threading
from typing import Any

from batchlane.common.executions import SUBMITTED, LaunchRecord
from batchlane.status.fold import ChildState, ParentState
from batchlane.status.ports import WriteConflict


class FakeStatusStore:
    def __init__(self, *launches: LaunchRecord) -> None:
        self.launches = {r.launch_id: r for r in launches}
        self.children: dict[str, dict[int, tuple[ChildState, int]]] = {}
        self.parents: dict[str, tuple[ParentState, int]] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.lock = threading.Lock()  # one DynamoDB: every conditional write is atomic

    def find_launch(self, job_id: str) -> LaunchRecord | None:
        return next((r for r in self.launches.values() if r.job_id == job_id), None)

    def get_launch(self, launch_id: str) -> LaunchRecord | None:
        return self.launches.get(launch_id)

    def read_states(self, launch_id, indexes, parent):
        kids = self.children.get(launch_id, {})
        return {i: kids[i] for i in indexes if i in kids}, (self.parents.get(launch_id) if parent else None)

    def commit(self, launch_id, children, parent, summary) -> None:
        with self.lock:
            kids = self.children.setdefault(launch_id, {})
            for state, rev in children:
                if kids.get(state.index, (None, None))[1] != rev:
                    raise WriteConflict(f"child {state.index}")
            if parent is not None and self.parents.get(launch_id, (None, None))[1] != parent[1]:
                raise WriteConflict("parent")
            for state, rev in children:
                kids[state.index] = (state, (rev or 0) + 1)
            if parent is not None:
                self.parents[launch_id] = (parent[0], (parent[1] or 0) + 1)
            item = self.summaries.setdefault(launch_id, {})
            item.update(summary.get("set", {}))
            for status, delta in summary.get("deltas", {}).items():
                item[f"n_{status}"] = item.get(f"n_{status}", 0) + delta
            for name in summary.get("remove", ()):
                item.pop(name, None)
            self.writes += 1

    def summary(self, launch_id: str) -> dict[str, Any] | None:
        item = self.summaries.get(launch_id)
        return dict(item) if item is not None else None

    def claim_transition(self, launch_id, old_phase, token, now_ms, stale_before_ms) -> bool:
        with self.lock:
            item = self.summaries.setdefault(launch_id, {})
            held = item.get("transitionToken") is not None and item.get("transitionAt", 0) >= stale_before_ms
            if item.get("phase") != old_phase or held:
                return False
            item.update(transitionToken=token, transitionAt=now_ms)
            self.writes += 1
            return True

    def finish_transition(self, launch_id, token, fields, remove=()) -> bool:
        with self.lock:
            item = self.summaries.setdefault(launch_id, {})
            if item.get("transitionToken") != token:
                return False
            item.update(fields)
            for name in ("transitionToken", "transitionAt", *remove):
                item.pop(name, None)
            self.writes += 1
            return True

    def claim_progress(self, launch_id, previous, now_ms) -> bool:
        with self.lock:
            item = self.summaries.setdefault(launch_id, {})
            if item.get("progressAt") != previous:
                return False
            item["progressAt"] = now_ms
            return True

    def all_children(self, launch_id: str) -> list[ChildState]:
        return [state for state, _ in self.children.get(launch_id, {}).values()]


class FakeTerminator:
    def __init__(self) -> None:
        self.terminated: list[tuple[str, str]] = []

    def terminate(self, job_id: str, reason: str) -> None:
        self.terminated.append((job_id, reason))


class FakeOutputs:
    def __init__(self, objects: dict[str, dict] | None = None) -> None:
        self.objects = dict(objects or {})
        self.written: list[tuple[str, Any]] = []

    def read_many(self, uris):
        return {i: self.objects.get(uri) for i, uri in uris.items()}

    def write(self, uri: str, value: Any) -> None:
        self.written.append((uri, value))


def launch_record(launch_id: str, job_id: str, size: int, *, min_success_ratio: float = 1.0) -> LaunchRecord:
    return LaunchRecord(launch_id=launch_id, state=SUBMITTED, job_name="t", queue="q", size=size, is_array=size > 1,
                        is_map_task=size > 1, min_success_ratio=min_success_ratio, job_id=job_id,
                        outputs_uri=f"s3://b/launches/{launch_id}/outputs/", region="us-east-1")
