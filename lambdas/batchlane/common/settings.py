"""Runtime settings of a deployment, held in SSM parameters under ``/batchlane/<deployment>/``.

Parameter names (relative to the prefix), written by the CDK stack and editable by operators:
``default-role-arn``, ``allowed-role-arns`` (StringList), ``execution-role-arn``,
``job-log-group``, ``routing-cache-seconds``, ``limits`` (JSON object), ``region``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    max_array_size: int = 10_000
    max_overrides_chars: int = 4096
    min_timeout_seconds: int = 60
    max_timeout_seconds: int = 14 * 24 * 3600
    default_timeout_seconds: int = 72 * 3600

    # JSON keys as the deployment configuration spells them (camelCase).
    _KEYS = {"maxArraySize": "max_array_size", "maxOverridesChars": "max_overrides_chars",
             "minTimeoutSeconds": "min_timeout_seconds", "maxTimeoutSeconds": "max_timeout_seconds",
             "defaultTimeoutSeconds": "default_timeout_seconds"}

    @classmethod
    def from_json(cls, text: str) -> "Limits":
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("limits must be a JSON object")
        values = {}
        for key, value in raw.items():
            if key not in cls._KEYS:
                raise ValueError(f"limits: unknown key {key!r} (allowed: {', '.join(cls._KEYS)})")
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"limits.{key} must be a whole number")
            values[cls._KEYS[key]] = value
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    region: str = "us-east-1"
    default_role_arn: str | None = None
    allowed_role_arns: frozenset[str] = frozenset()
    execution_role_arn: str | None = None
    job_log_group: str = "/aws/batch/job"
    routing_cache_seconds: int = 30
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> "Settings":
        """Build from ``{relative name: value}``; a bad value raises ValueError naming the parameter."""
        known = {"default-role-arn", "allowed-role-arns", "execution-role-arn", "job-log-group",
                 "routing-cache-seconds", "limits", "region"}
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


