import json

import pytest
from conftest import FIXTURES

from batchlane.status.events import ForeignEvent, MalformedEvent, parse_event


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_sample_event_parses(name):
    e = parse_event((FIXTURES / name).read_text())
    assert e.source == "aws.batch" and e.detail.job_id and e.detail.status


def test_failure_before_the_container_ran_has_no_exit_code_and_no_log_stream(event):
    d = parse_event(event("single-failed-cannot-pull.json")).detail
    assert d.status == "FAILED"
    c = d.attempts[0].container
    assert c.exit_code is None and c.log_stream_name is None
    assert c.reason.startswith("CannotPullContainerError")


def test_child_parent_and_plain_job_are_told_apart(event):
    child = parse_event(event("array-child-succeeded.json")).detail
    parent = parse_event(event("array-parent-failed.json")).detail
    plain = parse_event(event("single-running.json")).detail
    assert child.is_array_child and child.array_properties.index == 12
    assert child.parent_job_id == "740ee3ee-f235-4670-b19f-84da1bda6e76"
    assert parent.is_array_parent and parent.array_properties.size == 10 and not parent.is_array_child
    assert not plain.is_array_child and not plain.is_array_parent
    assert plain.container.log_stream_name.startswith("first-run-job-definition/default/")


def test_fields_aws_adds_later_are_ignored(event):
    e = event("single-failed-exit1.json")
    e["brandNewTopLevel"] = 1
    e["detail"]["shinyNewField"] = {"nested": [1, 2]}
    e["detail"]["attempts"][0]["container"]["newThing"] = "x"
    e["detail"]["attempts"][0]["taskProperties"] = [{"containers": []}]
    d = parse_event(e).detail
    assert d.attempts[0].container.exit_code == 1


def test_body_without_account_parses_as_moto_delivers_it(event):
    e = event("single-runnable.json")
    del e["account"]
    assert parse_event(json.dumps(e)).account is None


def test_queue_blocked_event(event):
    e = parse_event(event("queue-blocked.json"))
    assert e.is_queue_blocked and e.detail.status == "RUNNABLE"
    assert e.detail.status_reason.startswith("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")


def test_own_log_group_and_partition(event):
    e = event("single-running.json")
    e["detail"]["container"]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/batchlane/jobs"},
    }
    for key in ("jobArn", "jobQueue"):
        e["detail"][key] = e["detail"][key].replace("arn:aws:", "arn:aws-cn:")
    parsed = parse_event(e)
    assert parsed.detail.log_group == "/batchlane/jobs"
    assert parsed.partition == "aws-cn"
    assert parse_event(event("single-running.json")).detail.log_group is None


@pytest.mark.parametrize(
    "raw",
    [
        {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
        {"source": "aws.batch", "detail-type": "Batch Compute Environment State Change", "detail": {}},
        {"source": "batchlane", "detail-type": "Task Launch Requested", "detail": {}},
    ],
)
def test_foreign_events_are_reported_not_parsed(raw):
    with pytest.raises(ForeignEvent):
        parse_event(raw)


def test_unusable_events_are_reported(event):
    e = event("single-running.json")
    del e["detail"]["jobId"]
    with pytest.raises(MalformedEvent, match="jobId"):
        parse_event(e)
    with pytest.raises(MalformedEvent):
        parse_event("{not json")
    with pytest.raises(MalformedEvent):
        parse_event("[1, 2]")


def test_child_index_from_the_job_id_when_array_properties_lack_it(event):
    e = event("array-child-succeeded.json")
    del e["detail"]["arrayProperties"]
    d = parse_event(e).detail
    assert d.is_array_child and d.child_index == 12
