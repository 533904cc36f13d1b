"""Limits on event values (docs/status.md): what parse_event / observe accept, cut or reject."""

import copy
import json

import pytest

from batchlane.status.events import (
    MAX_EPOCH_MS,
    MAX_EXIT_CODE,
    MAX_INDEX,
    MAX_LOG_NAME,
    MAX_TAG_VALUE,
    MAX_TEXT,
    MIN_EXIT_CODE,
    MalformedEvent,
    parse_event,
)
from batchlane.status.observations import observe

HUGE = "x" * 300_000


def mutated(event, name, change):
    e = copy.deepcopy(event(name))
    change(e["detail"])
    return e


def exit1_attempt(d):
    return d["attempts"][0]


@pytest.mark.parametrize(
    "job_id",
    [
        "abc:²",
        "abc:٣",
        "abc:১",
        "abc:",
        ":3",
        "abc:012",
        "abc:-1",
        "abc:1:2",
        "abc:x",
        "abc:10000",
        "abc:" + "9" * 5000,
        "",
        " abc",
        "abc def",
        "a" * 129,
        "é",
        HUGE,
    ],
)
def test_job_ids_that_batch_never_sends_are_malformed(event, job_id):
    e = mutated(event, "array-child-succeeded.json", lambda d: (d.update(jobId=job_id), d.pop("arrayProperties")))
    with pytest.raises(MalformedEvent, match="jobId") as raised:
        observe(e)
    assert len(str(raised.value)) < 1000


@pytest.mark.parametrize(
    ("job_id", "index"),
    [("abc:0", 0), ("abc:9", 9), (f"abc:{MAX_INDEX}", MAX_INDEX), ("abc", None), ("abc#2", 2), ("abc#x", None)],
)
def test_array_index_comes_from_ascii_digits_only(event, job_id, index):
    # "<id>#<node>" names a node of a multi-node job: its nodes are its children.
    e = mutated(event, "array-child-succeeded.json", lambda d: (d.update(jobId=job_id), d.pop("arrayProperties")))
    assert parse_event(e).detail.child_index == index
    assert observe(e).child.index == (index or 0)


@pytest.mark.parametrize("index", [-1, MAX_INDEX + 1, 10**40, "3", 3.0, True, None])
def test_array_properties_index_out_of_range_or_not_an_integer_is_malformed(event, index):
    e = mutated(event, "array-child-succeeded.json", lambda d: d["arrayProperties"].update(index=index))
    if index is None:  # absent: the job id's suffix says 12
        assert observe(e).child.index == 12
        return
    with pytest.raises(MalformedEvent, match="arrayProperties.index"):
        observe(e)


@pytest.mark.parametrize("code", [MIN_EXIT_CODE, -1, 0, 137, 3221225477, MAX_EXIT_CODE])
def test_exit_codes_within_32_bits_are_kept(event, code):
    e = mutated(
        event,
        "single-failed-exit1.json",
        lambda d: (exit1_attempt(d)["container"].update(exitCode=code), d["container"].update(exitCode=code)),
    )
    assert observe(e).child.attempts[0].exit_code == code


@pytest.mark.parametrize(
    "code", [MIN_EXIT_CODE - 1, MAX_EXIT_CODE + 1, 10**40, -(10**40), "1", 1.0, True, float("nan"), float("inf")]
)
def test_other_exit_codes_are_malformed(event, code):
    e = mutated(event, "single-failed-exit1.json", lambda d: exit1_attempt(d)["container"].update(exitCode=code))
    with pytest.raises(MalformedEvent, match="exitCode"):
        observe(e)


@pytest.mark.parametrize("field", ["startedAt", "stoppedAt"])
@pytest.mark.parametrize("value", [-1, MAX_EPOCH_MS + 1, 10**40, 1.5e12, "1586285300000", float("nan")])
def test_timestamps_outside_epoch_ms_0_to_year_9999_are_malformed(event, field, value):
    for where in (exit1_attempt, lambda d: d):
        e = mutated(event, "single-failed-exit1.json", lambda d, w=where: w(d).update({field: value}))
        with pytest.raises(MalformedEvent, match=field):
            observe(e)


def test_timestamps_at_the_limits_are_kept(event):
    e = mutated(
        event, "single-failed-exit1.json", lambda d: exit1_attempt(d).update(startedAt=0, stoppedAt=MAX_EPOCH_MS)
    )
    a = observe(e).child.attempts[0]
    assert a.started_at is None and a.stopped_at == MAX_EPOCH_MS  # 0: the attempt never started


def test_reasons_and_names_are_cut_to_their_limits(event):
    def huge(d):
        d["statusReason"] = HUGE
        a = exit1_attempt(d)
        a["statusReason"] = HUGE
        a["container"].update(reason=HUGE, logStreamName=HUGE)
        d["container"]["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": HUGE}}

    child = observe(mutated(event, "single-failed-exit1.json", huge)).child
    [a] = child.attempts
    for text, limit in (
        (child.status_reason, MAX_TEXT),
        (a.status_reason, MAX_TEXT),
        (a.reason, MAX_TEXT),
        (a.log_stream, MAX_LOG_NAME),
        (child.log_group, MAX_LOG_NAME),
    ):
        assert len(text) == limit and text.endswith("…") and text.startswith("xxx")
    assert len(json.dumps(child.to_item())) < 6 * 1024


