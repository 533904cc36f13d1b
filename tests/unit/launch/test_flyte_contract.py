"""What the launch contract gained for Flyte users: the index variables every job gets, the
AWSBatchConfig fields (schedulingPriority, parameters, propagateTags) and the queue hint."""

from __future__ import annotations

import pytest
from launch_examples import SETTINGS, detail

from batchlane.launch.planner import plan_launch
from batchlane.launch.validation import validate
from batchlane.routing import RoutingTable, decide
from batchlane.routing.engine import Queue, Rule

TWO_QUEUES = RoutingTable(
    (Queue("q", ("default",)), Queue("q2", ("default",)), Queue("gpu", ("gpu",))), (Rule("0001", ("default",)),)
)


def plan(table=TWO_QUEUES, **overrides):
    request, role, problems = validate(detail(**overrides), SETTINGS)
    assert problems == []
    return plan_launch(request, role, decide(table, "p", "d", "w", key="L"), SETTINGS, "bucket")[0]


def environment(plan) -> dict[str, str]:
    return {e["name"]: e["value"] for e in plan.overrides["environment"]}


def test_a_plain_job_points_the_index_variable_at_a_fake_index_of_zero():
    env = environment(plan())
    assert env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "BATCHLANE_FAKE_ARRAY_INDEX"
    assert env["BATCHLANE_FAKE_ARRAY_INDEX"] == "0"
    assert env["FLYTE_FAIL_ON_ERROR"] == "true"


def test_a_map_task_of_one_input_is_a_plain_job_with_the_fake_index():
    job = plan(inputs=[{"x": 1}])
    assert not job.is_array and environment(job)["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "BATCHLANE_FAKE_ARRAY_INDEX"


def test_an_array_points_the_index_variable_at_batchs_own():
    env = environment(plan(inputs=[{"x": 1}, {"x": 2}, {"x": 3}]))
    assert env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "AWS_BATCH_JOB_ARRAY_INDEX"
    assert "BATCHLANE_FAKE_ARRAY_INDEX" not in env and env["FLYTE_FAIL_ON_ERROR"] == "true"


@pytest.mark.parametrize("name", ["BATCH_JOB_ARRAY_INDEX_VAR_NAME", "FLYTE_FAIL_ON_ERROR"])
def test_the_index_variables_are_batchlanes_to_set(name):
    _, _, problems = validate(detail(container={"image": "busybox", "environment": {name: "x"}}), SETTINGS)
    assert [p.field for p in problems] == [f"container.environment.{name}"] and "set by batchlane" in problems[
        0
    ].message


def test_batch_config_fields_reach_submit_job():
    request = plan(schedulingPriority=7, parameters={"bucket": "raw"}, propagateTags=False).submit_request("def")
    assert request["schedulingPriorityOverride"] == 7
    assert request["parameters"] == {"bucket": "raw"} and request["propagateTags"] is False
    default = plan().submit_request("def")
    assert (
        default["propagateTags"] is True and "parameters" not in default and "schedulingPriorityOverride" not in default
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("schedulingPriority", 10_000),
        ("schedulingPriority", -1),
        ("schedulingPriority", "7"),
        ("parameters", {"a": 1}),
        ("propagateTags", "false"),
        ("queueHint", "bad queue"),
    ],
)
def test_the_new_fields_are_strict(field, value):
    _, _, problems = validate(detail(**{field: value}), SETTINGS)
    assert [p.field.split(".")[0] for p in problems] == [field]


def test_a_queue_hint_is_honoured_only_among_the_decisions_candidates():
    assert plan(queueHint="q2").queue == "q2"
    assert plan(queueHint="gpu").queue == plan().queue  # another tag's queue: routing decides
    assert plan(queueHint="nowhere").queue == plan().queue
