"""Tenancy: who may launch, abort and read what (docs/security.md). Pure: no boto3.

* A **producer** is the identity of an event on batchlane's bus: its ``source`` (which IAM enforces
  on ``events:PutEvents`` with the ``events:source`` condition) and, when present, its ``account``.
* A **team** names the sources it owns, the projects/domains it may launch into (fnmatch patterns,
  ``*`` matches anything) and whether it may abort any launch (``abort: any``, an admin team) or
  only its own (``own``). The same model is the deployment config's ``teams`` and the SSM
  parameter ``producers`` (JSON), like ``Limits``.
* No team configured: every producer may launch anywhere and abort anything (the single-team quick
  start, batchlane before tenancy). docs/security.md warns about it.
* Launch data lives under ``launches/<kind>/t=<team>/p=<project>/d=<domain>/l=<launchId>/``
  (:class:`LaunchData`; values percent-encoded, so a project named ``a/b`` cannot reach into
  project ``a``'s prefix, nor an id named ``outputs`` imitate a kind).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

DATA_PREFIX = "launches/"
# A project or domain pattern: the characters that need no encoding in an S3 key (so that the same
# pattern is an IAM resource pattern over launch prefixes), and "*" for any run of characters.
Pattern = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.~*-]{1,256}$")]
# An EventBridge source a producer puts events with; "batchlane" (its answers) and "aws.*" are not.
Source = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^*\s]+$")]
RESERVED_SOURCES = ("batchlane",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Producer(BaseModel):
    """Who put an event on the bus (its envelope's ``source`` and ``account``), and, once
    authorised, the team it belongs to. Recorded on the launch (``LaunchRecord.producer``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: str
    account: str | None = None
    team: str | None = None

    def __str__(self) -> str:
        where = f" (account {self.account})" if self.account else ""
        return f"{json.dumps(self.source)}{where}"


class LaunchScope(_Strict):
    """Where a team may launch: launches whose project and domain both match."""

    project: Pattern
    domain: Pattern = "*"

    def covers(self, project: str, domain: str) -> bool:
        return fnmatchcase(project, self.project) and fnmatchcase(domain, self.domain)

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}"


class Team(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
    sources: Annotated[list[Source], Field(min_length=1)]
    account: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    launch: list[LaunchScope] = []
    abort: Literal["own", "any"] = "own"

    @field_validator("sources")
    @classmethod
    def _not_reserved(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if s in RESERVED_SOURCES or s.startswith("aws.")]
        if bad:
            raise ValueError(f"sources {', '.join(bad)} are reserved (batchlane's answers, AWS services)")
        return value

    def owns(self, producer: Producer) -> bool:
        return producer.source in self.sources and (self.account is None or producer.account == self.account)

    def may_launch(self, project: str, domain: str) -> bool:
        return any(scope.covers(project, domain) for scope in self.launch)

    def may_launch_pattern(self, project_pattern: str) -> bool:
        """Whether every project ``project_pattern`` matches is one the team may launch into (any domain)."""
        return any(scope.domain == "*" and fnmatchcase(project_pattern, scope.project) for scope in self.launch)


class Tenancy(_Strict):
    """The teams of a deployment; none: no tenancy (everyone may do everything)."""

    teams: list[Team] = []

    @model_validator(mode="after")
    def _unique(self) -> Tenancy:
        problems = [f"team name {n!r} is used twice" for n in _twice(t.name for t in self.teams)]
        problems += [f"source {s!r} belongs to two teams" for s in _twice(s for t in self.teams for s in t.sources)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def from_json(cls, text: str) -> Tenancy:
        """The SSM parameter ``producers``: ``{"teams": [...]}``; a bad one raises ValueError naming the key."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'producers'}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors()
                )
            ) from None

    @property
    def is_open(self) -> bool:
        return not self.teams

    def team_of(self, producer: Producer) -> Team | None:
        return next((t for t in self.teams if t.owns(producer)), None)

    def identify(self, producer: Producer | None) -> tuple[Producer | None, str | None]:
        """The producer with its team, or why it is nobody batchlane knows (tenancy on)."""
        if self.is_open:
            return producer, None
        found = self._member(producer)
        return (None, found) if isinstance(found, str) else (found[0], None)

    def _member(self, producer: Producer | None) -> tuple[Producer, Team] | str:
        """Tenancy on: the producer with its team, and that team; or why it is nobody batchlane knows."""
        if producer is None:
            return "the event carries no source: batchlane cannot tell who sent it"
        team = self.team_of(producer)
        if team is None:
            claimed = next((t for t in self.teams if producer.source in t.sources), None)
            if claimed is not None:
                return (
                    f"producer {producer} is not allowed: team {claimed.name}'s events come from "
                    f"account {claimed.account} only"
                )
            return (
                f"producer {producer} is not a source of any team of this deployment "
                "(teams are configured by operators: docs/security.md)"
            )
        return producer.model_copy(update={"team": team.name}), team

    def is_admin(self, producer: Producer | None) -> bool:
        """Whether the producer may abort any team's launch (``abort: any``; everyone, without teams)."""
        team = self.team_of(producer) if producer is not None else None
        return self.is_open or (team is not None and team.abort == "any")

    def launch_problem(self, producer: Producer | None, project: str, domain: str) -> str | None:
        """Why this producer may not launch into project/domain, or None (it may)."""
        if self.is_open:
            return None
        found = self._member(producer)
        if isinstance(found, str):
            return found
        known, team = found
        if team.may_launch(project, domain):
            return None
        allowed = ", ".join(map(str, team.launch)) or "nowhere"
        return (
            f"producer {known} (team {team.name}) may not launch into project {json.dumps(project)}, "
            f"domain {json.dumps(domain)} (it may launch into: {allowed})"
        )

    def abort_problem(
        self, producer: Producer | None, launched_by: Producer | None, project: str | None, domain: str | None
    ) -> str | None:
        """Why this producer may not abort a launch made by ``launched_by``, or None (it may).

        Its own team's launches, or any launch for an admin team (``abort: any``). A launch recorded
        before tenancy (no producer) may be aborted by a team allowed to launch into its project."""
        if self.is_open:
            return None
        found = self._member(producer)
        if isinstance(found, str):
            return found
        known, team = found
        if team.abort == "any":
            return None
        if launched_by is not None:
            if launched_by.team == team.name or (launched_by.team is None and launched_by.source in team.sources):
                return None
            return (
                f"producer {known} (team {team.name}) may not abort it: it was launched by "
                f"{launched_by.source!r}{f' (team {launched_by.team})' if launched_by.team else ''}; only that "
                "team or an admin team (abort: any) may"
            )
        if project is not None and domain is not None and team.may_launch(project, domain):
            return None
        return (
            f"producer {known} (team {team.name}) may not abort it: it was launched before producers were "
            f"recorded and team {team.name} may not launch into its project; an admin team (abort: any) may"
        )


def _twice(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return sorted(twice)


# ---- launch data ------------------------------------------------------------------------------------
# Every kind of data under its own fixed prefix, then typed segments ("t=" team, "p=" project,
# "d=" domain, "l=" launch id), each value percent-encoded (no "/" nor "="): "/p=<x>/" can only be a
# project, so an IAM pattern such as ``launches/children/t=*/p=genomics/*`` matches genomics' keys
# and nothing an id, a domain or another kind could imitate (IAM's "*" crosses "/").
INPUTS, CHILDREN, OUTPUTS, PARTS = "inputs", "children", "outputs", "parts"
DATA_KINDS = (INPUTS, CHILDREN, OUTPUTS, PARTS)


def _segment(name: str) -> str:
    # Every character but the unreserved ones is encoded: "/" cannot start another segment.
    return quote(name, safe="")


@dataclass(frozen=True)
class LaunchData:
    """Where one launch's data lives in the data bucket (keys, not URIs).

    * ``inputs/``: ``inputs.jsonl`` and ``inputs.idx`` (the launcher's, or a client's
      ``inputsLocation`` upload): written by its team's producers and the launcher, read by jobs;
    * ``children/``: child ``i`` writes ``<i>/outputs.json``: written by job roles only;
    * ``outputs/``: the assembled ``outputs.json``; ``parts/``: a chunk's part of it: the aggregator's."""

    team: str
    project: str
    domain: str
    launch_id: str

    def prefix(self, kind: str) -> str:
        segments = (self.team, self.project, self.domain, self.launch_id)
        typed = "/".join(f"{t}={_segment(v)}" for t, v in zip("tpdl", segments, strict=True))
        return f"{DATA_PREFIX}{kind}/{typed}/"

    @property
    def inputs_key(self) -> str:
        return f"{self.prefix(INPUTS)}inputs.jsonl"

    @property
    def index_key(self) -> str:
        return f"{self.prefix(INPUTS)}inputs.idx"

    @property
    def children_prefix(self) -> str:
        return self.prefix(CHILDREN)

    @property
    def assembled_key(self) -> str:
        return f"{self.prefix(OUTPUTS)}outputs.json"

    def part_key(self, chunk: int) -> str:
        return f"{self.prefix(PARTS)}{chunk:06d}"


def team_key_pattern(kind: str, team: str) -> str:
    """An IAM resource pattern (object key) over a team's data of one kind."""
    return f"{DATA_PREFIX}{kind}/t={team}/*"


def project_key_pattern(kind: str, project: str, domain: str = "*") -> str:
    """An IAM resource pattern (object key) over the data of one kind of matching projects/domains."""
    return f"{DATA_PREFIX}{kind}/t=*/p={project}/d={domain}/*"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/key`` -> (bucket, key); None when it is not an S3 URI with a key."""
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    return (bucket, key) if bucket and key else None


# ---- inputs outside a launch's own prefix, and job roles, per project ------------------------------


class InputsLocationGrant(_Strict):
    """An S3 prefix launches of these projects may take their ``inputsLocation`` from."""

    projects: Annotated[list[Pattern], Field(min_length=1)]
    uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(\S*/)?$")]

    def covers(self, project: str, uri: str) -> bool:
        return any(fnmatchcase(project, p) for p in self.projects) and uri.startswith(self.uri)


INPUTS_GRANTS = TypeAdapter(list[InputsLocationGrant])
ROLE_PROJECTS = TypeAdapter(dict[str, Annotated[list[Pattern], Field(min_length=1)]])


def patterns_overlap(a: str, b: str) -> bool:
    """Whether two project patterns can match a common name (conservatively: either matches the other)."""
    return fnmatchcase(a, b) or fnmatchcase(b, a)


def json_list(adapter: TypeAdapter, text: str, name: str):
    """An SSM parameter's JSON through ``adapter``; a bad one raises ValueError naming the entry."""
    try:
        return adapter.validate_json(text)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
