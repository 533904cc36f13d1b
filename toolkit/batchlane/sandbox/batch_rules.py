"""What AWS Batch refuses and moto accepts, for the job properties batchlane sends (issue 28):
checked in the emulator's RegisterJobDefinition and SubmitJob, refused with Batch's
``ClientException``, so that a launch the launcher plans wrongly fails here as it would at Batch.
(botocore already refuses what the API's shapes forbid: unknown or missing keys, wrong types.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

FARGATE_REFUSES_LINUX = ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
MAX_DEPENDENCIES = 20
EPHEMERAL_GIB = range(21, 201)


def definition_problems(request: dict[str, Any]) -> list[str]:
    """RegisterJobDefinition: Fargate's limits, EFS's rules, mounts of declared volumes; a
    multi-node definition's nodes (each range's container checked as a single node's)."""
    fargate = "FARGATE" in (request.get("platformCapabilities") or ["EC2"])
    if request.get("type") != "multinode":
        return _container_problems(request.get("containerProperties") or {}, fargate)
    nodes = request.get("nodeProperties") or {}
    count, main = nodes.get("numNodes", 0), nodes.get("mainNode", 0)
    problems = ["multi-node parallel jobs are not supported on Fargate"] if fargate else []
    if "containerProperties" in request or nodes == {}:
        problems.append("a multinode job definition takes nodeProperties, not containerProperties")
    if not 0 <= main < count:
        problems.append(f"nodeProperties.mainNode {main} must be below numNodes {count}")
    covered: set[int] = set()
    for node_range in nodes.get("nodeRangeProperties") or []:
        start, _, end = str(node_range.get("targetNodes", "")).partition(":")
        covered.update(range(int(start or 0), int(end) + 1 if end else count))
        problems += _container_problems(node_range.get("container") or {}, fargate)
    if not covered.issuperset(range(count)):
        problems.append(f"nodeRangeProperties must cover every node 0..{count - 1}")
    return problems


def _container_problems(props: dict[str, Any], fargate: bool) -> list[str]:
    linux = props.get("linuxParameters") or {}
    problems = []
    if fargate:
        problems += [f"linuxParameters.{k} is not supported on Fargate" for k in FARGATE_REFUSES_LINUX if k in linux]
        problems += [f"{k} is not supported on Fargate" for k in ("ulimits", "privileged") if props.get(k)]
        problems += [f"volume {v.get('name')}: host volumes are not supported on Fargate" for v in _host(props)]
    else:
        problems += [f"{k} is supported on Fargate only" for k in ("ephemeralStorage", "runtimePlatform") if k in props]
    size = (props.get("ephemeralStorage") or {}).get("sizeInGiB")
    if size is not None and size not in EPHEMERAL_GIB:
        problems.append("ephemeralStorage.sizeInGiB must be between 21 and 200")
    problems += [
        f"tmpfs {t.get('containerPath')}: size must be positive" for t in linux.get("tmpfs", []) if t["size"] < 1
    ]
    if linux.get("sharedMemorySize", 1) < 1:
        problems.append("linuxParameters.sharedMemorySize must be positive")
    for volume in props.get("volumes") or []:
        problems += _efs_problems(volume)
    names = {v.get("name") for v in props.get("volumes") or []}
    problems += [
        f"mountPoints: sourceVolume {m.get('sourceVolume')} is not a volume of the job definition"
        for m in props.get("mountPoints") or []
        if m.get("sourceVolume") not in names
    ]
    return problems


def _host(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in props.get("volumes") or [] if "host" in v]


def _efs_problems(volume: dict[str, Any]) -> list[str]:
    efs = volume.get("efsVolumeConfiguration")
    if efs is None:
        return []
    name, auth = volume.get("name"), efs.get("authorizationConfig") or {}
    tls = efs.get("transitEncryption") == "ENABLED"
    problems = []
    if "transitEncryptionPort" in efs and not tls:
        problems.append(f"volume {name}: transitEncryptionPort needs transitEncryption ENABLED")
    if (auth.get("iam") == "ENABLED" or auth.get("accessPointId")) and not tls:
        problems.append(f"volume {name}: IAM authorization and access points need transitEncryption ENABLED")
    if auth.get("accessPointId") and efs.get("rootDirectory", "/") != "/":
        problems.append(f"volume {name}: with an access point, rootDirectory must be omitted or /")
    return problems


def submission_problems(request: dict[str, Any], jobs: Callable[[str], Any]) -> list[str]:
    """SubmitJob: at most 20 dependencies, each on a job that exists; N_TO_N between array jobs of one size."""
    depends = request.get("dependsOn") or []
    problems = [f"dependsOn: at most {MAX_DEPENDENCIES} jobs"] if len(depends) > MAX_DEPENDENCIES else []
    size = (request.get("arrayProperties") or {}).get("size")
    for dependency in depends:
        job = jobs(dependency.get("jobId", ""))
        if job is None:
            problems.append(f"dependsOn: job {dependency.get('jobId')} does not exist")
        elif dependency.get("type") == "N_TO_N":
            other = (job.array_properties or {}).get("size")
            if size is None or other != size:
                problems.append(f"dependsOn: N_TO_N needs two array jobs of the same size ({size} and {other})")
    return problems


def install() -> Callable[[], None]:
    """Check the emulator's RegisterJobDefinition and SubmitJob (moto runs in this process);
    returns the function that puts moto's handlers back."""
    from moto.batch import responses
    from moto.batch.exceptions import ClientException

    register, submit = responses.BatchResponse.registerjobdefinition, responses.BatchResponse.submitjob

    def registerjobdefinition(self) -> str:
        problems = definition_problems(json.loads(self.body or "{}"))
        if problems:
            raise ClientException("; ".join(problems))
        return register(self)

    def submitjob(self) -> str:
        problems = submission_problems(json.loads(self.body or "{}"), self.batch_backend.get_job_by_id)
        if problems:
            raise ClientException("; ".join(problems))
        return submit(self)

    responses.BatchResponse.registerjobdefinition = registerjobdefinition  # type: ignore[method-assign]
    responses.BatchResponse.submitjob = submitjob  # type: ignore[method-assign]

    def uninstall() -> None:
        responses.BatchResponse.registerjobdefinition = register  # type: ignore[method-assign]
        responses.BatchResponse.submitjob = submit  # type: ignore[method-assign]

    return uninstall
