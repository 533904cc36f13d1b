"""A team's launches, newest first: one Query of the executions table's ``launchesByTeam`` index per
page (batchlane.common.executions: its keys and the attributes it carries), never a Scan.

``since`` is the index's sort key condition; project, domain and phase are filters on the page
DynamoDB read. Pages continue from an opaque ``next`` token (the last listed item's index key),
so a filtered page never skips nor repeats a launch.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from batchlane.client.records import Executions
from batchlane.common.executions import (
    BY_TEAM_INDEX,
    PARTITION_KEY,
    REQUESTED_AT,
    SORT_KEY,
    TEAM_LAUNCHES,
    team_prefix,
)

# A launch item without a phase has had no event yet (the summary's phase is copied with each change).
NO_EVENT_PHASE = "queued"
INDEX_KEY = (TEAM_LAUNCHES, REQUESTED_AT, PARTITION_KEY, SORT_KEY)


class ListedLaunch(BaseModel):
    """One row of a listing: what the index carries of a launch item."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    launch_id: str
    requested_at: int  # epoch ms
    project: str | None = None
    domain: str | None = None
    workflow: str | None = None
    task: str | None = None
    size: int = 1
    queue: str | None = None
    state: str | None = None
    phase: str = NO_EVENT_PHASE


@dataclass(frozen=True)
class LaunchFilter:
    project: str | None = None
    domain: str | None = None
    phase: str | None = None
    since_ms: int | None = None  # launches requested at or after this (epoch ms)

    def expression(self) -> tuple[str | None, dict[str, str], dict[str, Any]]:
        """The FilterExpression of project, domain and phase, its names and values (None: no filter)."""
        parts, names, values = [], {}, {}
        for attr, wanted in (("project", self.project), ("domain", self.domain)):
            if wanted is not None:
                names[f"#{attr}"], values[f":{attr}"] = attr, {"S": wanted}
                parts.append(f"#{attr} = :{attr}")
        if self.phase is not None:
            names["#phase"], values[":phase"] = "phase", {"S": self.phase}
            no_event = " OR attribute_not_exists(#phase)" if self.phase == NO_EVENT_PHASE else ""
            parts.append(f"(#phase = :phase{no_event})")
        return (" AND ".join(parts) or None), names, values


@dataclass
class LaunchesPage:
    launches: list[ListedLaunch] = field(default_factory=list)
    next: str | None = None  # the token of the next page (None: this was the last)


class BadPageToken(ValueError):
    pass


def encode_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_token(token: str, team: str) -> dict[str, Any]:
    """The ExclusiveStartKey a token stands for; one of another team's listing (or garbage) is refused."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadPageToken("not a page token of `batchlane launches`") from None
    if not isinstance(key, dict) or sorted(key) != sorted(INDEX_KEY):
        raise BadPageToken("not a page token of `batchlane launches`")
    if key[TEAM_LAUNCHES] != {"S": team_prefix(team)}:
        raise BadPageToken(f"a page token of another team's listing, not team {team}'s")
    return key


def list_launches(
    executions: Executions, wanted: LaunchFilter = LaunchFilter(), *, limit: int = 50, after: str | None = None
) -> LaunchesPage:
    """Up to ``limit`` of the team's launches matching ``wanted``, newest first, from ``after`` on.
    Each request reads at most ``limit`` index entries; more requests only while filters drop rows."""
    condition = "#team = :team"
    names: dict[str, str] = {"#team": TEAM_LAUNCHES}
    values: dict[str, Any] = {":team": {"S": team_prefix(executions.team)}}
    if wanted.since_ms is not None:
        condition += " AND #at >= :since"
        names["#at"], values[":since"] = REQUESTED_AT, {"N": str(wanted.since_ms)}
    filter_, filter_names, filter_values = wanted.expression()
    request: dict[str, Any] = {
        "TableName": executions.table,
        "IndexName": BY_TEAM_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {**names, **filter_names},
        "ExpressionAttributeValues": {**values, **filter_values},
        "ScanIndexForward": False,  # newest first
        "Limit": limit,
        **({"FilterExpression": filter_} if filter_ else {}),
    }
    if after is not None:
        request["ExclusiveStartKey"] = decode_token(after, executions.team)
    raw: list[dict[str, Any]] = []
    more = True
    while more and len(raw) < limit:
        page = executions.dynamodb.query(**request)
        raw += page.get("Items", [])
        more = "LastEvaluatedKey" in page
        if more:
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    shown = raw[:limit]
    listed = LaunchesPage([_row(executions, item) for item in shown])
    if len(raw) > limit or (more and shown):
        listed.next = encode_token({k: shown[-1][k] for k in INDEX_KEY})
    return listed


def _row(executions: Executions, item: dict[str, Any]) -> ListedLaunch:
    try:
        return ListedLaunch.model_validate(executions.plain(item))
    except ValidationError as exc:  # an index entry is written by batchlane only: a bug if it does not read
        raise ValueError(f"launch item {item.get(PARTITION_KEY)}: {exc}") from None
