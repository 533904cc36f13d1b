"""Validate a launch request and list every problem at once, each with its field (pure)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from batchlane.common.executions import OPEN_TEAM
from batchlane.common.secrets import SECRET_REFERENCE, granting
from batchlane.common.settings import Settings
from batchlane.common.tenancy import INPUTS, LaunchData, Producer, s3_uri
from batchlane.launch.dependencies import after_problems
from batchlane.launch.models import LaunchRequest
from batchlane.launch.problems import LAUNCH_ID_CHARS, Problem, bounded_problems, quoted
from batchlane.launch.workload import REFUSED_FIELDS, nodes_problems, workload_problems

# Fargate accepts these memory sizes (MiB) per vCPU value.
FARGATE_MEMORY = {
    0.25: range(512, 2049, 512),
    0.5: range(1024, 4097, 1024),
    1.0: range(2048, 8193, 1024),
    2.0: range(4096, 16385, 1024),
    4.0: range(8192, 30721, 1024),
    8.0: range(16384, 61441, 4096),
    16.0: range(32768, 122881, 8192),
}


def _field(loc: tuple) -> str:
    out = ""
    if loc and loc[-1] == "[key]":  # a bad key of an object (an environment variable's name): the key's path
        loc = loc[:-1]
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "detail"


def _at(raw: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def _number(value: Any) -> int | float | None:
    # Not float(value): a JSON integer can be far beyond a float's range.
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shown(number: int | float) -> str:
    return f"{number:g}" if isinstance(number, float) else quoted(number)


# What a field of each pydantic type error must hold, in the words of JSON (strict mode: no coercion).
_EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
}


def _described(value: Any) -> str:
    """A JSON value as a client would name it, e.g. 'a string ("2")'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({quoted(value)})"
    if isinstance(value, int):
        return f"a whole number ({quoted(value)})"
    if isinstance(value, float):
        return f"a decimal number ({quoted(value)})"
    if isinstance(value, str):
        return f"a string ({quoted(value)})"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


