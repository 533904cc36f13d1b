"""Failure classes (issue 11): each failed attempt classified from the sample events, in the status
record, the status document, the CLI table and "Task Status Changed"."""

from __future__ import annotations

import json

import pytest

from batchlane.client.render import status_lines
from batchlane.client.view import replay_document
from batchlane.common.event_types import STATUS_CHANGED
from batchlane.status.failures import (
    APPLICATION_ERROR,
    CANCELLED,
    IMAGE_PULL_FAILED,
    OUT_OF_MEMORY,
    SPOT_RECLAIMED,
    TIMEOUT,
    UNKNOWN,
    classify,
    failure_delta,
    failures_of,
)
from batchlane.status.observations import merge_child
from batchlane.status.states import ChildState
from status_fakes import FakeStatusStore, launch_record, service

SAMPLES = [
    ("single-failed-spot-reclaimed.json", SPOT_RECLAIMED, [SPOT_RECLAIMED, SPOT_RECLAIMED]),
    ("single-failed-oom.json", OUT_OF_MEMORY, [OUT_OF_MEMORY]),
    ("single-failed-cannot-pull.json", IMAGE_PULL_FAILED, [IMAGE_PULL_FAILED]),
    ("single-failed-timeout.json", TIMEOUT, [TIMEOUT]),
    ("single-failed-exit1.json", APPLICATION_ERROR, [APPLICATION_ERROR]),
]


@pytest.mark.parametrize(("sample", "child_class", "attempt_classes"), SAMPLES)
def test_each_failed_attempt_of_the_samples_is_classified_in_the_status_record(
    event, sample, child_class, attempt_classes
):
    state, _ = merge_child(None, event(sample))
    item = state.to_item()
    assert item["failureClass"] == child_class
    assert [a.get("failureClass") for a in item["attempts"]] == attempt_classes
    assert ChildState.from_item(item) == state  # derived: the stored state is unchanged by it


@pytest.mark.parametrize(("sample", "child_class", "attempt_classes"), SAMPLES)
def test_the_status_document_and_the_cli_table_show_the_class(event, sample, child_class, attempt_classes):
    doc, _ = replay_document([json.dumps(event(sample))])
    [child] = doc["children"]
    assert child["failureClass"] == child_class and child["attemptFailures"] == attempt_classes
    assert doc["failures"] == {child_class: len(attempt_classes)}
    text = "\n".join(status_lines(doc))
    assert "FAILURE" in text and child_class in text and f"failed attempts: {child_class}" in text


def test_running_and_succeeded_children_have_no_failure_class(event):
    for sample in ("single-running.json", "array-child-succeeded.json", "single-runnable.json"):
        state, _ = merge_child(None, event(sample))
        assert "failureClass" not in state.to_item()
        assert all("failureClass" not in a for a in state.to_item().get("attempts", []))


@pytest.mark.parametrize(
    ("status_reason", "reason", "exit_code", "expected"),
    [
        ("Your Spot Task was interrupted.", None, None, SPOT_RECLAIMED),
        ("Essential container in task exited", None, 137, APPLICATION_ERROR),  # SIGKILL without an OOM reason
        ("batchlane: aborted on request", None, None, CANCELLED),
        ("Essential container in task exited", None, 0, None),
        ("Task failed to start", None, None, UNKNOWN),
        (None, None, None, None),  # nothing says it stopped: running
    ],
)
def test_classification_rules(status_reason, reason, exit_code, expected):
    assert classify(status_reason, reason, exit_code) == expected


def test_a_child_cancelled_before_it_ran_is_cancelled():
    child = ChildState(0, "FAILED", 0, status_reason="batchlane: launch failed (1 of 2 failed)")
    assert child.to_item()["failureClass"] == CANCELLED


def test_failure_deltas_follow_an_attempt_whose_class_becomes_known(event):
    done, _ = merge_child(None, event("single-failed-oom.json"))
    assert failure_delta(None, done) == {"failure:out-of-memory": 1}
    assert failure_delta(done, done) == {}
    assert failures_of({"n_failure:out-of-memory": 2, "n_FAILED": 1, "n_failure:timeout": 0}) == {OUT_OF_MEMORY: 2}


def test_task_status_changed_counts_the_failed_attempts_per_class(event):
    store = FakeStatusStore(launch_record("L", event("single-failed-spot-reclaimed.json")["detail"]["jobId"], 1))
    svc = service(store)
    assert svc.process([("m1", json.dumps(event("single-failed-spot-reclaimed.json")))]) == {}
    [changed] = [d for d in svc.phases.announcer.of(STATUS_CHANGED) if d["phase"] == "failed"]
    assert changed["failures"] == {SPOT_RECLAIMED: 2}
