"""Runtime settings of a deployment, held in SSM parameters under ``/batchlane/<deployment>/``.

Parameter names (relative to the prefix), written by the CDK stack and editable by operators:
``default-role-arn``, ``allowed-role-arns`` (StringList), ``execution-role-arn``,
``job-log-group``, ``routing-cache-seconds``, ``limits`` (JSON object), ``region``; tenancy
(batchlane.common.tenancy, docs/security.md): ``producers`` (JSON ``{"teams": [...]}``),
``job-role-projects`` (JSON ``{roleArn: [project pattern, ...]}``), ``inputs-locations`` (JSON
``[{"projects": [...], "uri": "s3://bucket/prefix/"}]``), ``secrets-allowed`` (JSON
``[{"name", "projects", "valueFrom", "executionRoleArn"}]``, batchlane.common.secrets), ``volumes``
(JSON ``[{"name", "projects", "efs", "readOnly"}]``, batchlane.common.volumes). An absent
tenancy parameter means what a deployment before tenancy did: no teams (anyone may launch and
abort), every role for every project, no inputs outside a launch's own prefix, no secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from batchlane.common.secrets import SECRET_ACCESS, SecretAccess
from batchlane.common.tenancy import INPUTS_GRANTS, ROLE_PROJECTS, InputsLocationGrant, Tenancy, json_list
from batchlane.common.volumes import VOLUME_GRANTS, VolumeGrant


class Limits(BaseModel):
    """What a launch may ask for: the deployment config's ``limits`` and the SSM ``limits`` parameter
    (the same JSON, written from the config and editable by operators) are both this model."""

    # Whole numbers only (no "10", 10.0 or true); unknown keys are errors, not ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_by_name=True)

    # The largest Batch array job: a map task beyond it runs as several (chunks, batchlane.common.chunks).
    max_array_size: Annotated[int, Field(alias="maxArraySize", ge=2, le=10_000)] = 10_000
    max_overrides_chars: Annotated[int, Field(alias="maxOverridesChars", ge=512, le=8192)] = 4096
    min_timeout_seconds: Annotated[int, Field(alias="minTimeoutSeconds", ge=60)] = 60
    max_timeout_seconds: Annotated[int, Field(alias="maxTimeoutSeconds", ge=60)] = 14 * 24 * 3600
    default_timeout_seconds: Annotated[int, Field(alias="defaultTimeoutSeconds", ge=60)] = 72 * 3600
    # Most inputs of one map task (global child indexes stay below 1,000,000: six-digit item keys).
    max_map_size: Annotated[int, Field(alias="maxMapSize", ge=2, le=1_000_000)] = 1_000_000

    @model_validator(mode="after")
    def _default_within_maximum(self) -> Limits:
        if self.default_timeout_seconds > self.max_timeout_seconds:
            raise ValueError("defaultTimeoutSeconds must not exceed maxTimeoutSeconds")
        return self

    @classmethod
    def from_json(cls, text: str) -> Limits:
        """The SSM parameter's JSON; a bad one raises ValueError naming the key."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("limits must be a JSON object")
        try:
            return cls.model_validate(raw, by_alias=True, by_name=False)
        except ValidationError as exc:
            raise ValueError("; ".join(_limits_problem(e) for e in exc.errors())) from None


def _limits_problem(error: ErrorDetails) -> str:
    """One validation error as the SSM parameter's key names it (camelCase, as operators write it)."""
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(f.alias for f in Limits.model_fields.values() if f.alias)
        return f"limits: unknown key {key!r} (allowed: {allowed})"
    if error["type"].startswith("int_"):
        return f"limits.{key} must be a whole number"
    message = error["msg"].removeprefix("Value error, ")
    return f"limits.{key}: {message}" if key else f"limits: {message}"


@dataclass(frozen=True)
class Settings:
    region: str = "us-east-1"
    default_role_arn: str | None = None
    allowed_role_arns: frozenset[str] = frozenset()
    execution_role_arn: str | None = None
    job_log_group: str = "/aws/batch/job"
    routing_cache_seconds: int = 30
    limits: Limits = field(default_factory=Limits)
    producers: Tenancy = field(default_factory=Tenancy)
    # role ARN -> the project patterns it serves; None (no parameter): every role serves every project.
    role_projects: dict[str, tuple[str, ...]] | None = None
    inputs_locations: tuple[InputsLocationGrant, ...] = ()
    secrets_allowed: tuple[SecretAccess, ...] = ()  # none: a launch may name no secret
    volumes: tuple[VolumeGrant, ...] = ()  # none: a launch may mount nothing

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> Settings:
        """Build from ``{relative name: value}``; a bad value raises ValueError naming the parameter."""
        known = {
            "default-role-arn",
            "allowed-role-arns",
            "execution-role-arn",
            "job-log-group",
            "routing-cache-seconds",
            "limits",
            "region",
            "producers",
            "job-role-projects",
            "inputs-locations",
            "secrets-allowed",
            "volumes",
        }
        values: dict = {}
        for name, value in params.items():
            name = name.strip("/")
            if name not in known:
                continue  # parameters for other parts of batchlane
            try:
                if name == "allowed-role-arns":
                    values["allowed_role_arns"] = frozenset(v.strip() for v in value.split(",") if v.strip())
                elif name == "routing-cache-seconds":
                    seconds = int(value)
                    if not 0 <= seconds <= 300:
                        raise ValueError("must be between 0 and 300")
                    values["routing_cache_seconds"] = seconds
                elif name == "limits":
                    values["limits"] = Limits.from_json(value)
                elif name == "producers":
                    values["producers"] = Tenancy.from_json(value)
                elif name == "job-role-projects":
                    values["role_projects"] = {
                        arn: tuple(p) for arn, p in json_list(ROLE_PROJECTS, value, name).items()
                    }
                elif name == "inputs-locations":
                    values["inputs_locations"] = tuple(json_list(INPUTS_GRANTS, value, name))
                elif name == "secrets-allowed":
                    values["secrets_allowed"] = tuple(json_list(SECRET_ACCESS, value, name))
                elif name == "volumes":
                    values["volumes"] = tuple(json_list(VOLUME_GRANTS, value, name))
                else:
                    values[name.replace("-", "_")] = value.strip() or None
            except ValueError as exc:
                raise ValueError(f"SSM parameter {name}: {exc}") from exc
        if values.get("job_log_group") is None:
            values.pop("job_log_group", None)
        if values.get("region") is None:
            values.pop("region", None)
        return cls(**values)

    @property
    def usable_role_arns(self) -> frozenset[str]:
        """Roles a launch may run as: the allow-list plus the default role."""
        return self.allowed_role_arns | ({self.default_role_arn} if self.default_role_arn else set())

    def default_role_for(self, team: str | None, project: str) -> str | None:
        """The role a launch that names none runs as: the deployment's default role, unless it
        serves a project the team may not launch into (a team may not fall back to another
        team's role); then the role that serves exactly this project, if one does."""
        found = next((t for t in self.producers.teams if t.name == team), None)
        served = (self.role_projects or {}).get(self.default_role_arn or "", ("*",))
        if found is None or all(found.may_launch_pattern(p) for p in served):
            return self.default_role_arn
        return next((arn for arn, patterns in (self.role_projects or {}).items() if patterns == (project,)), None)

    def role_serves(self, role_arn: str, project: str) -> bool:
        """Whether a launch of ``project`` may run as this role (job-role-projects)."""
        if self.role_projects is None:
            return True
        return any(fnmatchcase(project, pattern) for pattern in self.role_projects.get(role_arn, ()))
