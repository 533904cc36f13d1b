import pytest

from batchlane.status.fold import fold_events
from batchlane.status.outputs import (
    MORE, assemble_outputs, child_error_message, error_summary, launch_error_summary,
)
from batchlane.status.simulate import AttemptPlan, ChildPlan, launch_events


def test_map_outputs_one_list_per_name_in_index_order_none_for_failed():
    outs = {0: {"y": 0, "name": "a"}, 2: {"y": 4, "name": "c"}, 1: None}
    assert assemble_outputs(4, outs, unwrap=False) == {"y": [0, None, 4, None], "name": ["a", None, "c", None]}


def test_map_outputs_with_declared_names():
    assert assemble_outputs(2, {0: {"y": 1, "extra": 9}}, unwrap=False, names=["y", "z"]) == {
        "y": [1, None], "z": [None, None]}


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
    s = fold_events({"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "size": 1},
                    [event("single-failed-cannot-pull.json")])
    assert child_error_message(s.children[0]).startswith("Task failed to start: CannotPullContainerError")
    s = fold_events({"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "size": 1}, [event("single-failed-exit1.json")])
    assert child_error_message(s.children[0]) == "Essential container in task exited (exit code 1)"


def test_launch_error_summary_groups_children_failing_alike():
    job = "a1b2c3d4-0000-4000-8000-000000000009"
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 1),))] * 2 + [ChildPlan()] + [
        ChildPlan(attempts=(AttemptPlan("exit", 1),)), ChildPlan(attempts=(AttemptPlan("nostart"),))]
    s = fold_events({"jobId": job, "size": 5, "minSuccessRatio": 0.2}, launch_events(job, plans))
    assert launch_error_summary(s.children).splitlines() == [
        "[0-1][3]: Essential container in task exited (exit code 1)",
        "[4]: Task failed to start: CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "not found",
    ]
