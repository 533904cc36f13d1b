"""The launch contract: the detail of a "Task Launch Requested" event (its answers: launch/answers.py).

The JSON Schema in docs/schemas/ is generated from these models (``python -m batchlane.schemas``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from batchlane.common.secrets import SECRET_REFERENCE, SECRET_REFERENCE_CHARS
from batchlane.common.volumes import VOLUME_NAME
from batchlane.launch.images import IMAGE_REFERENCE, IMAGE_REFERENCE_CHARS, image_reference_problem
from batchlane.launch.problems import (
    QUOTED_VALUE_CHARS,
    cut,
    quoted,
)
from batchlane.launch.reserved_env import ENV_NAME_RE, reserved_env_problem

SHARE_IDENTIFIER_PATTERN = r"^[A-Za-z0-9_]{1,255}$"  # also what a fair-share queue's configured shares must match
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")]


INPUT_DEPTH_LIMIT = 100  # nested lists and objects in one input document


def json_document_problem(document: Any) -> str | None:
    """Why an input document cannot be written to inputs.jsonl as JSON, or None (pure).

    NaN and Infinity have no JSON spelling, and encoders recurse: a limit well inside theirs.
    """
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return f"holds {quoted(node)}, which is not a JSON number"
        if isinstance(node, (dict, list)):
            if depth > INPUT_DEPTH_LIMIT:
                return f"nests lists and objects more than {INPUT_DEPTH_LIMIT} levels deep"
            pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return None


def _json_document(document: Any) -> Any:
    problem = json_document_problem(document)
    if problem:
        raise ValueError(problem)
    return document


JsonDocument = Annotated[Any, AfterValidator(_json_document)]


def _env_name(name: str) -> str:
    if not re.fullmatch(ENV_NAME_RE, name):
        # ASCII-escaped: a name may hold an unpaired surrogate, which an error message cannot carry.
        raise ValueError(
            f"{cut(json.dumps(name), QUOTED_VALUE_CHARS)} is not a variable name "
            "(letters, digits and _, not starting with a digit)"
        )
    problem = reserved_env_problem(name)
    if problem:
        raise ValueError(problem)
    return name


# Each name is checked on its own: every bad name is its own problem (field container.environment.<name>).
EnvName = Annotated[str, AfterValidator(_env_name)]


def _secret_reference(reference: str) -> str:
    if len(reference) > SECRET_REFERENCE_CHARS or not re.fullmatch(SECRET_REFERENCE, reference):
        raise ValueError(
            f"{quoted(reference)} is not a secret reference "
            "(ssm:/<parameter path> or secretsmanager:<secret ARN>[:<JSON key>])"
        )
    return reference


SecretReference = Annotated[
    str,
    AfterValidator(_secret_reference),
    Field(json_schema_extra={"pattern": f"^({SECRET_REFERENCE})$", "maxLength": SECRET_REFERENCE_CHARS}),
]


class ClosedModel(BaseModel):
    """A launch document or answer: unknown fields refused, frozen, fields by name or alias."""

    # Unknown fields are errors: a misspelt "retry" must not silently mean "no retries".
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Contract(ClosedModel):
    # The public request: no coercion ("2" is not 2, true is not 1, 4096.0 is not 4096; an int
    # still fills a float field). NaN and Infinity are not numbers a launch can ask for.
    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # null is not "absent": a field left out takes its default, a null one is refused (a client
        # that sends null means something, and no field of a launch is null).
        if value is None:
            raise PydanticCustomError("null_value", "must not be null (leave the field out for its default)")
        return value


class Resources(_Contract):
    vcpu: Annotated[float, Field(gt=0, le=192, description="vCPUs per child (Fargate: 0.25 to 16)")] = 1
    memory: Annotated[int, Field(ge=128, le=2_000_000, description="MiB per child")] = 2048
    gpu: Annotated[int, Field(ge=0, le=16, description="GPUs per child (EC2 only)")] = 0


# The ulimits a launch may set, and the most each may be (docs/launch-event.md#volumes-and-linux-parameters):
# what training and data loading ask for; nothing that changes how the host schedules (rtprio, nice).
ULIMITS = {"nofile": 1_048_576, "memlock": 2**31 - 1, "stack": 2**31 - 1, "core": 2**31 - 1, "nproc": 1_048_576}
TMPFS_OPTIONS = ("ro", "rw", "nosuid", "nodev", "noexec", "exec", "noatime")
ContainerPath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9_.@+=-]+(/[A-Za-z0-9_.@+=-]+)*$", max_length=4096)]


class Ulimit(_Contract):
    soft: Annotated[int, Field(ge=0)]
    hard: Annotated[int, Field(ge=0)]


class Tmpfs(_Contract):
    path: ContainerPath
    size_mib: Annotated[int, Field(alias="sizeMiB", ge=1, le=1_048_576)]
    mount_options: Annotated[list[Literal[TMPFS_OPTIONS]], Field(alias="mountOptions", max_length=7)] = []  # type: ignore[valid-type]


class Mount(_Contract):
    volume: Annotated[str, Field(pattern=VOLUME_NAME, description="a volume the deployment declares for the project")]
    path: ContainerPath
    read_only: Annotated[bool, Field(alias="readOnly")] = False


class Container(_Contract):
    # Checked by image_reference_problem (which says what is wrong); the schema states the grammar.
    image: Annotated[
        str,
        Field(
            json_schema_extra={"minLength": 1, "maxLength": IMAGE_REFERENCE_CHARS, "pattern": f"^{IMAGE_REFERENCE}$"},
            description="[registry[:port]/]repository[:tag][@digest]",
        ),
    ]
    command: Annotated[list[str], Field(max_length=256, description="empty: the image's default command")] = []
    environment: dict[EnvName, str] = {}
    secrets: Annotated[
        dict[EnvName, SecretReference],
        Field(
            max_length=100,
            description="variable name -> secret reference, read by ECS when the container starts "
            "(the value never passes through batchlane); allowed per project by the deployment (secretsAllowed)",
        ),
    ] = {}
    resources: Resources = Resources()
    mounts: Annotated[list[Mount], Field(max_length=10, description="declared volumes to mount")] = []
    shared_memory_mib: Annotated[
        int | None, Field(alias="sharedMemoryMiB", ge=1, le=1_048_576, description="/dev/shm size (EC2 only)")
    ] = None
    tmpfs: Annotated[list[Tmpfs], Field(max_length=10, description="tmpfs mounts (EC2 only)")] = []
    ulimits: Annotated[
        dict[Literal[tuple(ULIMITS)], Ulimit],  # type: ignore[valid-type]
        Field(description="nofile, memlock, stack, core, nproc (EC2 only)"),
    ] = {}
    init_process_enabled: Annotated[
        bool, Field(alias="initProcessEnabled", description="run an init process that reaps zombies")
    ] = False
    architecture: Annotated[
        Literal["X86_64", "ARM64"] | None,
        Field(description="the image's CPU architecture: routed to queues with it (default: the queue's)"),
    ] = None
    ephemeral_storage_gib: Annotated[
        int | None, Field(alias="ephemeralStorageGiB", ge=21, le=200, description="Fargate only: task storage")
    ] = None
    platform: Annotated[
        Literal["EC2", "FARGATE"] | None,
        Field(description="default: the platform of the queue the launch is routed to (EC2 if unknown)"),
    ] = None

    @field_validator("ulimits")
    @classmethod
    def _ulimits(cls, value: dict[str, Ulimit]) -> dict[str, Ulimit]:
        problems = [f"{n}: soft {u.soft} is above hard {u.hard}" for n, u in value.items() if u.soft > u.hard]
        problems += [f"{n}: at most {ULIMITS[n]}" for n, u in value.items() if u.hard > ULIMITS[n]]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def needs_ec2(self) -> bool:
        """Asks for what Batch offers on EC2 only (shared memory, tmpfs, ulimits)."""
        return bool(self.shared_memory_mib or self.tmpfs or self.ulimits)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        problem = image_reference_problem(value)
        if problem:
            raise ValueError(problem)
        return value


S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$"


class InputsLocation(_Contract):
    """Inputs already uploaded: a JSON Lines object, line i is the input of child i."""

    uri: Annotated[str, Field(pattern=S3_URI_PATTERN)]
    size: Annotated[int, Field(ge=1)]
    index: Annotated[
        str | None,
        Field(
            pattern=S3_URI_PATTERN,
            description=(
                "its index (inputs.idx: size + 1 big-endian unsigned 64-bit line offsets, docs/chunked-maps.md): "
                "a child then reads its own line with two ranged GETs; "
                "without it, a child streams the lines up to its own"
            ),
        ),
    ] = None


LAUNCH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_DEPENDENCIES = 20  # Batch's most dependsOn entries


class After(_Contract):
    launch_id: Annotated[str, Field(alias="launchId", pattern=LAUNCH_ID_PATTERN)]
    type: Annotated[
        Literal["ALL", "N_TO_N"],
        Field(description="ALL: after that launch succeeded; N_TO_N (two maps of one size): child i after its child i"),
    ] = "ALL"


MAX_NODES = 1000  # batchlane's bound on a multi-node job's nodes (node indexes stay within the status path's)


class Nodes(_Contract):
    """A multi-node parallel job (Batch MNP): ``count`` nodes run the container together, EC2 only."""

    count: Annotated[int, Field(ge=2, le=MAX_NODES, description="nodes (Batch numNodes)")]
    main_node: Annotated[
        int,
        Field(
            alias="mainNode",
            ge=0,
            lt=MAX_NODES,
            description="the node whose exit decides the job (Batch mainNode, below count)",
        ),
    ] = 0

    @field_validator("main_node")
    @classmethod
    def _main_node(cls, value: int, info: ValidationInfo) -> int:
        count = info.data.get("count")
        if isinstance(count, int) and value >= count:
            raise ValueError(f"the main node's index must be below count ({count}), as Batch requires")
        return value


MAX_RERUN_CHILDREN = 10_000  # children of one rerun (their indexes are kept on its launch record)


class RerunOf(_Contract):
    launch_id: Annotated[
        str, Field(alias="launchId", pattern=LAUNCH_ID_PATTERN, description="the launch (of the caller's team) rerun")
    ]
    indexes: Annotated[
        list[Annotated[int, Field(ge=0)]],
        Field(
            min_length=1,
            max_length=MAX_RERUN_CHILDREN,
            description="child i of this launch reruns index indexes[i] of the original's outputs",
        ),
    ]


class LaunchRequest(_Contract):
    """The detail of a "Task Launch Requested" event (docs/launch-event.md). Types are strict: a
    value of the wrong JSON type is refused, never converted."""

    launch_id: Annotated[
        str,
        Field(alias="launchId", pattern=LAUNCH_ID_PATTERN, description="client idempotency key"),
    ]
    project: Name
    domain: Name
    workflow: Name
    task: Name
    container: Container
    role: Annotated[
        str | None,
        Field(
            pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$",
            max_length=2048,
            description="IAM role the job runs as; default from settings",
        ),
    ] = None
    retries: Annotated[
        int, Field(ge=0, le=9, description="retries after the first attempt (attempts = retries + 1)")
    ] = 0
    retry_on: Annotated[
        Literal["any", "infrastructure"],
        Field(
            alias="retryOn",
            description="any: every failed attempt is retried; infrastructure: only attempts whose "
            "host was reclaimed or terminated (Spot), an application error ends the job",
        ),
    ] = "any"
    timeout_seconds: Annotated[
        int | None, Field(alias="timeoutSeconds", ge=60, description="per attempt (per child for map tasks)")
    ] = None
    input: Annotated[JsonDocument, Field(description="single task: its input document (any JSON)")] = None
    inputs: Annotated[
        list[JsonDocument] | None, Field(min_length=1, description="map task: one input document per child")
    ] = None
    inputs_location: Annotated[InputsLocation | None, Field(alias="inputsLocation")] = None
    min_success_ratio: Annotated[float, Field(alias="minSuccessRatio", gt=0, le=1)] = 1.0
    max_concurrency: Annotated[
        int | None,
        Field(
            alias="maxConcurrency",
            ge=1,
            description="map task: at most this many children run at once (its chunks are "
            "submitted as earlier ones end, docs/chunked-maps.md); ignored on a single task",
        ),
    ] = None
    tags: Annotated[dict[str, str], Field(max_length=40, description="cost-allocation tags")] = {}
    share_identifier: Annotated[
        str | None,
        Field(
            alias="shareIdentifier",
            pattern=SHARE_IDENTIFIER_PATTERN,
            description="fair-share queues: the share this launch uses",
        ),
    ] = None
    scheduling_priority: Annotated[
        int | None,
        Field(
            alias="schedulingPriority",
            ge=0,
            le=9999,
            description="fair-share queues: higher runs first (SubmitJob schedulingPriorityOverride)",
        ),
    ] = None
    parameters: Annotated[
        dict[str, str], Field(max_length=100, description="job parameters: Ref::name placeholders in the command")
    ] = {}
    propagate_tags: Annotated[
        bool, Field(alias="propagateTags", description="copy the job's tags to its ECS tasks")
    ] = True
    after: Annotated[
        list[After],
        Field(
            max_length=MAX_DEPENDENCIES,
            description="launches of the caller's team, already launched, this one waits for (Batch dependsOn)",
        ),
    ] = []
    nodes: Annotated[
        Nodes | None,
        Field(description="a single task run as one multi-node parallel job (EC2 on-demand queues only)"),
    ] = None
    rerun_of: Annotated[
        RerunOf | None,
        Field(
            alias="rerunOf",
            description="a rerun of some children of a finished map task (batchlane relaunch --failed): its "
            "outputs are the original's with these children's replaced",
        ),
    ] = None
    queue_hint: Annotated[
        str | None,
        Field(
            alias="queueHint",
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
            description="a preferred job queue (e.g. FlyteAdmin's choice): used "
            "only when it is a candidate of the routing decision",
        ),
    ] = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        problems = [f"{quoted(k)}: key must be 1-128 characters" for k in value if not 1 <= len(k) <= 128]
        problems += [f"{quoted(k)}: value must be at most 256 characters" for k, v in value.items() if len(v) > 256]
        problems += [
            f"{quoted(k)}: the aws: and batchlane: prefixes are reserved"
            for k in value
            if k.lower().startswith(("aws:", "batchlane:"))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def is_map(self) -> bool:
        return self.inputs is not None or self.inputs_location is not None

    @property
    def size(self) -> int:
        if self.inputs is not None:
            return len(self.inputs)
        if self.inputs_location is not None:
            return self.inputs_location.size
        return 1
