"""How the sandbox's local executor (batchlane.sandbox.local) runs a job: the execution options
(image map, capacity, timeouts) and what SubmitJob gave Batch for the job."""

from __future__ import annotations

import fnmatch
import json
import os
import resource
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from batchlane.sandbox.scenario import Scenario

PYTHON = "{python}"  # in an image map: the sandbox's own interpreter (it has boto3)


@dataclass(frozen=True)
class LocalExecution:
    """How the local executor runs jobs."""

    image_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # image or glob -> entrypoint
    every_launch: bool = False  # False: only the scenario's launches marked ``execute: local``
    max_processes: int | None = None  # default: os.cpu_count()
    stop_grace_seconds: float = 30.0  # SIGTERM -> SIGKILL (Batch and ECS: 30 s)
    attempt_timeout_seconds: float | None = None  # replaces every job's attemptDurationSeconds (time compression)

    @property
    def process_limit(self) -> int:
        return max(1, self.max_processes or os.cpu_count() or 1)

    def argv(self, image: str, command: list[str]) -> list[str]:
        """What runs for a container of ``image`` with Batch's ``command``."""
        entrypoint = self.image_map.get(image)
        if entrypoint is None:
            entrypoint = next((v for k, v in self.image_map.items() if fnmatch.fnmatchcase(image, k)), ())
        words = [sys.executable if w == PYTHON else w for w in (*entrypoint, *command)]
        if not words:
            raise ValueError(
                f"nothing to run for image {image}: the job has no command and the image no imageMap entry"
            )
        return words


def execution_of(scenario: Scenario, execution: LocalExecution | None) -> LocalExecution:
    """The sandbox's ``execution`` (or the default), with the scenario's own ``execute`` and ``imageMap``."""
    execution = execution or LocalExecution()
    return LocalExecution(
        image_map={**scenario.image_map, **execution.image_map},
        every_launch=execution.every_launch or scenario.execute == "local",
        max_processes=execution.max_processes,
        stop_grace_seconds=execution.stop_grace_seconds,
        attempt_timeout_seconds=execution.attempt_timeout_seconds,
    )


@dataclass(frozen=True)
class Submission:
    """What SubmitJob gave Batch for a job: its definition with the submission's overrides."""

    image: str
    command: list[str]
    environment: dict[str, str]
    vcpus: float
    timeout_seconds: float | None
    secrets: tuple[tuple[str, str], ...] = ()  # (variable, valueFrom): ECS reads them when the container starts
    mounts: tuple[tuple[str, str], ...] = ()  # (volume, containerPath)
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard)
    depends_on: tuple[tuple[str, str], ...] = ()  # (job id, "N_TO_N" or "")

    def limit_process(self) -> None:
        """In the child before it runs: the job's ulimits, as far as this process may raise them."""
        for name, soft, hard in self.ulimits:
            which = getattr(resource, f"RLIMIT_{name.upper()}", None)
            if which is None:
                continue
            _, allowed = resource.getrlimit(which)
            top = hard if allowed == resource.RLIM_INFINITY else min(hard, allowed)
            resource.setrlimit(which, (min(soft, top), top))

    def mount(self, volumes: str, workdir: str) -> None:
        """Each mount as ``<workdir>/<containerPath>``, a link to the volume's directory under ``volumes``
        (a process cannot mount at / without root: a job finds its mounts relative to its working directory)."""
        for volume, path in self.mounts:
            source = os.path.join(volumes, volume)
            os.makedirs(source, exist_ok=True)
            target = os.path.join(workdir, path.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)


class SecretUnavailable(ValueError):
    """A secret ECS could not read: the container does not start (ECS's own reason)."""


def secret_values(account: str, region: str, secrets: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """What ECS puts in the container for ``secrets``: each read from the emulator's SSM or Secrets
    Manager (in this process), a JSON secret's key when ``valueFrom`` names one (``arn:key::``)."""
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.ssm.models import ssm_backends

    values = {}
    for name, source in secrets:
        try:
            if source.startswith("arn:") and ":secretsmanager:" in source:
                parts = source.split(":")  # arn:aws:secretsmanager:<region>:<account>:secret:<name>[:key::]
                arn, key = ":".join(parts[:7]), parts[7] if len(parts) > 7 else ""
                backend = secretsmanager_backends[account][region]
                # No version: the current one (moto's own GetSecretValue passes None, typed str).
                secret = backend.get_secret_value(arn, None, None)["SecretString"]  # type: ignore[arg-type]
                values[name] = json.loads(secret)[key] if key else secret
            else:
                parameter = ssm_backends[account][region].get_parameter(source)
                if parameter is None:
                    raise KeyError(source)
                values[name] = parameter.response_object(True, region)["Value"]
        except Exception as exc:  # what ECS reports of any secret it cannot read
            raise SecretUnavailable(
                f"ResourceInitializationError: unable to pull secrets or registry auth: {name} from {source}: "
                f"{type(exc).__name__}"
            ) from None
    return values


def submission_of(account: str, region: str, job_id: str) -> Submission:
    """Read from the emulator's own record of the job (it runs in this process): moto's
    DescribeJobs leaves out the overrides' resourceRequirements."""
    from moto.batch.models import batch_backends

    job = batch_backends[account][region].get_job_by_id(job_id)
    if job is None:
        raise LookupError(f"the emulator has no job {job_id}")
    props = job.job_definition.container_properties or {}
    overrides = job.container_overrides or {}
    environment = {e["name"]: e["value"] for e in [*props.get("environment", []), *overrides.get("environment", [])]}
    environment.pop("AWS_BATCH_JOB_ID", None)  # moto's DescribeJobs adds it to the overrides; set per child below
    requirements = {
        r["type"]: r["value"]
        for r in [*props.get("resourceRequirements", []), *overrides.get("resourceRequirements", [])]
    }
    timeout = (job.timeout or job.job_definition.timeout or {}).get("attemptDurationSeconds")
    return Submission(
        image=props.get("image", ""),
        command=list(overrides.get("command") or props.get("command") or []),
        environment=environment,
        vcpus=float(requirements.get("VCPU", 1)),
        timeout_seconds=float(timeout) if timeout else None,
        secrets=tuple((s["name"], s["valueFrom"]) for s in props.get("secrets", [])),
        mounts=tuple((m["sourceVolume"], m["containerPath"]) for m in props.get("mountPoints", [])),
        ulimits=tuple((u["name"], u["softLimit"], u["hardLimit"]) for u in props.get("ulimits", [])),
        depends_on=tuple((d["jobId"], d.get("type") or "") for d in job.depends_on or []),
    )


DEPENDENCY_FAILED = "Dependent Job failed"  # Batch's statusReason of a job whose dependency failed


def dependency_state(
    depends_on: tuple[tuple[str, str], ...], index: int, finals: Mapping[str, list[str | None]]
) -> str:
    """``ready``, ``waiting`` or ``failed`` for child ``index`` of a job with ``depends_on``, from the
    final status of each child of the jobs it waits for (``finals``: job id -> per child, None while
    it runs; a job not run here is taken as done). N_TO_N waits for the same child; else for all."""
    for job_id, kind in depends_on:
        final = finals.get(job_id)
        if final is None:
            continue
        statuses = final[index : index + 1] if kind == "N_TO_N" else final
        if "FAILED" in statuses:
            return "failed"
        if None in statuses:
            return "waiting"
    return "ready"
