"""The launcher's own validation of a launch detail, run locally (``launch --dry-run``, ``validate``).

The same function the launcher runs (``batchlane.launch.validation.validate``) with the settings the
deployment configuration publishes (``settings_parameters``), so a detail that passes here passes
there, every problem listed at once in the launcher's words. What only the deployment can tell is
not checked: the routing decision (the routing table), who the producer is, the inputs' objects.

The account is the configuration's, else the one of the detail's own role ARN, else a placeholder:
job roles named in the configuration are then accepted by name only, as the deployment will.
"""

from __future__ import annotations

from typing import Any

from batchlane.common.settings import Settings
from batchlane.launch.validation import validate

PLACEHOLDER_ACCOUNT = "000000000000"
NOT_CHECKED = "routing (the deployment's routing table), the producer's team, the inputs' objects"


def _account(config, detail: Any) -> str:
    if config.account:
        return str(config.account)
    role = detail.get("role") if isinstance(detail, dict) else None
    parts = role.split(":") if isinstance(role, str) else []
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4].isdigit() else PLACEHOLDER_ACCOUNT


def local_settings(config, detail: Any) -> Settings:
    """The settings the deployment's functions read, as its configuration publishes them."""
    return Settings.from_parameters(config.settings_parameters(_account(config, detail)))


def local_problems(config, detail: Any) -> list[dict[str, Any]]:
    """Every problem the launcher would answer for ``detail`` (before routing), as ``{field, message}``."""
    _, _, problems = validate(detail, local_settings(config, detail))
    return [p.model_dump() for p in problems]