def test_queue_blocked_reason_is_cut(event):
    e = copy.deepcopy(event("queue-blocked.json"))
    e["detail"]["statusReason"] = "CAPACITY:" + HUGE
    assert len(observe(e).child.blocked) == MAX_TEXT


@pytest.mark.parametrize(
    "tags",
    [
        {"batchlane:launchId": "x" * (MAX_TAG_VALUE + 1)},
        {"k" * 129: "v"},
        {"batchlane:launchId": 7},
        ["batchlane:launchId"],
    ],
)
def test_tags_beyond_aws_limits_are_malformed_not_cut(event, tags):
    """The launch tag is a lookup key: a cut value would name another launch and be retried for ever."""
    e = mutated(event, "single-running.json", lambda d: d.update(tags=tags))
    with pytest.raises(MalformedEvent, match="tags"):
        observe(e)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda ap: ap.update(size=1), "size"),
        (lambda ap: ap.update(size=10_001), "size"),
        (lambda ap: ap.update(size="10"), "size"),
        (lambda ap: ap["statusSummary"].update(SUCCEEDED=10**40), "statusSummary"),
        (lambda ap: ap["statusSummary"].update(SUCCEEDED=-1), "statusSummary"),
        (lambda ap: ap["statusSummary"].update(HIBERNATING=1), "statusSummary"),
        (lambda ap: ap.update(statusSummaryLastUpdatedAt=10**40), "statusSummaryLastUpdatedAt"),
    ],
)
def test_array_parent_values_out_of_range_are_malformed(event, change, field):
    e = mutated(event, "array-parent-failed.json", lambda d: change(d["arrayProperties"]))
    with pytest.raises(MalformedEvent, match=field):
        observe(e)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(status="HIBERNATING"), "status"),
        (lambda d: d.update(status=None), "status"),
        (lambda d: d.update(attempts={"0": {}}), "attempts"),
        (lambda d: d.update(attempts=[[]]), "attempts.0"),
        (lambda d: d.update(attempts=[None]), "attempts.0"),
        (lambda d: d.update(container=[]), "container"),
        (lambda d: d.update(arrayProperties=5), "arrayProperties"),
        (lambda d: d.update(statusReason={"nested": {"deeper": [1]}}), "statusReason"),
        (lambda d: d["container"].update(logStreamName=12), "container.logStreamName"),
        (lambda d: d["retryStrategy"].update(attempts=11), "retryStrategy.attempts"),
    ],
)
def test_nested_garbage_is_malformed_with_its_place(event, change, where):
    e = mutated(event, "single-running.json", change)
    with pytest.raises(MalformedEvent, match=where.replace(".", r"\.")):
        observe(e)
    with pytest.raises(MalformedEvent, match=where.replace(".", r"\.")):
        observe(json.dumps(e))  # the SQS body path: pydantic's JSON parser, same rules


def test_json_that_python_would_read_but_batch_never_writes_is_malformed(event):
    body = json.dumps(event("single-running.json"))
    for bad in (
        body.replace('"createdAt": 1586285220178', '"createdAt": NaN'),
        body.replace('"createdAt": 1586285220178', '"createdAt": 1e400'),
        body.replace('"createdAt": 1586285220178', '"createdAt": ' + "9" * 5000),
        "[" * 100_000 + "]" * 100_000,
    ):
        with pytest.raises(MalformedEvent):
            observe(bad)


def test_more_attempts_than_batch_allows_keep_the_first_ten(event):
    e = mutated(event, "single-failed-exit1.json", lambda d: d.update(attempts=d["attempts"] * 50))
    child = observe(e).child
    assert child.n == 10 and len(child.attempts) == 10


@pytest.mark.parametrize("name", ["single-failed-exit1.json", "single-running.json"])
def test_an_empty_log_stream_name_is_no_stream(event, name):
    """Found by the fuzz: "" was kept as a stream, and would have given a log link to nowhere."""

    def empty(d):
        d["container"]["logStreamName"] = ""
        for a in d["attempts"]:
            a["container"]["logStreamName"] = ""

    child = observe(mutated(event, name, empty)).child
    assert [a.log_stream for a in child.attempts] == [None]


def test_an_arn_whose_partition_is_not_one_reads_as_aws(event):
    def odd_arns(d):
        d["jobArn"] = "arn:" + HUGE + ":batch:us-east-1:123456789012:job/x"
        d["jobQueue"] = "arn:aws cn:batch:us-east-1:123456789012:job-queue/q"

    e = mutated(event, "single-running.json", odd_arns)
    e["resources"] = ["arn:" + "²" * 10 + ":batch"]
    assert parse_event(e).partition == "aws"
    assert observe(e).partition == "aws"
