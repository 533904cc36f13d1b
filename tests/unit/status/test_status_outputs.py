import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from batchlane.status.fold import fold_events
from batchlane.status.outputs import (
    MORE,
    OutputsWriter,
    assemble_outputs,
    child_error_message,
    error_summary,
    launch_error_summary,
)


def test_map_outputs_one_list_per_name_in_index_order_none_for_failed():
    outs = {0: {"y": 0, "name": "a"}, 2: {"y": 4, "name": "c"}, 1: None}
    assert assemble_outputs(4, outs, unwrap=False) == {"y": [0, None, 4, None], "name": ["a", None, "c", None]}


def test_map_outputs_with_declared_names():
    assert assemble_outputs(2, {0: {"y": 1, "extra": 9}}, unwrap=False, names=["y", "z"]) == {
        "y": [1, None],
        "z": [None, None],
    }


def test_single_task_outputs_are_unwrapped():
    assert assemble_outputs(1, {0: {"y": 3}}, unwrap=True) == {"y": 3}
    assert assemble_outputs(1, {}, unwrap=True) == {}
    with pytest.raises(ValueError):
        assemble_outputs(2, {}, unwrap=True)


def test_error_summary_in_flytes_format():
    assert error_summary({0: "boom", 1: "boom", 3: "boom", 2: "other"}) == "[0-1][3]: boom\n[2]: other"
    assert error_summary({}) == ""


def test_error_summary_is_bounded():
    s = error_summary({i: f"message {i}" * 10 for i in range(0, 1000, 2)}, char_limit=500)
    assert len(s) <= 500 and s.endswith(MORE)


def test_child_error_messages(event):
    s = fold_events(
        {"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "size": 1}, [event("single-failed-cannot-pull.json")]
    )
    assert child_error_message(s.children[0]).startswith("Task failed to start: CannotPullContainerError")
    s = fold_events({"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "size": 1}, [event("single-failed-exit1.json")])
    assert child_error_message(s.children[0]) == "Essential container in task exited (exit code 1)"


def test_launch_error_summary_groups_children_failing_alike():
    job = "a1b2c3d4-0000-4000-8000-000000000009"
    plans = (
        [ChildPlan(attempts=(AttemptPlan("exit", 1),))] * 2
        + [ChildPlan()]
        + [ChildPlan(attempts=(AttemptPlan("exit", 1),)), ChildPlan(attempts=(AttemptPlan("nostart"),))]
    )
    s = fold_events({"jobId": job, "size": 5, "minSuccessRatio": 0.2}, launch_events(job, plans))
    assert launch_error_summary(s.children).splitlines() == [
        "[0-1][3]: Essential container in task exited (exit code 1)",
        "[4]: Task failed to start: CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "not found",
    ]


# A chunked map task's outputs are merged from per-chunk parts (status.finish): the same document
# as assembling every child at once, whatever names appear in which chunk.
child_outputs = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=3
    ),
)


def part_of(outs, offset, size, names=None):
    writer = OutputsWriter(size, names)
    for i in range(offset, offset + size):
        writer.add(i - offset, outs.get(i))
    return writer.part(offset)


def merged(size, chunk_size, outs, names=None, from_part=lambda c: True):
    writer = OutputsWriter(size, names)
    for c, offset in enumerate(range(0, size, chunk_size)):
        n = min(chunk_size, size - offset)
        if from_part(c):
            writer.add_part(offset, part_of(outs, offset, n, names), n)
        else:
            for i in range(offset, offset + n):
                writer.add(i, outs.get(i))
    return json.loads(b"".join(writer.chunks()))


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 12), chunk_size=st.integers(1, 5), data=st.data())
def test_outputs_merged_from_parts_are_the_outputs_assembled_at_once(size, chunk_size, data):
    outs = {i: data.draw(child_outputs) for i in range(size)}
    names = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "z"]), unique=True)))
    with_part = data.draw(st.lists(st.booleans(), min_size=size, max_size=size))
    expected = assemble_outputs(size, outs, unwrap=False, names=names)
    assert merged(size, chunk_size, outs, names, lambda c: with_part[c]) == expected


@pytest.mark.parametrize(
    "part, why",
    [
        (b'{"offset": 2, "size": 3, "columns": [["a", 5]]}\n1,2,3', "a part of 3 children"),
        (b'{"offset": 0, "size": 2, "columns": [["a", 3]]}\n1,2', "another chunk's part of as many children"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 9]]}\n1,2', "lengths that are not the body's"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 1], ["a", 2]]}\n1,2,', "a name twice"),
        (b"not json\n1,2", "no header"),
        (b'{"offset": 2, "size": 2}\n', "no columns"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 0]]}\n', "an empty column"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 12]]}\n1],"evil":[2', "a column that injects a key"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 5]]}\n1,2,3', "three values for two children"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 5]]}\n1,{"x', "a column that breaks the JSON"),
        (b'{"offset": 2, "size": 2, "columns": [["a", 5]]}\nNaN,1', "a value that is not JSON"),
        (b'{"offset": 2, "size": 2, "columns": [[7, 3]]}\n1,2', "a name that is not a string"),
        (b'{"offset": 2, "size": 2, "owner": "job-0", "columns": [["a", 3]]}\n1,2', "another submission's part"),
    ],
)
def test_a_part_that_is_not_one_of_the_chunk_s_children_is_refused_and_adds_nothing(part, why):
    writer = OutputsWriter(4)
    writer.add(0, {"a": 0})
    writer.add(1, {"a": 1})
    with pytest.raises(ValueError):
        writer.add_part(2, part, 2)
    writer.add(2, {"a": 2})
    assert json.loads(b"".join(writer.chunks())) == {"a": [0, 1, 2, None]}, why


def test_a_part_before_children_already_added_is_refused():
    writer = OutputsWriter(4)
    writer.add(2, {"a": 2})
    with pytest.raises(ValueError, match="out of order"):
        writer.add_part(0, part_of({0: {"a": 0}}, 0, 2), 2)
    with pytest.raises(ValueError, match="out of order"):
        writer.add_part(3, part_of({3: {"a": 3}}, 3, 2), 2)  # past the end of the map


def test_a_part_is_merged_only_for_the_submission_it_was_written_for():
    writer = OutputsWriter(2)
    stale = OutputsWriter(2)
    stale.add(0, {"a": "old"})
    stale.add(1, {"a": "old"})
    with pytest.raises(ValueError, match="job-new"):
        writer.add_part(0, stale.part(0, owner="job-old"), 2, owner="job-new")
    fresh = OutputsWriter(2)
    fresh.add(0, {"a": 1})
    fresh.add(1, {"a": 2})
    writer.add_part(0, fresh.part(0, owner="job-new"), 2, owner="job-new")
    assert json.loads(b"".join(writer.chunks())) == {"a": [1, 2]}
