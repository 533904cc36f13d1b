"""One batchlane deployment as a client sees it.

    client = BatchlaneClient.for_deployment(config, boto3.session.Session().client)
    client.put_launch({...})                      # Task Launch Requested on the deployment's bus
    answer = wait_for_answer(client, launch_id)   # batchlane.client.waiting
    client.executions.status(launch_id)           # the status document and the stored phase

``clients`` makes a boto3 client for a service name (a session's ``client``, the CLI's
``Context.client``, the sandbox's endpoint session); each client is made once, when first used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchlane.client.answers import AnswersQueue, answers_queue_name
from batchlane.client.events import abort_detail, put_event
from batchlane.client.outputs import read_outputs
from batchlane.client.records import Executions
from batchlane.client.status import (
    ChildrenPage,
    LaunchSummary,
    child_detail,
    children_page,
    failed_page,
    launch_summary,
)
from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED
from batchlane.common.executions import OPEN_TEAM


class BatchlaneClient:
    def __init__(
        self,
        clients: Callable[[str], Any],
        *,
        bus_name: str,
        executions_table: str,
        answers_queue: str | None = None,
        team: str | None = None,
    ) -> None:
        """``team``: whose launches a launch id names (the team of the source it puts events with;
        None: a deployment without teams)."""
        self._make_client = clients
        self.team = team or OPEN_TEAM
        self._clients: dict[str, Any] = {}
        self.bus_name = bus_name
        self.executions_table = executions_table
        self.answers_queue_name = answers_queue
        self._executions: Executions | None = None
        self._answers: AnswersQueue | None = None

    @classmethod
    def for_deployment(
        cls,
        config,
        clients: Callable[[str], Any],
        *,
        executions_table: str | None = None,
        source: str | None = None,
        team: str | None = None,
    ) -> BatchlaneClient:
        """The names of a deployment configuration (``bus_name``, ``table_name``, ``prefix``); the
        team is ``team``, else the one owning ``source`` (``team_of_source``)."""
        return cls(
            clients,
            bus_name=config.bus_name,
            executions_table=executions_table or config.table_name("executions"),
            answers_queue=answers_queue_name(config.prefix),
            team=team or (config.team_of_source(source) if source else None),
        )

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._make_client(service)
        return self._clients[service]

    @property
    def executions(self) -> Executions:
        if self._executions is None:
            self._executions = Executions(self.client("dynamodb"), self.executions_table, self.team)
        return self._executions

    @property
    def answers(self) -> AnswersQueue:
        """The answers queue (looked up once); its ``url`` is None when the deployment has none."""
        if self._answers is None:
            self._answers = AnswersQueue(self.client("sqs"), self.answers_queue_name)
        return self._answers

    def put_launch(self, detail: Any, source: str) -> None:
        put_event(self.client("events"), self.bus_name, LAUNCH_REQUESTED, detail, source)

    def put_abort(self, launch_id: Any, reason: str | None, source: str, *, team: str | None = None) -> None:
        """``team``: whose launch (an admin team aborting another team's); None: the source's own."""
        detail = abort_detail(launch_id, reason, team)
        put_event(self.client("events"), self.bus_name, ABORT_REQUESTED, detail, source)

    def with_outputs(self, document: dict[str, Any], warn: Callable[[str], None] | None = None) -> dict[str, Any]:
        """The status document with its assembled ``outputs`` once it names them (a final phase)."""
        if document.get("outputsUri"):
            document["outputs"] = read_outputs(self.client("s3"), document["outputsUri"], warn)
        return document

    def summary(self, launch_id: str) -> LaunchSummary:
        """Phase, counts, message, error, links, outputs URI, or a rejection's problems: one read."""
        return launch_summary(self.executions, launch_id)

    def children(self, launch_id: str, *, limit: int = 100, after: int | None = None):
        """A page of the launch's children with their log links, and the ``after`` of the next page."""
        return children_page(self.executions, launch_id, limit=limit, after=after)

    def failed_children(
        self, launch_id: str, *, limit: int = 100, after: int | None = None, summary: LaunchSummary | None = None
    ) -> ChildrenPage:
        """A page of the launch's FAILED children (``summary``: the launch's, spares reads)."""
        return failed_page(self.executions, launch_id, limit=limit, after=after, summary=summary)

    def child(self, launch_id: str, index: int) -> dict[str, Any] | None:
        """One child with every attempt, its log links and its outputs location (None: no event yet)."""
        return child_detail(self.executions, launch_id, index)
