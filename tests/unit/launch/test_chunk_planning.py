"""Planning a chunked map task (docs/chunked-maps.md): names, sizes, offsets, env, tags, limits (pure)."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from launch_examples import SETTINGS, TABLE, detail

from batchlane.common.inputs import index_range, line_offsets, write_jsonl
from batchlane.common.settings import Limits
from batchlane.job import child_index
from batchlane.launch.planner import chunk_request, plan_launch
from batchlane.launch.validation import validate
from batchlane.routing import decide


def settings(**limits):
    return dataclasses.replace(SETTINGS, limits=Limits(**limits))


def plan(size, limits=None, **overrides):
    chosen = settings(**(limits or {"max_array_size": 10}))
    request, role, problems = validate(detail(inputs=[{"n": i} for i in range(size)], **overrides), chosen)
    assert problems == []
    return plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), chosen, "bucket")


def env(request):
    return {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}


def test_a_map_beyond_max_array_size_is_cut_into_named_sized_offset_chunks():
    launch_plan, _ = plan(25)
    template = launch_plan.submit_request("def")
    requests = [chunk_request(template, launch_plan.chunks, c) for c in range(launch_plan.chunks.count)]
    assert [r["jobName"] for r in requests] == [f"{launch_plan.job_name}-c{c}" for c in range(3)]
    assert [r["arrayProperties"]["size"] for r in requests] == [10, 10, 5]
    assert [env(r)["BATCH_JOB_ARRAY_INDEX_OFFSET"] for r in requests] == ["0", "10", "20"]
    assert {env(r)["BATCHLANE_ARRAY_SIZE"] for r in requests} == {"25"}
    assert {env(r)["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] for r in requests} == {"AWS_BATCH_JOB_ARRAY_INDEX"}
    assert [r["tags"]["batchlane:chunk"] for r in requests] == ["0", "1", "2"]
    assert all(r["tags"]["batchlane:launchId"] == "L" for r in requests)
    assert launch_plan.chunks.initial == range(3)


def test_a_map_within_max_array_size_is_one_array_job_as_before():
    launch_plan, _ = plan(10)
    assert not launch_plan.chunked
    request = launch_plan.submit_request("def")
    assert request["arrayProperties"] == {"size": 10} and "batchlane:chunk" not in request["tags"]
    assert "BATCH_JOB_ARRAY_INDEX_OFFSET" not in env(request)


def test_a_chunk_of_one_child_is_a_plain_job_pointed_at_the_fake_index():
    launch_plan, _ = plan(21)  # chunks of 10, 10, 1
    last = chunk_request(launch_plan.submit_request("def"), launch_plan.chunks, 2)
    assert "arrayProperties" not in last
    assert env(last)["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] == "BATCHLANE_FAKE_ARRAY_INDEX"
    assert env(last)["BATCHLANE_FAKE_ARRAY_INDEX"] == "0" and env(last)["BATCH_JOB_ARRAY_INDEX_OFFSET"] == "20"
    assert child_index(env(last)) == 20


def test_max_concurrency_sets_the_window():
    launch_plan, _ = plan(100, maxConcurrency=8)
    assert (launch_plan.chunks.chunk_size, launch_plan.chunks.window, launch_plan.chunks.count) == (2, 4, 50)
    assert launch_plan.chunks.initial == range(4) and launch_plan.chunks.max_running == 8


def test_max_concurrency_one_runs_plain_jobs_one_at_a_time():
    launch_plan, _ = plan(3, maxConcurrency=1)
    requests = [chunk_request(launch_plan.submit_request("def"), launch_plan.chunks, c) for c in range(3)]
    assert all("arrayProperties" not in r for r in requests) and launch_plan.chunks.initial == range(1)
    assert [child_index(env(r)) for r in requests] == [0, 1, 2]


def test_the_overrides_limit_holds_for_the_longest_chunk_request():
    # Just under the limit unchunked; the chunks' offset and fake index push the last one over.
    base, _ = plan(21)
    length = len(json.dumps(base.overrides, separators=(",", ":")))
    last = chunk_request(base.submit_request("def"), base.chunks, 2)
    longest = len(json.dumps(last["containerOverrides"], separators=(",", ":")))
    assert longest > length
    chosen = {"max_array_size": 10, "max_overrides_chars": max(512, longest - 1)}
    padding = {"PAD": "x" * (chosen["max_overrides_chars"] - longest + 1 - len(',{"name":"PAD","value":""}'))}
    request, role, problems = validate(
        detail(inputs=[{"n": i} for i in range(21)], container={"image": "busybox", "environment": padding}),
        settings(**chosen),
    )
    assert problems == []
    refused, problems = plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), settings(**chosen), "bucket")
    assert refused is None and [p.field for p in problems] == ["container"]
    unchunked = settings(max_array_size=10_000, max_overrides_chars=chosen["max_overrides_chars"])
    assert plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), unchunked, "bucket")[0] is not None


def test_every_map_task_gets_its_inputs_index_beside_the_lines():
    launch_plan, _ = plan(25)
    assert launch_plan.index_key == launch_plan.inputs_key.removesuffix(".jsonl") + ".idx"
    assert (
        env(launch_plan.submit_request("def"))["BATCHLANE_INPUTS_INDEX_URI"] == f"s3://bucket/{launch_plan.index_key}"
    )
    for i in (0, 7, 24):
        start, end = index_range(i)
        line_start, line_end = line_offsets(launch_plan.index_body[start : end + 1])
        assert json.loads(launch_plan.inputs_body[line_start:line_end]) == {"n": i}


def test_an_index_written_in_one_pass_matches_the_lines():
    lines, index = io.BytesIO(), io.BytesIO()
    assert write_jsonl([{"a": 1}, "é", [1, 2]], lines, index) == 3
    assert len(index.getvalue()) == 8 * 4 and int.from_bytes(index.getvalue()[-8:], "big") == len(lines.getvalue())


@pytest.mark.parametrize(
    "value, message",
    [
        (0, "must be at least 1, not a whole number (0)"),
        ("4", "must be a whole number"),
        (2.5, "must be a whole number"),
    ],
)
def test_max_concurrency_problems_name_the_field(value, message):
    _, _, problems = validate(detail(inputs=[{}, {}], maxConcurrency=value), SETTINGS)
    assert [p.field for p in problems] == ["maxConcurrency"] and message in problems[0].message


def test_a_map_above_max_map_size_is_refused_and_one_below_accepted():
    chosen = settings(max_array_size=10, max_map_size=30)
    _, _, problems = validate(detail(inputs=[{}] * 31), chosen)
    assert [p.field for p in problems] == ["inputs"] and "at most 30 children" in problems[0].message
    assert validate(detail(inputs=[{}] * 30), chosen)[2] == []
    _, _, problems = validate(detail(inputsLocation={"uri": "s3://bucket/x.jsonl", "size": 1_000_001}), SETTINGS)
    assert [p.field for p in problems] == ["inputsLocation.size"]


def test_max_map_size_is_a_bounded_limit():
    assert Limits.from_json('{"maxMapSize": 500000}').max_map_size == 500_000
    with pytest.raises(ValueError, match="maxMapSize"):
        Limits.from_json('{"maxMapSize": 1000001}')
