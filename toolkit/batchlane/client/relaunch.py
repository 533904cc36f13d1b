"""``batchlane relaunch LAUNCH --failed``: the launch detail of a rerun of a finished map task's
FAILED children (batchlane.launch.reruns): the original's request as the launcher recorded it, the
failed children's inputs (read from its inputs object), ``rerunOf`` naming it and, for each rerun
child, the index of the outputs it replaces (those of the chain's first launch)."""

from __future__ import annotations

import json
import re
from itertools import islice
from typing import Any

from batchlane.client.status import failed_page
from batchlane.common.executions import LaunchRecord
from batchlane.common.tenancy import split_s3_uri

_RERUN_ID = re.compile(r"^(?P<root>.+)\.rerun(?P<n>\d+)$")


class NotRerunnable(Exception):
    """Why this launch cannot be rerun (one line)."""


def next_rerun_id(launch_id: str) -> str:
    """``L.rerun1`` for ``L``, ``L.rerun2`` for ``L.rerun1``: a chain's ids say where they stand."""
    found = _RERUN_ID.match(launch_id)
    return f"{found['root']}.rerun{int(found['n']) + 1}" if found else f"{launch_id}.rerun1"


def failed_indexes(executions, launch_id: str) -> list[int]:
    """Every FAILED child of the launch, in index order (pages of failed children)."""
    indexes: list[int] = []
    after: int | None = None
    while True:
        page = failed_page(executions, launch_id, limit=1000, after=after)
        indexes += [child["index"] for child in page.children]
        if page.after is None:
            return indexes
        after = page.after


def inputs_at(s3, inputs_uri: str, indexes: list[int]) -> list[Any]:
    """Lines ``indexes`` (ascending) of a JSON Lines object, in one streamed read."""
    where = split_s3_uri(inputs_uri)
    if where is None:
        raise NotRerunnable(f"its inputs are not an S3 object ({inputs_uri})")
    lines = s3.get_object(Bucket=where[0], Key=where[1])["Body"].iter_lines()
    wanted, found = set(indexes), {}
    for i, line in enumerate(islice(lines, indexes[-1] + 1)):
        if i in wanted:
            found[i] = json.loads(line)
    missing = wanted - set(found)
    if missing:
        raise NotRerunnable(f"its inputs {inputs_uri} have no line {min(missing)}")
    return [found[i] for i in indexes]


def rerun_detail(client, launch_id: str, rerun_id: str | None = None) -> dict[str, Any]:
    """The detail of a launch of ``launch_id``'s failed children (``client``: a BatchlaneClient)."""
    record: LaunchRecord | None = client.executions.record(launch_id)
    if record is None:
        raise NotRerunnable(f"no launch {launch_id!r} of team {client.team}")
    if record.request is None or record.inputs_uri is None:
        raise NotRerunnable("it was recorded before reruns were possible (its request was not kept)")
    if not client.executions.status(launch_id).final:
        raise NotRerunnable("it has not finished yet: rerun its failed children once it has")
    failed = failed_indexes(client.executions, launch_id)
    if not failed:
        raise NotRerunnable("no child failed")
    inputs = inputs_at(client.client("s3"), record.inputs_uri, failed)
    space = record.rerun_of.indexes if record.rerun_of else None  # a rerun's children: indexes of its original's
    return {
        **record.request,
        "launchId": rerun_id or next_rerun_id(launch_id),
        "inputs": inputs,
        "rerunOf": {"launchId": launch_id, "indexes": [space[i] if space else i for i in failed]},
    }
