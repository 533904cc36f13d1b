"""Secrets a job reads into its environment (docs/launch-event.md#secrets). Pure: no boto3.

A launch names each secret by a reference: ``ssm:/path`` (an SSM parameter) or
``secretsmanager:<secret ARN>[:<JSON key>]``. The deployment allows references per project
(``secretsAllowed``: grants of reference patterns); each grant has its own ECS execution role, which
may read exactly the grant's patterns (stacks/compute.py), and a job with secrets runs with the
execution role of the grant that allows all of them. Secret values never pass through batchlane:
ECS reads them when the container starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from batchlane.common.tenancy import Pattern

SSM_PREFIX = "ssm:"
SECRETS_MANAGER_PREFIX = "secretsmanager:"
_SSM_NAME = r"(?:/[A-Za-z0-9_.-]+)+"  # a hierarchical SSM parameter name
_SECRET_ARN = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
SECRET_REFERENCE = rf"ssm:{_SSM_NAME}|secretsmanager:{_SECRET_ARN}(?::[A-Za-z0-9_.-]+)?"
SECRET_REFERENCE_CHARS = 2048
# A grant's pattern: the same grammar with IAM's wildcards (* and ?), which fnmatch reads alike.
_GRANT_PATTERN = (
    r"^(ssm:/[A-Za-z0-9_.*?/-]+"
    r"|secretsmanager:arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@*?-]+)$"
)


def secret_source(reference: str) -> str:
    """The parameter or secret a reference reads (the JSON key left out): what a grant's patterns match."""
    if reference.startswith(SECRETS_MANAGER_PREFIX):
        match = re.fullmatch(rf"secretsmanager:({_SECRET_ARN})(?::[A-Za-z0-9_.-]+)?", reference)
        return f"{SECRETS_MANAGER_PREFIX}{match[1]}" if match else reference
    return reference


def value_from(reference: str) -> str:
    """Batch's ``secrets[].valueFrom`` for a reference: the parameter's name (same region), or the
    secret's ARN, with ``<key>::`` to read one key of a JSON secret (ECS's format
    ``arn:secret:name:json-key:version-stage:version-id``)."""
    if reference.startswith(SSM_PREFIX):
        return reference.removeprefix(SSM_PREFIX)
    source = secret_source(reference).removeprefix(SECRETS_MANAGER_PREFIX)
    key = reference.removeprefix(SECRETS_MANAGER_PREFIX).removeprefix(source).removeprefix(":")
    return f"{source}:{key}::" if key else source


class SecretGrant(BaseModel):
    """Secrets launches of these projects may read: one deployment config ``secretsAllowed`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
    projects: Annotated[list[Pattern], Field(min_length=1)]
    value_from: Annotated[
        list[Annotated[str, Field(pattern=_GRANT_PATTERN, max_length=SECRET_REFERENCE_CHARS)]],
        Field(alias="valueFrom", min_length=1, max_length=20),
    ]

    def serves(self, project: str) -> bool:
        return any(fnmatchcase(project, p) for p in self.projects)

    def allows(self, reference: str) -> bool:
        source = secret_source(reference)
        return any(fnmatchcase(source, pattern) for pattern in self.value_from)


class SecretAccess(SecretGrant):
    """A grant as the functions read it (SSM parameter ``secrets-allowed``): with its execution role."""

    execution_role_arn: Annotated[str, Field(alias="executionRoleArn", pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")]


SECRET_ACCESS = TypeAdapter(list[SecretAccess])


def granting(grants: Iterable[SecretAccess], project: str, references: Iterable[str]) -> SecretAccess | None:
    """The first grant of ``project`` that allows every reference (None: no single grant does)."""
    wanted = list(references)
    return next((g for g in grants if g.serves(project) and all(g.allows(r) for r in wanted)), None)
