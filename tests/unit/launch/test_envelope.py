"""Reading the SQS body: what can be read is answered, whatever its detail holds."""

import json

import pytest

from batchlane.common.errors import UnprocessableEvent
from batchlane.launch.envelope import launch_event


def body(detail, detail_type="Task Launch Requested"):
    return json.dumps(
        {
            "version": "0",
            "id": "1",
            "detail-type": detail_type,
            "source": "team.a",
            "account": "1",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )


def test_a_detail_nested_deeper_than_pydantics_json_reader_is_still_read():
    nested = inner = {}
    for _ in range(300):
        inner["a"] = {}
        inner = inner["a"]
    detail, producer = launch_event(body({"launchId": "x", "input": nested}))
    assert detail["launchId"] == "x" and producer.source == "team.a"


@pytest.mark.parametrize("raw", ["{not json", body({}, detail_type="Something Else"), json.dumps([1, 2])])
def test_what_is_not_a_launch_event_cannot_be_processed(raw):
    with pytest.raises(UnprocessableEvent):
        launch_event(raw)
