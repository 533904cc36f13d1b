"""The one PutEvents of a client: a launch or an abort request on batchlane's bus."""

from __future__ import annotations

import json
from typing import Any


class EventRefused(RuntimeError):
    """PutEvents answered but did not take the entry (``FailedEntryCount``)."""


def put_event(events, bus: str, detail_type: str, detail: Any, source: str) -> None:
    """Put one event on ``bus`` with the ``events`` client, as any client would. ``detail`` is a
    JSON value, or a string sent as it is (a malformed detail, to see it rejected)."""
    response = events.put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "EventBusName": bus,
                "Detail": detail if isinstance(detail, str) else json.dumps(detail),
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise EventRefused(
            f"PutEvents on bus {bus} refused the {detail_type} event: "
            f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
        )


def abort_detail(launch_id: Any, reason: str | None = None, team: str | None = None) -> dict[str, Any]:
    """The detail of a Task Abort Requested (docs/contracts.md): ``{launchId, reason?, team?}``
    (``team``: another team's launch, which only an admin team may abort)."""
    return {"launchId": launch_id, **({"reason": reason} if reason else {}), **({"team": team} if team else {})}
