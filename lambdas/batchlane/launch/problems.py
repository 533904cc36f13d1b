"""A rejection's problems, bounded (pure): what a "Task Launch Rejected" quotes back of a request is
cut to fixed sizes and its problem list to a fixed count and byte size, whatever the request held."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from batchlane.common.event_types import EVENT_ID_CHARS

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


def _cut_text(value: Any) -> Any:
    return cut(value, PROBLEM_TEXT_CHARS) if isinstance(value, str) else value


ProblemText = Annotated[str, BeforeValidator(_cut_text), Field(max_length=PROBLEM_TEXT_CHARS)]


class Problem(BaseModel):
    # As the contract's models (batchlane.launch.models): unknown fields are errors.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

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
        - _json_bytes({"eventId": "0" * EVENT_ID_CHARS, "launchId": "\U0010ffff" * LAUNCH_ID_CHARS, "problems": []})
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
