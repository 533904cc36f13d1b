"""The optional answers queue of a deployment: ``<prefix>-answers``, an SQS queue behind a rule on
batchlane's bus for the detail-types below (the sandbox provisions one; a deployment can add the
same, docs/sandbox.md). A second source of launch answers (the executions table is the first) and the
only one of an abort's rejection, which leaves no item."""

from __future__ import annotations

import json
import time
from typing import Any

from batchlane.common.event_types import ABORT_REJECTED, LAUNCH_REJECTED, LAUNCHED

# What the answers queue's rule routes to it (source ``batchlane``).
ANSWER_TYPES = (LAUNCHED, LAUNCH_REJECTED, ABORT_REJECTED)
STALE_ANSWER_SECONDS = 600  # answers nobody took are dropped after this (the queue keeps them 10 minutes)


def answers_queue_name(prefix: str) -> str:
    """The answers queue of the deployment whose resource names start with ``prefix``."""
    return f"{prefix}-answers"


class AnswersQueue:
    """Read without taking other clients' answers (visibility 0); delete our own answer and answers
    nobody took for a long time. ``url`` is None when the deployment has no answers queue."""

    def __init__(self, sqs, name: str | None) -> None:
        self.sqs = sqs
        self.url: str | None = None
        if name is None:
            return
        try:
            self.url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if "NonExistentQueue" not in code and "QueueDoesNotExist" not in code:
                raise

    def find(
        self, launch_id: str, detail_types: tuple[str, ...] = (LAUNCHED, LAUNCH_REJECTED), team: str | None = None
    ) -> dict[str, Any] | None:
        """The event of one of ``detail_types`` batchlane answered ``team``'s ``launch_id`` with, if it
        is in the queue (the last type wins when several are there: the rejection). Another team's
        answer under the same id is not this one's; an answer without a team (a producer batchlane
        does not let launch) is only for a client whose source no team owns (OPEN_TEAM)."""
        if self.url is None:
            return None
        from batchlane.common.executions import OPEN_TEAM  # pydantic: not at the command line's start

        team = team or OPEN_TEAM
        messages = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        found = None
        now_ms = time.time() * 1000
        for m in messages:
            try:
                event = json.loads(m["Body"])
            except ValueError:
                event = {}
            detail = event.get("detail") or {}
            mine = (
                detail.get("launchId") == launch_id
                and (detail.get("team") or OPEN_TEAM) == team
                and event.get("detail-type") in detail_types
            )
            stale = now_ms - int(m.get("Attributes", {}).get("SentTimestamp", now_ms)) > STALE_ANSWER_SECONDS * 1000
            if mine or stale:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            if mine and (found is None or event["detail-type"] == detail_types[-1]):
                found = event
        return found
