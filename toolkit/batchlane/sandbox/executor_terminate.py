"""The simulated Batch executor's answers to DescribeJobs and TerminateJob (batchlane.sandbox.executor):
what is true at the simulated Batch now, and a terminated job's children stopped."""

from __future__ import annotations

import copy
import heapq
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from batchlane.sandbox import simulate
from batchlane.sandbox.executor_plan import TERMINAL, Planning, ScheduledAction, SimulatedJob

log = logging.getLogger("batchlane.sandbox")
RAW_HEADER = "X-Batchlane-Sandbox-Raw"  # DescribeJobs with it: the emulator's own record, unchanged


class Termination(Planning):
    batch: Any  # the emulator's Batch client

    # ------------------------------------------------------------------ the clock
    def batch_now(self) -> float:
        """Now at the simulated Batch: the monotonic clock, held back while the executor is behind
        its schedule (Batch cannot be past what it has not done yet: an abort of a big map the
        executor is still emitting stops what has not been emitted, as it would stop it at Batch)."""
        now = time.monotonic()
        with self._lock:
            return min(now, self._heap[0].at) if self._heap else now

    # ------------------------------------------------------------------ DescribeJobs
    def describe_now(self, job_id: str) -> dict[str, Any] | None:
        """What DescribeJobs says of ``job_id`` (a job or ``<job>:<index>``) at the simulated Batch
        now: its latest state at its true time (the detail of that state's event), the array
        parent's ``statusSummary`` counted from its children. None when the job is not simulated
        (yet), or nothing has happened to it yet."""
        parent_id, _, index = job_id.partition("#" if "#" in job_id else ":")  # a node: "<job>#<node>"
        now = self.batch_now()
        with self._lock:
            job = self.jobs.get(parent_id)
            if job is None or (index and not (job.is_array or job.nodes)):
                return None
            history = [
                (t, child, event)
                for t, child, event in job.history
                if t <= now and not (child in job.outputs_pending and event["detail"]["status"] == "SUCCEEDED")
            ]
        target = (int(index) if index.isdigit() else -1) if index else (None if job.is_array or job.nodes else 0)
        latest: dict[int | None, tuple[float, dict]] = {}
        for t, child, event in history:
            if child not in latest or t >= latest[child][0]:
                latest[child] = (t, event)
        if target not in latest:
            return None
        detail = copy.deepcopy(latest[target][1]["detail"])
        if job.is_array and target is None:
            summary = dict.fromkeys(
                ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"), 0
            )
            for i in range(job.size):
                summary[(latest[i][1]["detail"]["status"]) if i in latest else "PENDING"] += 1
            detail.setdefault("arrayProperties", {})["statusSummary"] = summary
        return detail

    def described(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """The emulator's DescribeJobs entry of a job -> the simulated Batch's. moto runs nothing
        (it reports every job SUCCEEDED at once): a job not started yet here is SUBMITTED. A
        TerminateJob reason moto recorded shows until the job has ended, as at Batch."""
        job_id = str(recorded.get("jobId", ""))
        simulated = self.describe_now(job_id)
        if simulated is None:
            simulated = copy.deepcopy(recorded)
            simulated["status"] = "SUBMITTED"
            simulated["attempts"] = []
            for key in ("startedAt", "stoppedAt", "statusReason"):
                simulated.pop(key, None)
            _, _, index = job_id.partition(":")
            if index.isdigit():
                simulated["arrayProperties"] = {"index": int(index)}
            elif isinstance(simulated.get("arrayProperties"), dict) and "size" in simulated["arrayProperties"]:
                size = int(simulated["arrayProperties"]["size"])
                simulated["arrayProperties"]["statusSummary"] = {"SUBMITTED": size}
        if recorded.get("statusReason") and simulated.get("status") not in TERMINAL:
            simulated["statusReason"] = recorded["statusReason"]
        return simulated

    # ------------------------------------------------------------------ TerminateJob
    def check_terminations(self) -> None:
        """Honour TerminateJob: moto records the call (``statusReason`` in DescribeJobs) but runs
        nothing; stop the children of a terminated job that have not ended yet."""
        with self._lock:
            live = [j.job_id for j in self.jobs.values() if j.terminated is None and not j.finished]
        for i in range(0, len(live), 100):
            for described in self.batch.describe_jobs(jobs=live[i : i + 100]).get("jobs", []):
                reason = described.get("statusReason")
                job = self.jobs.get(described.get("jobId", ""))
                if reason and job is not None:
                    self.terminate(job, reason)

    def terminate(self, job: SimulatedJob, reason: str) -> None:
        """What Batch does on TerminateJob of a job (an array parent stops every child): each
        child not yet final ends FAILED now, with the reason in ``statusReason`` (a running
        attempt is stopped: exit code 143); nothing it had still to do happens."""
        now = self.batch_now()
        now_ms = int(time.time() * 1000)
        status_reason = f"Terminated by batchlane: {reason.removeprefix('batchlane: ')}"
        with self._lock:
            if job.terminated is not None:
                return
            job.terminated = reason
            last: dict[int | None, dict] = {}
            for t, child, event in job.history:
                if t <= now:
                    last[child] = event
            stopped = [
                i for i in range(job.size) if (last.get(i) or {}).get("detail", {}).get("status") not in TERMINAL
            ]
            if not stopped:
                return
            job.unsettled = 0  # every child still going ends now, and the parent after them
            self.capacity.release(job.job_id, now)
            gone: set[int | None] = {*stopped, None}
            keep = [a for a in self._heap if not (a.job_id == job.job_id and a.true_at > now and a.child in gone)]
            dropped = len(self._heap) - len(keep)
            heapq.heapify(keep)
            self._heap = keep
            max_attempts = max(1, job.record.attempts)
            new: list[ScheduledAction] = []
            at = now + self.step_seconds
            for index in stopped:
                event = self._terminated_event(job, index, last.get(index), status_reason, now_ms, max_attempts)
                attempts = event["detail"]["attempts"]
                if (last.get(index) or {}).get("detail", {}).get("status") == "RUNNING":
                    new.append(
                        ScheduledAction(
                            at, next(self._seq), "logs", job.job_id, (index, len(attempts) - 1, "end", event), index, at
                        )
                    )
                new.append(ScheduledAction(at, next(self._seq), "emit", job.job_id, event, index, at))
                job.history.append((at, index, event))
                job.children_final[index] = "FAILED"
            parent = self._stopped_job_event(job, status_reason)
            if parent is not None:
                parent["detail"]["stoppedAt"] = now_ms
                new.append(
                    ScheduledAction(at + self.step_seconds, next(self._seq), "emit", job.job_id, parent, None, at)
                )
                job.history.append((at + self.step_seconds, None, parent))
            for a in new:
                heapq.heappush(self._heap, a)
            job.pending_actions += len(new) - dropped
        log.info("job %s terminated (%s): %d children stopped", job.job_id, reason, len(stopped))

    def _stopped_job_event(self, job: SimulatedJob, status_reason: str) -> dict[str, Any] | None:
        """The last event of a stopped array's parent or multi-node job (FAILED); None: a plain job's is its child's."""
        if job.is_array:
            ok = sum(1 for v in job.children_final.values() if v == "SUCCEEDED")
            return self._parent_end_event(job, ok, status_reason)  # FAILED: a child was stopped
        if job.nodes is not None:
            event = self._multi_node_event(job, "FAILED")
            event["detail"]["statusReason"] = status_reason
            return event
        return None

    def _terminated_event(
        self, job: SimulatedJob, index: int, last: dict | None, status_reason: str, now_ms: int, max_attempts: int
    ) -> dict[str, Any]:
        if last is None:  # no event yet (terminated before it was scheduled)
            event = simulate.job_event(
                job_id=job.job_id,
                status="FAILED",
                index=index if job.is_array or job.nodes else None,
                nodes=job.nodes,
                log_group=job.log_group,
                region=self.config.region,
                retry_attempts=max_attempts,
            )
            event = self._localize(event, job, max_attempts)
        else:
            event = copy.deepcopy(last)
        event["detail-type"] = simulate.STATE_CHANGE  # the last one may have been a Queue Blocked event
        detail = event["detail"]
        event["resources"] = [detail["jobArn"]]
        if last is not None and detail["status"] == "RUNNING":  # the running attempt is stopped
            container = detail.get("container", {})
            detail["attempts"] = [
                *detail.get("attempts", []),
                {
                    "container": {
                        "taskArn": container.get("taskArn"),
                        "exitCode": 143,
                        "logStreamName": container.get("logStreamName"),
                        "networkInterfaces": [],
                    },
                    "startedAt": detail.get("startedAt") or now_ms,
                    "stoppedAt": now_ms,
                    "statusReason": status_reason,
                },
            ]
            container["exitCode"] = 143
        detail["status"] = "FAILED"
        detail["statusReason"] = status_reason
        detail["stoppedAt"] = now_ms
        return event


def ask_for_raw_record(request: Any, **_kwargs: Any) -> None:
    """botocore hook: this DescribeJobs call gets the emulator's own record (see install_describe_jobs)."""
    request.headers[RAW_HEADER] = "1"


def install_describe_jobs(executor: Termination) -> Callable[[], None]:
    """Make the emulator's DescribeJobs answer as the simulated Batch (``executor.described``)
    for every caller but the executor; returns the function that puts moto's answer back. The
    emulator runs in this process: its response class is patched while the sandbox runs."""
    from moto.batch import responses

    original = responses.BatchResponse.describejobs

    def describejobs(self) -> str:
        answer = original(self)
        if self.headers.get(RAW_HEADER):
            return answer
        jobs = json.loads(answer).get("jobs", [])
        return json.dumps({"jobs": [executor.described(job) for job in jobs]})

    # moto's response class is patched in place while the sandbox runs (its handlers are methods).
    responses.BatchResponse.describejobs = describejobs  # type: ignore[method-assign]

    def uninstall() -> None:
        responses.BatchResponse.describejobs = original  # type: ignore[method-assign]

    return uninstall
