"""The launch contract: the detail of a "Task Launch Requested" event and the answers to it.

The JSON Schema in docs/schemas/ is generated from these models (``python -m batchlane.schemas``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

SHARE_IDENTIFIER_PATTERN = r"^[A-Za-z0-9_]{1,255}$"  # also what a fair-share queue's configured shares must match
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")]
# Environment variables a launch may not set (docs/launch-event.md#reserved-environment-variables):
# what would change the job's credentials, where its AWS calls go, how its programs are loaded, or
# what batchlane, AWS Batch and the ECS agent tell the container. Compared in upper case.
_CREDENTIALS = "sets or finds AWS credentials: a job's credentials come from its job role only"
_ENDPOINTS = "changes where AWS SDK calls go or how they are verified"
_LOADER = "changes how programs are found or loaded"
RESERVED_ENV_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_ROLE_SESSION_NAME",
            "AWS_CREDENTIAL_FILE",
        ),
        _CREDENTIALS,
    ),
    **dict.fromkeys(
        (
            "AWS_CA_BUNDLE",
            "AWS_USE_FIPS_ENDPOINT",
            "AWS_USE_DUALSTACK_ENDPOINT",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
        ),
        _ENDPOINTS,
    ),
    "PATH": _LOADER,
    # Set by batchlane on every job for Flyte (docs/launch-event.md).
    "BATCH_JOB_ARRAY_INDEX_VAR_NAME": "is set by batchlane: it names the variable holding the array index",
    "FLYTE_FAIL_ON_ERROR": "is set by batchlane for Flyte tasks",
    "BATCH_JOB_ARRAY_INDEX_OFFSET": "is set by batchlane: a chunk's first index (docs/chunked-maps.md)",
}
RESERVED_ENV_PREFIXES: dict[str, str] = {
    "AWS_CONTAINER_": _CREDENTIALS,  # the ECS credentials endpoint and its token
    "AWS_EC2_METADATA_": _CREDENTIALS,  # instance metadata, where SDKs look for credentials
    "AWS_ENDPOINT_URL": _ENDPOINTS,  # AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
    "LD_": _LOADER,  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
    "DYLD_": _LOADER,
    "AWS_BATCH_": "set by AWS Batch (the array index, the job id, ...)",
    "ECS_": "read by the ECS agent and set by ECS",
    "BATCHLANE_": "set by batchlane (the launch id, inputs and outputs locations)",
}
ENV_NAME_RE = r"[A-Za-z_][A-Za-z0-9_]{0,254}"


def reserved_env_problem(name: str) -> str | None:
    """Why a launch may not set this environment variable, or None (pure)."""
    upper = name.upper()
    why = RESERVED_ENV_NAMES.get(upper) or next(
        (reason for prefix, reason in RESERVED_ENV_PREFIXES.items() if upper.startswith(prefix)), None
    )
    return f"{name} is reserved: it {why} (docs/launch-event.md#reserved-environment-variables)" if why else None


# Bounds of what a rejection quotes back (docs/launch-event.md#out-task-launch-rejected), so that a
# "Task Launch Rejected" event always fits EventBridge's 256 KB entry, whatever the request held.
ELLIPSIS = "\u2026"
QUOTED_VALUE_CHARS = 100  # a client's value quoted inside a message
PROBLEM_TEXT_CHARS = 500  # a problem's field path and its message, each
MAX_PROBLEMS = 50  # entries, the final "and N more problems" included
REJECTION_DETAIL_BYTES = 64 * 1024  # the whole detail as published: compact JSON, non-ASCII escaped
LAUNCH_ID_CHARS = 128  # the longest valid launch id
OMITTED_FIELD = "problems"
_OMITTED = re.compile(r"and (\d+) more problems?")


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and an ellipsis (``limit`` in all)."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def quoted(value: Any) -> str:
    """A client's value as JSON, cut to QUOTED_VALUE_CHARS, for use inside a message."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return cut(text, QUOTED_VALUE_CHARS)


def _json_bytes(value: Any) -> int:
    # As the announcer publishes it (json.dumps, compact): escaped non-ASCII is the worst case.
    return len(json.dumps(value, separators=(",", ":")))


