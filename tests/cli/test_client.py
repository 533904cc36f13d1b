"""The client layer (batchlane.client) on its own, against moto: what the CLI and the sandbox share."""

from __future__ import annotations

import pytest

from batchlane.client.events import EventRefused, put_event


def test_a_refused_event_names_the_bus_and_the_reason(aws, boto_session):
    events = boto_session.client("events")
    events.create_event_bus(Name="batchlane-dev")
    with pytest.raises(
        EventRefused, match="PutEvents on bus batchlane-dev refused the Task Launch Requested event: MalformedDetail"
    ):
        put_event(events, "batchlane-dev", "Task Launch Requested", "not json {", "me")
