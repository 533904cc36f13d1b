"""Reruns (``rerunOf``): what the launcher refuses, what it records, and the merged outputs (pure)."""

from __future__ import annotations

from launch_examples import SETTINGS, TABLE, detail

from batchlane.common.executions import SUBMITTED, LaunchRecord, Rerun
from batchlane.launch.planner import plan_launch
from batchlane.launch.reruns import repeatable_request, with_rerun
from batchlane.launch.validation import validate
from batchlane.routing import decide
from batchlane.status.outputs import merge_rerun


def rerun_plan(indexes, inputs=2, **overrides):
    raw = detail(launchId="L.rerun1", inputs=[{"i": i} for i in range(inputs)], **overrides)
    raw["rerunOf"] = {"launchId": "L", "indexes": indexes}
    request, role, problems = validate(raw, SETTINGS)
    assert problems == []
    plan, problems = plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), SETTINGS, "bucket")
    assert problems == []
    return plan


def original(**overrides) -> LaunchRecord:
    fields = {"launch_id": "L", "state": SUBMITTED, "job_name": "j", "queue": "q", "job_id": "job", "size": 5}
    fields |= {"is_array": True, "project": "p", "domain": "d", "workflow": "w", "task": "t"}
    return LaunchRecord(**(fields | overrides))


def rerun(plan, record, phase="failed"):
    return with_rerun(plan, lambda launch_id: record if launch_id == "L" else None, lambda key: phase)


def test_a_rerun_of_a_finished_map_task_records_its_original_and_index_space():
    plan, problems = rerun(rerun_plan([1, 3]), original())
    assert problems == [] and plan.rerun_of == Rerun(launch_id="L", indexes=[1, 3], size=5)
    # a rerun of a rerun keeps the first launch's index space
    plan, _ = rerun(rerun_plan([3], inputs=1), original(size=2, rerun_of=Rerun(launch_id="L0", indexes=[1, 3], size=5)))
    assert plan.rerun_of.size == 5


def test_every_problem_of_a_rerun_is_listed_at_once():
    _, problems = rerun(rerun_plan([1, 1, 9], inputs=2, task="other"), original(is_array=False), phase="running")
    assert [(p.field, p.message) for p in problems] == [
        ("rerunOf.launchId", "only a map task's children can be rerun"),
        ("rerunOf.launchId", '"L" has not finished: rerun it once it has'),
        ("rerunOf.launchId", "a rerun keeps the original's task"),
        ("rerunOf.indexes", "an index is listed twice"),
        ("rerunOf.indexes", "the original's outputs have indexes 0 to 4"),
        ("rerunOf.indexes", "3 indexes for 2 inputs: one per child"),
    ]
    _, problems = rerun(rerun_plan([1, 3]), None)
    assert [p.message for p in problems] == ['no launch "L" of this team to rerun']


def test_the_recorded_request_is_what_a_rerun_repeats():
    kept = repeatable_request(detail(inputs=[1], rerunOf={}, after=[], retries=2))
    assert kept == {"project": "p", "domain": "d", "workflow": "w", "task": "t", "container": {"image": "busybox"}} | {
        "retries": 2
    }


def test_merged_outputs_replace_the_rerun_children_in_the_originals_index_space():
    base = {"echo": [0, None, 2, None], "only": ["a", None, "c", None]}
    merged = merge_rerun(base, 4, {1: {"echo": 1, "new": "x"}, 3: None})
    assert merged == {"echo": [0, 1, 2, None], "only": ["a", None, "c", None], "new": [None, "x", None, None]}
    assert merge_rerun(None, 2, {0: {"echo": 0}}) == {"echo": [0, None]}  # an original without outputs