# pydantic's constraint errors in the house style: (context key, wording), the value given after it.
_BOUNDS = {
    "greater_than": ("gt", "must be more than {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than": ("lt", "must be less than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "too_short": ("min_length", "must have at least {} item(s)"),
    "too_long": ("max_length", "must have at most {} item(s)"),
    "string_too_short": ("min_length", "must be at least {} character(s) long"),
    "string_too_long": ("max_length", "must be at most {} character(s) long"),
    "string_pattern_mismatch": ("pattern", "must match the pattern {}"),
    "literal_error": ("expected", "must be one of {}"),
}


def _bound_message(error: ErrorDetails) -> str | None:
    kind = _BOUNDS.get(error["type"])
    context = error.get("ctx") or {}
    if kind is None or kind[0] not in context:
        return None
    bound = context[kind[0]]
    shown = bound if isinstance(bound, str) else _shown(bound)
    given = error["input"]
    if error["type"] in ("too_short", "too_long") and isinstance(given, (list, dict)):
        return f"{kind[1].format(shown)} (got {len(given)})"
    return f"{kind[1].format(shown)}, not {_described(given)}"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_described(error['input'])}"
    if kind == "extra_forbidden" and error["loc"] and error["loc"][-1] in REFUSED_FIELDS:
        return f"refused: {REFUSED_FIELDS[str(error['loc'][-1])]}"
    bounded = _bound_message(error)
    if bounded is not None:
        return bounded
    if kind == "extra_forbidden":
        return "unknown field (see docs/launch-event.md for the fields a launch takes)"
    if kind == "missing":
        return "is required"
    if kind == "finite_number":
        return "must be a finite number (NaN and Infinity are not JSON numbers)"
    if kind == "string_unicode":
        return "must be valid Unicode text (it holds an unpaired surrogate)"
    return error["msg"].removeprefix("Value error, ")


def schema_problems(raw: Any) -> tuple[LaunchRequest | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(field="detail", message="the event detail must be a JSON object")]
    try:
        return LaunchRequest.model_validate(raw), []
    except ValidationError as exc:
        return None, [Problem(field=_field(err["loc"]), message=_message(err)) for err in exc.errors()]


def resolve_role(raw: Any, settings: Settings, team: str | None = None) -> tuple[str | None, list[Problem]]:
    role = _at(raw, "role")
    if role is None:
        if settings.default_role_arn is None:
            return None, [Problem(field="role", message="is required: this deployment has no default role")]
        project = _at(raw, "project")
        default = settings.default_role_for(team, project) if isinstance(project, str) else settings.default_role_arn
        if default is None:
            message = (
                f"is required: the default role serves projects team {team} may not launch into, "
                f"and no job role serves project {quoted(project)} alone"
            )
            return None, [Problem(field="role", message=message)]
        return default, []
    if not isinstance(role, str):
        return None, []  # the schema already reports the type
    if role not in settings.usable_role_arns:
        allowed_roles = ", ".join(sorted(settings.usable_role_arns))
        return None, [
            Problem(
                field="role",
                message=f"{quoted(role)} is not an allowed job role (allowed: {allowed_roles or 'none'})",
            )
        ]
    return role, []


def role_project_problems(raw: Any, role: str | None, settings: Settings) -> list[Problem]:
    """A job role serves the projects job-role-projects maps it to; the default role too."""
    project = _at(raw, "project")
    if role is None or not isinstance(project, str) or settings.role_serves(role, project):
        return []
    served = ", ".join((settings.role_projects or {}).get(role, ())) or "none"
    named = "the default role " if _at(raw, "role") is None else ""
    return [
        Problem(
            field="role",
            message=f"{named}{quoted(role)} is not a job role of project {quoted(project)} "
            f"(it serves projects: {served}); name a role of this project",
        )
    ]


def producer_problems(raw: Any, settings: Settings, producer: Producer | None) -> list[Problem]:
    """Whether this producer may launch into the launch's project/domain (field ``source``)."""
    project, domain = _at(raw, "project"), _at(raw, "domain")
    if isinstance(project, str) and isinstance(domain, str):
        problem = settings.producers.launch_problem(producer, project, domain)
    else:  # the schema reports the project or domain; who sent it is still checked
        problem = settings.producers.identify(producer)[1]
    return [Problem(field="source", message=problem)] if problem else []


def inputs_location_problems(raw: Any, settings: Settings, bucket: str | None, team: str = OPEN_TEAM) -> list[Problem]:
    """``inputsLocation.uri`` and ``.index`` inside the launch's own prefix, or under a location
    allow-listed for its project; each parsed as S3 reads it first (bucket, key segments), so that
    no dot segment or empty segment can lead a prefix check elsewhere."""
    launch_id, project, domain = _at(raw, "launchId"), _at(raw, "project"), _at(raw, "domain")
    if not all(isinstance(v, str) for v in (launch_id, project, domain)):
        return []  # the schema reports what is missing
    own = s3_uri(bucket, LaunchData(team, project, domain, launch_id).prefix(INPUTS)) if bucket else None
    problems = []
    for name in ("uri", "index"):
        uri = _at(raw, "inputsLocation", name)
        if isinstance(uri, str):
            problem = _location_problem(uri) or _placement_problem(uri, own, project, settings)
            if problem:
                problems.append(Problem(field=f"inputsLocation.{name}", message=problem))
    return problems


def _location_problem(uri: str) -> str | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        return f"{quoted(uri)} is not an S3 object URI (s3://<bucket>/<key>)"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return f"{quoted(uri)} holds an empty, '.' or '..' segment: name the object by its plain key"
    return None


def _placement_problem(uri: str, own: str | None, project: str, settings: Settings) -> str | None:
    if (own and uri.startswith(own)) or any(g.covers(project, uri) for g in settings.inputs_locations):
        return None
    allowed = [own] if own else []
    allowed += [g.uri for g in settings.inputs_locations if g.covers(project, g.uri)]
    where = f"upload the inputs under {' or '.join(allowed)}" if allowed else "no location is allowed here"
    return (
        f"{quoted(uri)} is outside this launch's data and the locations allowed for project {quoted(project)}: {where}"
    )


def secrets_problems(raw: Any, settings: Settings) -> list[Problem]:
    """Each secret allowed for the launch's project (``secretsAllowed``), all through one grant
    (whose execution role reads them), and no variable both a value and a secret."""
    secrets, project = _at(raw, "container", "secrets"), _at(raw, "project")
    if not isinstance(secrets, dict) or not isinstance(project, str):
        return []  # the schema reports what is missing
    references = {n: r for n, r in secrets.items() if isinstance(r, str) and re.fullmatch(SECRET_REFERENCE, r)}
    environment = _at(raw, "container", "environment")
    problems = [
        Problem(field=f"container.secrets.{name}", message=f"{name} is also set in container.environment: give it once")
        for name in references
        if isinstance(environment, dict) and name in environment
    ]
    grants = [g for g in settings.secrets_allowed if g.serves(project)]
    allowed = "; ".join(p for g in grants for p in g.value_from) or "none"
    problems += [
        Problem(
            field=f"container.secrets.{name}",
            message=f"{quoted(reference)} is not a secret project {quoted(project)} may read "
            f"(allowed: {allowed}; the deployment's secretsAllowed, docs/security.md)",
        )
        for name, reference in references.items()
        if not any(g.allows(reference) for g in grants)
    ]
    if not problems and references and granting(grants, project, references.values()) is None:
        problems.append(
            Problem(
                field="container.secrets",
                message="these secrets are allowed by different secretsAllowed grants; a job reads its secrets "
                "through one grant's execution role: name secrets of one grant",
            )
        )
    return problems


def dot_name_problems(raw: Any) -> list[Problem]:
    """A project or domain is a segment of every key of the launch's data: "." or ".." would be
    a dot segment there."""
    return [
        Problem(field=name, message=f"{quoted(value)} cannot name a {name} (it is a path's dot segment)")
        for name in ("project", "domain")
        if (value := _at(raw, name)) in (".", "..")
    ]


def policy_problems(raw: Any, settings: Settings) -> list[Problem]:
    """Checks that depend on the deployment's settings or on several fields together.

    They read the raw detail defensively so that they run, and report, even when the schema
    found problems elsewhere: the client learns everything wrong in one answer.
    """
    if not isinstance(raw, dict):
        return []
    problems: list[Problem] = []
    limits = settings.limits
    given = [k for k in ("input", "inputs", "inputsLocation") if raw.get(k) is not None]
    if len(given) > 1:
        problems.append(
            Problem(
                field=given[1], message=f"give only one of input, inputs and inputsLocation (got {', '.join(given)})"
            )
        )
    inputs = raw.get("inputs")
    size = len(inputs) if isinstance(inputs, list) else _number(_at(raw, "inputsLocation", "size"))
    if size is not None and size > limits.max_map_size:
        field = "inputs" if isinstance(inputs, list) else "inputsLocation.size"
        problems.append(
            Problem(
                field=field,
                message=f"a map task has at most {limits.max_map_size} children here (got {_shown(size)}); split it",
            )
        )
    timeout = _number(raw.get("timeoutSeconds"))
    if timeout is not None and not limits.min_timeout_seconds <= timeout <= limits.max_timeout_seconds:
        problems.append(
            Problem(
                field="timeoutSeconds",
                message=f"must be between {limits.min_timeout_seconds} and {limits.max_timeout_seconds} seconds",
            )
        )
    if _at(raw, "container", "platform") == "FARGATE":
        gpu = _number(_at(raw, "container", "resources", "gpu"))
        if gpu:
            problems.append(Problem(field="container.resources.gpu", message="Fargate has no GPUs: use platform EC2"))
        vcpu = _number(_at(raw, "container", "resources", "vcpu"))
        memory = _number(_at(raw, "container", "resources", "memory"))
        vcpu = 1.0 if vcpu is None and _at(raw, "container", "resources", "vcpu") is None else vcpu
        memory = 2048 if memory is None and _at(raw, "container", "resources", "memory") is None else memory
        if vcpu is not None and vcpu not in FARGATE_MEMORY:
            problems.append(
                Problem(
                    field="container.resources.vcpu",
                    message=f"Fargate takes {', '.join(f'{v:g}' for v in FARGATE_MEMORY)} vCPUs (got {_shown(vcpu)})",
                )
            )
        elif vcpu is not None and memory is not None and memory not in FARGATE_MEMORY[vcpu]:
            allowed = FARGATE_MEMORY[vcpu]
            problems.append(
                Problem(
                    field="container.resources.memory",
                    message=f"Fargate with {vcpu:g} vCPU takes {allowed.start}-{allowed.stop - 1} MiB "
                    f"in steps of {allowed.step} (got {_shown(memory)})",
                )
            )
    return problems


def validate(
    raw: Any, settings: Settings, bucket: str | None = None, *, team: str | None = None
) -> tuple[LaunchRequest | None, str | None, list[Problem]]:
    """Returns the parsed request, the role it runs as, and every problem found (bounded, see
    models.bounded_problems: thousands of bad keys must not make an answer too large to send).

    ``bucket`` is the data bucket, whose inputs prefix of this launch (of ``team``, its producer's)
    is where ``inputsLocation`` may point besides the allow-listed locations. Who sent it is checked
    apart (``producer_problems``): an unauthorised producer is answered before any AWS call."""
    request, problems = schema_problems(raw)
    role, role_problems = resolve_role(raw, settings, team)
    role_problems = role_problems or role_project_problems(raw, role, settings)
    reported = {p.field for p in problems}
    checks = role_problems + policy_problems(raw, settings) + dot_name_problems(raw)
    checks += inputs_location_problems(raw, settings, bucket, team or OPEN_TEAM) + secrets_problems(raw, settings)
    checks += workload_problems(raw, settings) + nodes_problems(raw) + after_problems(raw)
    # One answer per field: a value the schema already refused is not reported twice.
    problems = problems + [p for p in checks if p.field not in reported]
    return (request if not problems else None), role, bounded_problems(problems)


def readable_launch_id(raw: Any) -> str | None:
    """The launch id to answer with (and to look up): None if there is none, or if it is too long
    or not Unicode text (an unpaired surrogate) to be a key, since no such launch can exist."""
    launch_id = _at(raw, "launchId")
    if not isinstance(launch_id, str) or not 0 < len(launch_id) <= LAUNCH_ID_CHARS:
        return None
    try:
        launch_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return launch_id
