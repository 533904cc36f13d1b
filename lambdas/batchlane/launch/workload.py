"""What a job's container gets beyond image, command and resources (issue 28): declared volumes,
shared memory, tmpfs, ulimits, an init process. Pure: the checks that need the deployment's settings,
and the job definition's properties (Batch takes none of them at SubmitJob)."""

from __future__ import annotations

from typing import Any

from batchlane.common.settings import Settings
from batchlane.launch.models import LaunchRequest
from batchlane.launch.problems import Problem, quoted

# Fields a launch may not have, with why: named in the rejection instead of "unknown field".
REFUSED_FIELDS = {
    "privileged": "batchlane never runs a privileged container (it would own its host)",
    "devices": "host devices are not offered (GPUs come with container.resources.gpu)",
    "volumes": "volumes are declared by the deployment (volumes): mount one with container.mounts",
    "host": "host volumes are refused: mount a volume the deployment declares",
    "hostPath": "host paths are refused: mount a volume the deployment declares",
    "sourcePath": "host paths are refused: mount a volume the deployment declares",
    "user": "a job runs as its image's user",
}
EC2_ONLY = {"sharedMemoryMiB": "shared memory size", "tmpfs": "tmpfs mounts", "ulimits": "ulimits"}


def _at(raw: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            raw = raw[key] if isinstance(raw, list) and key < len(raw) else None
        else:
            raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def workload_problems(raw: Any, settings: Settings) -> list[Problem]:
    """Mounts of volumes declared for the project (read-only ones read-only), one mount per path,
    shared memory within the memory, and no EC2-only parameter on Fargate."""
    project, container = _at(raw, "project"), _at(raw, "container")
    if not isinstance(container, dict):
        return []
    problems = _mount_problems(container, project, settings) if isinstance(project, str) else []
    if container.get("platform") == "FARGATE":
        problems += [
            Problem(field=f"container.{name}", message=f"Fargate takes no {what}: use platform EC2")
            for name, what in EC2_ONLY.items()
            if container.get(name)
        ]
    elif container.get("ephemeralStorageGiB") is not None:
        ec2 = [name for name in EC2_ONLY if container.get(name)]
        if container.get("platform") == "EC2" or ec2:
            asked = ", ".join(ec2) or "platform EC2"
            problems.append(
                Problem(field="container.ephemeralStorageGiB", message=f"Fargate only, and {asked} is EC2 only")
            )
    shm, memory = _at(container, "sharedMemoryMiB"), _at(container, "resources", "memory")
    memory = 2048 if memory is None else memory
    if isinstance(shm, int) and isinstance(memory, int) and shm > memory:
        problems.append(
            Problem(field="container.sharedMemoryMiB", message=f"at most the container's memory ({memory} MiB)")
        )
    return problems


def nodes_problems(raw: Any) -> list[Problem]:
    """A multi-node job is one task on EC2: Batch runs no MNP job on Fargate, nor as an array."""
    if not isinstance(_at(raw, "nodes"), dict):
        return []
    problems = [
        Problem(field=name, message="a multi-node job is a single task: its nodes share one input")
        for name in ("inputs", "inputsLocation")
        if _at(raw, name) is not None
    ]
    if _at(raw, "container", "platform") == "FARGATE":
        problems.append(Problem(field="container.platform", message="Fargate runs no multi-node jobs: use EC2"))
    if _at(raw, "container", "ephemeralStorageGiB") is not None:
        problems.append(
            Problem(field="container.ephemeralStorageGiB", message="Fargate only, and a multi-node job runs on EC2")
        )
    return problems


def _mount_problems(container: dict, project: str, settings: Settings) -> list[Problem]:
    mounts = container.get("mounts")
    if not isinstance(mounts, list):
        return []
    declared = {v.name: v for v in settings.volumes if v.serves(project)}
    problems, paths = [], [_at(t, "path") for t in container.get("tmpfs") or [] if isinstance(t, dict)]
    for i, mount in enumerate(mounts):
        volume, path = _at(mount, "volume"), _at(mount, "path")
        if isinstance(volume, str) and volume not in declared:
            problems.append(
                Problem(
                    field=f"container.mounts[{i}].volume",
                    message=f"{quoted(volume)} is not a volume project {quoted(project)} may mount "
                    f"(declared for it: {', '.join(sorted(declared)) or 'none'})",
                )
            )
        elif isinstance(volume, str) and declared[volume].read_only and _at(mount, "readOnly") is not True:
            problems.append(
                Problem(field=f"container.mounts[{i}].readOnly", message=f"volume {volume} is read-only: mount it so")
            )
        if isinstance(path, str) and path in paths:
            problems.append(Problem(field=f"container.mounts[{i}].path", message=f"{quoted(path)} is mounted twice"))
        paths.append(path)
    return problems


def definition_properties(request: LaunchRequest, settings: Settings, platform: str) -> dict[str, Any]:
    """The job definition's containerProperties for the launch's mounts, Linux parameters and
    Fargate's architecture and storage (each key only when asked for: a launch without them keeps
    its definition). On EC2 the architecture is the instance's: routing chose a queue that has it."""
    container = request.container
    properties: dict[str, Any] = {}
    if platform == "FARGATE" and container.architecture:
        properties["runtimePlatform"] = {"operatingSystemFamily": "LINUX", "cpuArchitecture": container.architecture}
    if platform == "FARGATE" and container.ephemeral_storage_gib:
        properties["ephemeralStorage"] = {"sizeInGiB": container.ephemeral_storage_gib}
    linux: dict[str, Any] = {}
    if container.shared_memory_mib:
        linux["sharedMemorySize"] = container.shared_memory_mib
    if container.tmpfs:
        linux["tmpfs"] = [
            {
                "containerPath": t.path,
                "size": t.size_mib,
                **({"mountOptions": t.mount_options} if t.mount_options else {}),
            }
            for t in container.tmpfs
        ]
    if container.init_process_enabled:
        linux["initProcessEnabled"] = True
    if linux:
        properties["linuxParameters"] = linux
    if container.ulimits:
        properties["ulimits"] = [
            {"name": name, "softLimit": u.soft, "hardLimit": u.hard} for name, u in sorted(container.ulimits.items())
        ]
    if container.mounts:
        declared = {v.name: v for v in settings.volumes}
        names = sorted({m.volume for m in container.mounts})
        properties["volumes"] = [declared[name].efs.batch_volume(name) for name in names]
        properties["mountPoints"] = [
            {"sourceVolume": m.volume, "containerPath": m.path, "readOnly": m.read_only} for m in container.mounts
        ]
    return properties
