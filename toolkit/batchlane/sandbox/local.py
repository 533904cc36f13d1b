"""The sandbox's local process executor: each job's container command really runs, here.

Opt-in (``Sandbox(..., execution=LocalExecution(every_launch=True))``, ``batchlane sandbox up
--execute local``, a scenario's ``execute: local``, or ``execute: local`` on one launch of a
scenario); the other launches stay simulated (:class:`batchlane.sandbox.executor.BatchExecutor`).
No Docker: the image is recorded, and what runs for it is the job's command after the image's
local *entrypoint* (the ``imageMap``: image reference or glob pattern -> words run before the
command, as a Docker image's ENTRYPOINT runs before Batch's ``command``); an image that is not
mapped runs the command itself.

Each child (or the plain job) goes through what Batch does, and every state change is an event
built the way the simulated executor builds them (:mod:`batchlane.sandbox.simulate`, localised to
the job by the executor): RUNNABLE while it waits for capacity (the queue's compute
environments' ``maxVcpus`` over the job's vCPUs, and at most ``max_processes`` processes at
once), STARTING, RUNNING once the process has started (with its log stream), then the process's
exit code decides: SUCCEEDED on 0; otherwise a retry (RUNNABLE again, up to the job's
``retryStrategy.attempts``) or FAILED. An attempt that outlives ``attemptDurationSeconds`` gets
SIGTERM, then SIGKILL after ``stop_grace_seconds``, and ends FAILED with Batch's reason "Job
attempt duration exceeded timeout", not retried (as at Batch); a process killed by signal N shows
exit code 128 + N, as a container does. TerminateJob SIGTERMs the job's processes. stdout and
stderr go to the attempt's CloudWatch Logs stream, the one its events and log links name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from batchlane.sandbox import simulate
from batchlane.sandbox.executor import BatchExecutor
from batchlane.sandbox.executor_plan import TERMINAL, ScheduledAction, SimulatedJob, Timeline
from batchlane.sandbox.local_execution import (
    DEPENDENCY_FAILED,
    LocalExecution,
    SecretUnavailable,
    Submission,
    dependency_state,
    secret_values,
    submission_of,
)
from batchlane.sandbox.provision import compute_environment_name
from batchlane.sandbox.scenario import Delivery, LaunchSpec, Scenario
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan

log = logging.getLogger("batchlane.sandbox")
TIMEOUT_REASON = "Job attempt duration exceeded timeout"  # Batch's statusReason
START_FAILED = "Task failed to start"
# What a process needs from this machine to run at all; nothing else of the sandbox's environment
# leaks into a job (a container does not see its host's variables either).
HOST_VARIABLES = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT")
LOG_BATCH = 1000  # log events per PutLogEvents


@dataclass
class Attempt:
    plan: AttemptPlan = AttemptPlan()  # "ok" until the process has ended
    started_ms: int = 0
    stopped_ms: int | None = None
    reason: str = simulate.EXITED
    start_error: str | None = None  # the process could not start (no log stream, no exit code)


@dataclass
class LocalChild:
    index: int
    attempts: list[Attempt] = field(default_factory=lambda: [Attempt()])
    sent: int = 0  # how many of the child's events have been emitted
    process: subprocess.Popen | None = None
    stop_reason: str | None = None  # why its process is being stopped (timeout, TerminateJob)
    done: bool = False
    dependency: str = "ready"  # of the jobs it waits for (dependsOn): ready, waiting or failed


@dataclass
class LocalJob:
    job: SimulatedJob
    submission: Submission
    delivery: Delivery
    timeout_seconds: float | None
    queue: str
    children: list[LocalChild]


class LocalBatchExecutor(BatchExecutor):
    """The simulated executor, whose launches opted in run as local processes (module docstring)."""

    def __init__(
        self,
        session,
        deployment,
        scenario: Scenario | None = None,
        *,
        execution: LocalExecution | None = None,
        environment: Mapping[str, str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(session, deployment, scenario, **kwargs)
        self.execution = execution or LocalExecution()
        self.environment = dict(environment or {})  # what points a job at the emulator (endpoint, credentials, region)
        self.local: dict[str, LocalJob] = {}
        self.volumes = tempfile.mkdtemp(prefix="batchlane-volumes-")  # a directory per declared volume
        self._waiting: deque[tuple[LocalJob, LocalChild]] = deque()
        self._vcpus_in_use: dict[str, float] = {}
        self.running = 0  # processes running now
        self.peak_running = 0

    def runs_locally(self, spec: LaunchSpec) -> bool:
        return spec.execute == "local" or (spec.execute is None and self.execution.every_launch)

    # ------------------------------------------------------------------ a new job
    def _plan(self, job: SimulatedJob, spec: LaunchSpec) -> list[ScheduledAction]:
        if not self.runs_locally(spec) or job.nodes is not None:  # a multi-node job's nodes are simulated
            return super()._plan(job, spec)
        submission = submission_of(self.deployment.account, self.config.region, job.job_id)
        timeout = spec.attempt_duration_seconds or self.execution.attempt_timeout_seconds or submission.timeout_seconds
        local = LocalJob(
            job, submission, spec.delivery, timeout, job.record.queue, [LocalChild(i) for i in range(job.size)]
        )
        with self._lock:
            self.local[job.job_id] = local
            job.unsettled = job.size + (1 if job.is_array else 0)
            timeline: Timeline = (
                [(time.monotonic(), "emit", self._parent_pending_event(job), None)] if job.is_array else []
            )
            for child in local.children:
                timeline += [
                    (time.monotonic(), "emit", e, child.index) for e in self._advance(local, child, {"RUNNABLE"})
                ]
                self._waiting.append((local, child))
            return self._deliver(job, spec.delivery, timeline)

    # ------------------------------------------------------------------ events
    def _advance(self, local: LocalJob, child: LocalChild, until: set[str]) -> list[dict[str, Any]]:
        """The child's next events, up to the first whose status is in ``until``: simulate's
        history of its attempts so far, localised, with the real times, exit codes and reasons."""
        job = local.job
        plan = ChildPlan(attempts=tuple(a.plan for a in child.attempts), pending=job.is_array)
        events = simulate.child_events(job.job_id, child.index, plan, is_array=job.is_array, log_group=job.log_group)
        out = []
        for event in events[child.sent :]:
            child.sent += 1
            out.append(self._as_run(self._localize(event, job, max(1, job.record.attempts)), child))
            if event["detail"]["status"] in until:
                break
        return out

    @staticmethod
    def _as_run(event: dict[str, Any], child: LocalChild) -> dict[str, Any]:
        """simulate's invented times and reasons -> what happened to the child's processes."""
        detail = event["detail"]
        records = detail.get("attempts", [])
        for record, attempt in zip(records, child.attempts):
            record["startedAt"], record["stoppedAt"], record["statusReason"] = (
                attempt.started_ms,
                attempt.stopped_ms,
                attempt.reason,
            )
            if attempt.start_error:
                record["container"]["reason"] = attempt.start_error
        status = detail["status"]
        if status == "RUNNING":
            detail["startedAt"] = child.attempts[len(records)].started_ms
        elif status in TERMINAL and records:
            last = child.attempts[len(records) - 1]
            detail["stoppedAt"], detail["statusReason"] = last.stopped_ms, last.reason
            if last.start_error:  # never started: no startedAt
                detail["container"]["reason"] = last.start_error
                detail.pop("startedAt", None)
            else:
                detail["startedAt"] = last.started_ms
        return event

    def _emit(self, local: LocalJob, child: int | None, events: list[dict[str, Any]]) -> None:
        """Deliver events of the job now (the scenario's delivery chaos applies)."""
        with self._lock:
            now = time.monotonic()
            self._schedule(
                self._deliver(local.job, local.delivery, [(now, "emit", e, child) for e in events]), local.job
            )

    # ------------------------------------------------------------------ capacity
    def _queue_vcpus(self, queue: str) -> float:
        """The vCPUs of the queue's compute environments (maxVcpus), as in the deployment."""
        config = self.config
        ces = {ce.name: ce.max_vcpus for ce in config.compute_environments}
        spec = next((q for q in config.job_queues if config.queue_name(q) == queue), None)
        return float(sum(ces[name] for name in spec.compute_environments)) if spec else float("inf")

    def _admit(self) -> list[tuple[LocalJob, LocalChild]]:
        """Take the waiting attempts that fit now, first come first served per queue."""
        admitted, blocked = [], set()
        with self._lock:
            for entry in list(self._waiting):
                local, child = entry
                if local.job.terminated is not None:
                    self._waiting.remove(entry)
                    continue
                child.dependency = self._dependency(local, child)
                if child.dependency == "waiting":  # Batch keeps it PENDING; others may go ahead
                    continue
                capacity = self._queue_vcpus(local.queue)
                need = min(local.submission.vcpus, capacity)  # a job bigger than its queue runs alone
                used = self._vcpus_in_use.get(local.queue, 0.0)
                if local.queue in blocked or self.running >= self.execution.process_limit or used + need > capacity:
                    blocked.add(local.queue)
                    continue
                self._waiting.remove(entry)
                self._vcpus_in_use[local.queue] = used + need
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
                admitted.append(entry)
        return admitted

    def _dependency(self, local: LocalJob, child: LocalChild) -> str:
        finals = {
            job_id: [other.job.children_final.get(i) for i in range(other.job.size)]
            for job_id, _ in local.submission.depends_on
            if (other := self.local.get(job_id)) is not None
        }
        return dependency_state(local.submission.depends_on, child.index, finals)

    def _release(self, local: LocalJob) -> None:
        with self._lock:
            capacity = self._queue_vcpus(local.queue)
            self._vcpus_in_use[local.queue] -= min(local.submission.vcpus, capacity)
            self.running -= 1

    def tick(self) -> None:
        for local, child in self._admit():
            self._start(local, child)

    # ------------------------------------------------------------------ processes
    def _environment(self, local: LocalJob, child: LocalChild) -> dict[str, str]:
        """What Batch gives the container, plus what points AWS clients at the sandbox."""
        job, config = local.job, self.config
        queue = next((q for q in config.job_queues if config.queue_name(q) == local.queue), None)
        env = {k: os.environ[k] for k in HOST_VARIABLES if k in os.environ}
        env.update(local.submission.environment)  # the definition's, then the submission's (BATCHLANE_*)
        env.update(secret_values(self.deployment.account, self.config.region, local.submission.secrets))
        env.update(self.environment)
        env.update(
            {
                "AWS_BATCH_JOB_ID": f"{job.job_id}:{child.index}" if job.is_array else job.job_id,
                "AWS_BATCH_JOB_ATTEMPT": str(len(child.attempts)),
                "AWS_BATCH_JQ_NAME": local.queue,
                "AWS_BATCH_CE_NAME": compute_environment_name(config, queue.compute_environments[0]) if queue else "",
            }
        )
        if job.is_array:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(child.index)
        return env

    def _start(self, local: LocalJob, child: LocalChild) -> None:
        attempt = child.attempts[-1]
        with self._lock:
            if local.job.terminated is not None:  # between its admission and now
                self._release(local)
                return
            self._emit(local, child.index, self._advance(local, child, {"STARTING"}))
        if child.dependency == "failed":  # Batch fails it unrun (here: one attempt that never starts)
            attempt.plan, attempt.reason = AttemptPlan(outcome="nostart"), DEPENDENCY_FAILED
            attempt.start_error = DEPENDENCY_FAILED
            self._ended(local, child)
            return
        workdir = tempfile.mkdtemp(prefix="batchlane-job-")  # a fresh filesystem per attempt, as a container has
        try:
            argv = self.execution.argv(local.submission.image, local.submission.command)
            local.submission.mount(self.volumes, workdir)
            process = subprocess.Popen(
                argv,
                env=self._environment(local, child),
                cwd=workdir,
                # Only with ulimits: a function run between fork and exec in a threaded process is a risk.
                preexec_fn=local.submission.limit_process if local.submission.ulimits else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            attempt.plan, attempt.reason = AttemptPlan(outcome="nostart"), START_FAILED
            attempt.start_error = (
                str(exc) if isinstance(exc, SecretUnavailable) else f"CannotStartContainerError: {exc}"
            )
            self._ended(local, child)
            return
        attempt.started_ms = int(time.time() * 1000)
        log.info(
            "job %s child %d attempt %d: pid %d runs %s",
            local.job.job_id,
            child.index,
            len(child.attempts),
            process.pid,
            argv,
        )
        with self._lock:
            child.process = process
            running = self._advance(local, child, {"RUNNING"})
            if local.job.terminated is None:  # else its supervisor stops it at once
                self._emit(local, child.index, running)
        stream = running[-1]["detail"]["container"]["logStreamName"]
        threading.Thread(
            target=self._supervise,
            args=(local, child, process, stream, workdir),
            name=f"sandbox-job-{local.job.job_id[:8]}-{child.index}",
            daemon=True,
        ).start()

    def _supervise(
        self, local: LocalJob, child: LocalChild, process: subprocess.Popen, stream: str, workdir: str
    ) -> None:
        """One attempt's process, from its start to its end (then the child's next step)."""
        logs = _LogStream(self, local.job.log_group, stream)
        readers = [
            threading.Thread(target=logs.read, args=(pipe,), daemon=True) for pipe in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        try:
            self._watch(local, child, process, logs)
            for reader in readers:
                reader.join(timeout=5)
            logs.flush()
        except Exception:
            log.exception("job %s child %d: supervising its process failed", local.job.job_id, child.index)
            _signal(process, signal.SIGKILL)
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        attempt = child.attempts[-1]
        code = process.returncode
        attempt.plan = (
            AttemptPlan() if code == 0 else AttemptPlan(outcome="exit", exit_code=code if code > 0 else 128 - code)
        )
        if child.stop_reason == TIMEOUT_REASON:
            attempt.reason = TIMEOUT_REASON
        self._ended(local, child)

    def _watch(self, local: LocalJob, child: LocalChild, process: subprocess.Popen, logs: _LogStream) -> None:
        """Until the process exits: its output to its log stream, SIGTERM on timeout or TerminateJob
        (SIGKILL after the grace)."""
        deadline = time.monotonic() + local.timeout_seconds if local.timeout_seconds else None
        kill_at = None
        while True:
            try:
                process.wait(timeout=0.25)
                return
            except subprocess.TimeoutExpired:
                pass
            logs.flush()
            if child.stop_reason is None and deadline is not None and time.monotonic() >= deadline:
                child.stop_reason = TIMEOUT_REASON
            if child.stop_reason is not None and kill_at is None:
                _signal(process, signal.SIGTERM)
                kill_at = time.monotonic() + self.execution.stop_grace_seconds
            elif kill_at is not None and time.monotonic() >= kill_at:
                _signal(process, signal.SIGKILL)

    def _ended(self, local: LocalJob, child: LocalChild) -> None:
        """An attempt is over: retry it, or end the child (and then perhaps the array parent)."""
        self._release(local)
        job = local.job
        with self._lock:
            child.process = None
            attempt = child.attempts[-1]
            attempt.stopped_ms = int(time.time() * 1000)
            if job.terminated is not None:  # TerminateJob has ended the child already
                return
            retry = (
                attempt.plan.failed
                and attempt.reason not in (TIMEOUT_REASON, DEPENDENCY_FAILED)  # Batch retries neither
                and len(child.attempts) < max(1, job.record.attempts)
            )
            if retry:
                child.attempts.append(Attempt())
                self._emit(local, child.index, self._advance(local, child, {"RUNNABLE"}))
                self._waiting.append((local, child))
                return
            self._emit(local, child.index, self._advance(local, child, set(TERMINAL)))
            child.done = True
            job.children_final[child.index] = "FAILED" if attempt.plan.failed else "SUCCEEDED"
            job.unsettled -= 1
            if job.is_array and all(c.done for c in local.children):
                ok = sum(1 for v in job.children_final.values() if v == "SUCCEEDED")
                self._emit(local, None, [self._parent_end_event(job, ok)])
                job.unsettled -= 1

    # ------------------------------------------------------------------ stopping
    def terminate(self, job: SimulatedJob, reason: str) -> None:
        """Batch's TerminateJob (the events: the simulated executor's), and the processes stopped."""
        super().terminate(job, reason)
        local = self.local.get(job.job_id)
        if local is None:
            return
        with self._lock:
            for child in local.children:
                child.stop_reason = child.stop_reason or f"terminated: {reason}"  # the supervisor SIGTERMs it

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def ensure_log_stream(self, group: str, stream: str) -> None:
        with self._lock:
            self._ensure_stream(group, stream)

    def processes(self, launch_id: str) -> list[subprocess.Popen]:
        """The launch's processes running now."""
        with self._lock:
            return [
                c.process
                for local in self.local.values()
                if local.job.launch_id == launch_id
                for c in local.children
                if c.process is not None and c.process.poll() is None
            ]

    def stop(self) -> None:
        """The sandbox stops: no process outlives it."""
        super().stop()
        with self._lock:
            running = [c.process for local in self.local.values() for c in local.children if c.process is not None]
        for process in running:
            _signal(process, signal.SIGKILL)
        shutil.rmtree(self.volumes, ignore_errors=True)


def _signal(process: subprocess.Popen, signum: int) -> None:
    """Signal the process's whole group (it runs in a session of its own): a shell's children too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


class _LogStream:
    """A process's stdout and stderr, line by line, to its CloudWatch Logs stream (as awslogs does)."""

    def __init__(self, executor: LocalBatchExecutor, group: str, stream: str) -> None:
        self.executor, self.group, self.stream = executor, group, stream
        self._lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        executor.ensure_log_stream(group, stream)

    def read(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            with self._lock:
                self._lines.append(
                    {"timestamp": int(time.time() * 1000), "message": raw.decode(errors="replace").rstrip("\r\n")}
                )
        pipe.close()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        try:
            for i in range(0, len(lines), LOG_BATCH):
                self.executor.backplane.put_log_events(self.group, self.stream, lines[i : i + LOG_BATCH])
        except Exception:
            if not self.executor.stopping:
                raise