# Image references, as the distribution grammar defines them (github.com/distribution/reference):
# [registry[:port]/]repository[:tag][@digest]. Written with classes only (no \w, no lookaround) so
# that the same text is a valid JSON Schema (ECMA-262) pattern and a Python one.
_ALPHANUMERIC = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:(?:[._]|__|-+){_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_REGISTRY = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Only the registered algorithms: go-digest (which registries use) refuses any other.
_DIGESTS = {"sha256": 64, "sha512": 128}
_DIGEST = "(?:" + "|".join(f"{algorithm}:[a-f0-9]{{{length}}}" for algorithm, length in _DIGESTS.items()) + ")"
IMAGE_REFERENCE = rf"(?:{_REGISTRY}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
IMAGE_REFERENCE_CHARS = 255  # AWS Batch's limit on a job definition's image (the grammar's own limit on the name)
_IMAGE_CHARACTERS = re.compile(r"[A-Za-z0-9._/:@-]*")


def is_image_reference(text: str) -> bool:
    return len(text) <= IMAGE_REFERENCE_CHARS and re.fullmatch(IMAGE_REFERENCE, text) is not None


def image_reference_problem(text: str) -> str | None:
    """What is wrong with ``text`` as an image reference, or None when it is one (pure).

    Parsed piece by piece, so that the message names the part that is wrong; it accepts exactly
    what IMAGE_REFERENCE matches (a test holds them together).
    """
    form = "[registry[:port]/]repository[:tag][@digest]"
    if not text:
        return f"is empty: give an image reference, {form}"
    if len(text) > IMAGE_REFERENCE_CHARS:
        return f"has {len(text)} characters; AWS Batch takes at most {IMAGE_REFERENCE_CHARS}"
    if not _IMAGE_CHARACTERS.fullmatch(text):
        bad = sorted({c for c in text if not _IMAGE_CHARACTERS.fullmatch(c)})
        shown = ", ".join("a space" if c == " " else quoted(c) for c in bad[:10])
        return f"contains {shown}: an image reference ({form}) has only letters, digits and . _ - / : @"
    name, at, digest = text.partition("@")
    if at:
        if not digest:
            return "ends with '@' but no digest follows it"
        if "@" in digest:
            return "has more than one '@': only one digest may follow the name"
        algorithm, _, hex_digits = digest.partition(":")
        if algorithm not in _DIGESTS:
            return f"digest algorithm {quoted(algorithm)} is not supported (use {' or '.join(_DIGESTS)})"
        if not re.fullmatch(f"[a-f0-9]{{{_DIGESTS[algorithm]}}}", hex_digits):
            return f"digest must be {algorithm}: and {_DIGESTS[algorithm]} lower-case hex digits (got {quoted(digest)})"
    components = name.split("/")
    last, colon, tag = components[-1].partition(":")
    if colon:
        if ":" in tag:
            return f"has more than one ':' in {quoted(components[-1])}: only the tag follows a ':'"
        if not re.fullmatch(_TAG, tag):
            return f"tag {quoted(tag)} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        components[-1] = last
    # The first of several components is a registry when it can be one (a repository component
    # is then a host name too); a ':' before a '/' can only be a registry's port.
    if len(components) > 1 and re.fullmatch(_REGISTRY, components[0]):
        components = components[1:]
    elif len(components) > 1 and ":" in components[0]:
        return (
            f"registry {quoted(components[0])} must be a host name (letters, digits, '-', '.') with an optional :port"
        )
    for component in components:
        if not component:
            return f"has an empty path component in {quoted(name)}"
        if not re.fullmatch(_PATH_COMPONENT, component):
            if re.fullmatch(_PATH_COMPONENT, component.lower()):
                return f"the repository must be lower case (got {quoted('/'.join(components))})"
            return (
                f"repository component {quoted(component)} must be lower-case letters and digits, "
                "separated by '.', '_', '__' or '-'"
            )
    return None


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


class _Model(BaseModel):
    # Unknown fields are errors: a misspelt "retry" must not silently mean "no retries".
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Contract(_Model):
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
    resources: Resources = Resources()
    platform: Annotated[
        Literal["EC2", "FARGATE"] | None,
        Field(description="default: the platform of the queue the launch is routed to (EC2 if unknown)"),
    ] = None

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
                "its index (inputs.idx: size + 1 big-endian unsigned 64-bit line offsets, docs/chunked-maps.md): a child "
                "then reads its own line with two ranged GETs; without it, a child streams the lines up to its own"
            ),
        ),
    ] = None


