""" "Task Chunk Due" from the status path reaches the launcher's buffer (docs/chunked-maps.md)."""

from __future__ import annotations

from batchlane.deployment.contract import CHUNK_DUE_RULE


def test_chunk_due_events_from_the_status_path_go_to_the_launchers_buffer(dev):
    rules = dev.resources("AWS::Events::Rule")
    [chunk_due] = [
        r["Properties"]
        for r in rules.values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Task Chunk Due"]
    ]
    assert sorted(chunk_due["EventPattern"]["source"]) == sorted(CHUNK_DUE_RULE["pattern"]["source"])
    assert "batchlane.status" in chunk_due["EventPattern"]["source"] and "EventBusName" in chunk_due
    [launch] = [
        r["Properties"]
        for r in rules.values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Task Launch Requested"]
    ]
    [target], [launch_target] = chunk_due["Targets"], launch["Targets"]
    assert target["Arn"] == launch_target["Arn"]  # the same buffer
    assert target["DeadLetterConfig"] == launch_target["DeadLetterConfig"]
    assert target["RetryPolicy"] == launch_target["RetryPolicy"]
    assert chunk_due["EventBusName"] == launch["EventBusName"]
