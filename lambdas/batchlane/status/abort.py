"""Stopping a launch on request: "Task Abort Requested" in, TerminateJob and the phase ``aborted`` out."""

from __future__ import annotations

import json

from batchlane.common.event_types import ABORT_REJECTED, ABORT_REQUESTED
from batchlane.common.executions import FINAL_PHASES, OPEN_TEAM, launch_key
from batchlane.common.ports import Announcer, Counter, Log, SettingsSource
from batchlane.common.tenancy import Producer
from batchlane.status.models import TaskAbortRejected, TaskAbortRequested
from batchlane.status.ports import Contention, LaunchNotFound, StatusStore
from batchlane.status.transitions import PhaseKeeper, counts_of

ABORT_RETRIES = 5


def abort_request(body: str | bytes | dict) -> tuple[TaskAbortRequested, Producer | None] | None:
    """The abort request in an SQS body and who sent it (the event's source and account), or None
    when the body is not one."""
    try:
        data = body if isinstance(body, dict) else json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("detail-type") != ABORT_REQUESTED:
        return None
    source, account = data.get("source"), data.get("account")
    producer = (
        Producer(source=source, account=account if isinstance(account, str) and account else None)
        if isinstance(source, str) and source
        else None
    )
    return TaskAbortRequested.from_detail(data.get("detail")), producer


class Aborter:
    def __init__(
        self,
        *,
        store: StatusStore,
        phases: PhaseKeeper,
        announcer: Announcer,
        metrics: Counter,
        log: Log,
        settings: SettingsSource,
    ) -> None:
        self.settings = settings
        self.store = store
        self.phases = phases
        self.announcer = announcer
        self.metrics = metrics
        self.log = log

    def abort(self, request: TaskAbortRequested, producer: Producer | None = None) -> None:
        """TerminateJob on the launch's Batch job (the parent stops the children), then the phase
        ``aborted``. An unknown or finished launch, or one this producer may not abort (another
        team's, docs/security.md), is answered with "Task Abort Rejected" and acknowledged; a
        launch still being submitted, or in the middle of another phase change, is retried
        (bounded by the queue's maxReceiveCount)."""
        self.metrics.count("AbortRequested")
        tenancy = self.settings.get().producers
        known, unknown = tenancy.identify(producer)
        if unknown:  # nobody batchlane knows: answered before any AWS call
            return self._reject(request.launchId, None, unknown)
        if request.launchId is None:
            return self._reject(None, None, "the event names no launchId")
        own = (known.team if known is not None else None) or OPEN_TEAM
        team = request.team or own
        if team != own and not tenancy.is_admin(known):  # another team's ids are not even looked up
            return self._reject(request.launchId, team, f"team {own} may abort its own launches only")
        launch = self.store.get_launch(launch_key(team, request.launchId))
        if launch is None:
            return self._reject(request.launchId, team, "no such launch")
        refused = tenancy.abort_problem(producer, launch.producer, launch.project, launch.domain)
        if refused:
            return self._reject(request.launchId, team, refused)
        if not launch.job_id:
            raise LaunchNotFound(f"launch {request.launchId} is still being submitted")
        reason = "aborted on request" + (f": {request.reason}" if request.reason else "")
        for _ in range(ABORT_RETRIES):
            summary = self.store.summary(launch.key) or {}
            if summary.get("phase") in FINAL_PHASES:
                return self._reject(
                    launch.launch_id, team, f"the launch has already {summary['phase']}", summary["phase"]
                )
            if self.phases.move(
                launch,
                summary,
                "aborted",
                reason,
                counts_of(summary, launch.size, launch.chunks),
                terminate=f"batchlane: {reason}",
            ):
                self.metrics.count("LaunchAborted")
                return None
        raise Contention(f"launch {launch.launch_id}: the phase kept changing while aborting it")

    def _reject(self, launch_id: str | None, team: str | None, reason: str, phase: str | None = None) -> None:
        self.log.warning("abort rejected", extra={"launchId": launch_id, "team": team, "reason": reason})
        self.metrics.count("AbortRejected")
        self.announcer.publish(
            ABORT_REJECTED, TaskAbortRejected(launchId=launch_id, team=team, reason=reason, phase=phase).detail()
        )