class LaunchRequest(_Contract):
    """The detail of a "Task Launch Requested" event (docs/launch-event.md). Types are strict: a
    value of the wrong JSON type is refused, never converted."""

    launch_id: Annotated[
        str,
        Field(alias="launchId", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", description="client idempotency key"),
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


def _cut_text(value: Any) -> Any:
    return cut(value, PROBLEM_TEXT_CHARS) if isinstance(value, str) else value


ProblemText = Annotated[str, BeforeValidator(_cut_text), Field(max_length=PROBLEM_TEXT_CHARS)]


class Problem(_Model):
    field: ProblemText
    message: ProblemText


def bounded_problems(problems: Sequence[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS entries, in a detail of at most REJECTION_DETAIL_BYTES; the rest are counted
    in a final "and N more problems" (which a later call adds to, so bounding twice changes nothing)."""
    listed: list[Problem] = []
    omitted = 0
    for problem in problems:
        earlier = _OMITTED.fullmatch(problem.message) if problem.field == OMITTED_FIELD else None
        if earlier:
            omitted += int(earlier[1])
        else:
            listed.append(problem)
    if len(listed) + bool(omitted) > MAX_PROBLEMS:
        omitted += len(listed) - (MAX_PROBLEMS - 1)
        listed = listed[: MAX_PROBLEMS - 1]
    # Room for the longest launch id and the summary, then the problems in order while they fit.
    budget = (
        REJECTION_DETAIL_BYTES
        - _json_bytes({"launchId": "\U0010ffff" * LAUNCH_ID_CHARS, "problems": []})
        - _json_bytes(_omitted_problem(omitted + len(listed)).model_dump())
        - 1
    )
    kept = []
    for problem in listed:
        budget -= _json_bytes(problem.model_dump()) + 1
        if budget < 0:
            break
        kept.append(problem)
    omitted += len(listed) - len(kept)
    return kept + [_omitted_problem(omitted)] if omitted else kept


def _omitted_problem(count: int) -> Problem:
    return Problem(field=OMITTED_FIELD, message=f"and {count} more problem{'s' if count != 1 else ''}")


class RoutingExplanation(_Model):
    rule: dict | None
    tag: str | None
    candidates: list[dict]
    reason: str


class TaskLaunched(_Model):
    launch_id: str = Field(alias="launchId")
    job_id: str = Field(alias="jobId")
    job_name: str = Field(alias="jobName")
    queue: str
    array_size: int = Field(alias="arraySize", description="0 for a plain job")
    routing: RoutingExplanation
    console_url: str = Field(alias="consoleUrl")
    inputs_uri: str = Field(alias="inputsUri")
    outputs_uri: str = Field(alias="outputsUri")
    job_definition: str = Field(alias="jobDefinition")
    # A chunked map task (docs/chunked-maps.md): absent on every other launch. jobId/jobName are chunk 0's.
    chunk_count: int | None = Field(default=None, alias="chunkCount", description="array jobs the map task runs as")
    chunk_size: int | None = Field(
        default=None, alias="chunkSize", description="children per chunk (the last may be short)"
    )
    chunk_window: int | None = Field(default=None, alias="chunkWindow", description="chunks in flight at once")


class TaskChunkDue(_Model):
    """The aggregator's "Task Chunk Due" (source batchlane.status): chunk ``chunk`` may be submitted."""

    launch_id: Annotated[str, Field(alias="launchId", min_length=1, max_length=LAUNCH_ID_CHARS)]
    chunk: Annotated[int, Field(ge=0, strict=True)]


def _bounded_launch_id(value: Any) -> Any:
    return cut(value, LAUNCH_ID_CHARS) if isinstance(value, str) else value


def _bounded_problem_list(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, (Problem, dict)) for p in value):
        return value  # the field's own validation says what is wrong
    return bounded_problems([p if isinstance(p, Problem) else Problem.model_validate(p) for p in value])


class TaskLaunchRejected(_Model):
    """Every problem found, bounded (docs/launch-event.md) so that the event always fits EventBridge."""

    launch_id: Annotated[
        Annotated[str, Field(max_length=LAUNCH_ID_CHARS)] | None,
        BeforeValidator(_bounded_launch_id),
        Field(alias="launchId"),
    ]
    problems: Annotated[list[Problem], BeforeValidator(_bounded_problem_list), Field(max_length=MAX_PROBLEMS)]


def detail_json(model: BaseModel) -> dict[str, Any]:
    """The detail as published; optional fields left unset (e.g. a plain launch's chunk fields) are left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
