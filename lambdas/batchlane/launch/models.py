"""The launch contract: the detail of a "Task Launch Requested" event and the answers to it.

The JSON Schema in docs/schemas/ is generated from these models (``python -m batchlane.launch.schema``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")]
RESERVED_ENV_PREFIXES = ("AWS_BATCH_", "BATCHLANE_", "ECS_")


class _Model(BaseModel):
    # Unknown fields are errors: a misspelt "retry" must not silently mean "no retries".
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Resources(_Model):
    vcpu: Annotated[float, Field(gt=0, le=192, description="vCPUs per child (Fargate: 0.25 to 16)")] = 1
    memory: Annotated[int, Field(ge=128, le=2_000_000, description="MiB per child")] = 2048
    gpu: Annotated[int, Field(ge=0, le=16, description="GPUs per child (EC2 only)")] = 0


class Container(_Model):
    image: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^\S+$")]
    command: Annotated[list[str], Field(max_length=256, description="empty: the image's default command")] = []
    environment: dict[str, str] = {}
    resources: Resources = Resources()
    platform: Literal["EC2", "FARGATE"] = "EC2"

    @field_validator("environment")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", k)]
        if bad:
            raise ValueError(f"invalid variable names: {', '.join(sorted(bad))}")
        reserved = [k for k in value if k.upper().startswith(RESERVED_ENV_PREFIXES)]
        if reserved:
            raise ValueError(
                f"names starting with {', '.join(RESERVED_ENV_PREFIXES)} are reserved: {', '.join(sorted(reserved))}"
            )
        return value


class InputsLocation(_Model):
    """Inputs already uploaded: a JSON Lines object, line i is the input of child i."""

    uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$")]
    size: Annotated[int, Field(ge=1)]


class LaunchRequest(_Model):
    launch_id: Annotated[str, Field(alias="launchId", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
                                    description="client idempotency key")]
    project: Name
    domain: Name
    workflow: Name
    task: Name
    container: Container
    role: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$", max_length=2048,
                                      description="IAM role the job runs as; default from settings")] = None
    retries: Annotated[int, Field(ge=0, le=9, description="retries after the first attempt (attempts = retries + 1)")] = 0
    timeout_seconds: Annotated[int | None, Field(alias="timeoutSeconds", ge=60,
                                                 description="per attempt (per child for map tasks)")] = None
    input: Annotated[Any, Field(description="single task: its input document")] = None
    inputs: Annotated[list[Any] | None, Field(min_length=1, description="map task: one input document per child")] = None
    inputs_location: Annotated[InputsLocation | None, Field(alias="inputsLocation")] = None
    min_success_ratio: Annotated[float, Field(alias="minSuccessRatio", gt=0, le=1)] = 1.0
    tags: Annotated[dict[str, str], Field(max_length=40, description="cost-allocation tags")] = {}
    share_identifier: Annotated[str | None, Field(alias="shareIdentifier", pattern=r"^[A-Za-z0-9_]{1,255}$",
                                                  description="fair-share queues: the share this launch uses")] = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        problems = [f"{k!r}: key must be 1-128 characters" for k in value if not 1 <= len(k) <= 128]
        problems += [f"{k!r}: value must be at most 256 characters" for k, v in value.items() if len(v) > 256]
        problems += [f"{k!r}: the aws: and batchlane: prefixes are reserved" for k in value
                     if k.lower().startswith(("aws:", "batchlane:"))]
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


class Problem(_Model):
    field: str
    message: str


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


class TaskLaunchRejected(_Model):
    launch_id: str | None = Field(alias="launchId")
    problems: list[Problem]


def detail_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
