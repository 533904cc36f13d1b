"""A launch's status for programs (an orchestrator's connector, the CLI): one cheap read.

``launch_summary`` reads at most four items of the launch's partition with **one** consistent
``BatchGetItem`` (``sk`` = ``launch``, ``status``, ``rejection`` and ``child#000000``), whatever
the number of children: never a query of the whole partition. ``children_page`` reads children on
request, a page at a time.

Phases: the stored ones (``queued``, ``running``, ``succeeded``, ``failed``, ``aborted``), and
``submitted`` (launched, no Batch event folded yet), ``submitting`` (claimed, SubmitJob under way),
``rejected`` (no launch record, a rejection item: its ``problems``), ``unknown`` (nothing yet).

Links: the Batch console page of the job (``AWS Batch Job``) and, for a plain job, every attempt's
CloudWatch link named as Flyte names them (``AWS Batch #0-<attempt> (<phase>)``). An array's
children's links are in ``children_page``; its failures are in ``error`` (Flyte's format, the
failed indexes as ranges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchlane.common.console import partition_of
from batchlane.common.executions import (
    CHILD_PREFIX, FINAL_PHASES, LAUNCH_SK, PARTITION_KEY, REJECTION_SK, SORT_KEY, SUBMITTED, SUMMARY_SK, LaunchRecord,
    child_sk,
)
from batchlane.status.fold import ChildState
from batchlane.status.links import job_link
from batchlane.status.transitions import counts_of
from batchlane.status.view import child_document

READ_KEYS = (LAUNCH_SK, SUMMARY_SK, REJECTION_SK, child_sk(0))
MAX_UNPROCESSED_ROUNDS = 5  # BatchGetItem may leave keys unprocessed under throttling: read them again


@dataclass(frozen=True)
class LaunchSummary:
    launch_id: str
    phase: str
    message: str = ""
    size: int = 0
    is_array: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    job_id: str | None = None
    queue: str | None = None
    error: str | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    outputs_uri: str | None = None
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES or self.phase == "rejected"

    def as_json(self) -> dict[str, Any]:
        return {"launchId": self.launch_id, "phase": self.phase, "message": self.message, "size": self.size,
                "isArray": self.is_array, "counts": self.counts, "jobId": self.job_id, "queue": self.queue,
                "error": self.error, "links": self.links, "outputsUri": self.outputs_uri, "problems": self.problems}


def summary_from_items(launch_id: str, items: dict[str, dict[str, Any]]) -> LaunchSummary:
    """The summary from the items read, by sort key (plain Python values; pure)."""
    if LAUNCH_SK not in items:
        rejection = items.get(REJECTION_SK)
        if rejection is None:
            return LaunchSummary(launch_id, "unknown", "no launch and no rejection under this id (yet)")
        problems = list(rejection.get("problems") or [])
        message = "; ".join(f"{p.get('field')}: {p.get('message')}" for p in problems)
        return LaunchSummary(launch_id, "rejected", message, problems=problems)
    record = LaunchRecord.from_item(items[LAUNCH_SK])
    summary = items.get(SUMMARY_SK) or {}
    base = dict(size=record.size, is_array=record.is_array, job_id=record.job_id, queue=record.queue)
    if record.state != SUBMITTED:
        return LaunchSummary(launch_id, "submitting", "the job is being submitted", **base)
    phase = summary.get("phase") or "submitted"
    message = summary.get("reason") or ("submitted, no Batch event yet" if phase == "submitted" else phase)
    return LaunchSummary(launch_id, phase, message, counts=_nonzero(counts_of(summary, record.size, record.chunks)),
                         error=summary.get("error"), links=_links(record, items.get(child_sk(0))),
                         outputs_uri=summary.get("outputsUri"), **base)


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _links(record: LaunchRecord, first_child: dict[str, Any] | None) -> list[dict[str, str]]:
    region, partition = record.region or "us-east-1", partition_of(record.job_arn or "")
    links = [job_link(region, record.job_id, partition=partition).as_dict()] if record.job_id else []
    if first_child is not None and not record.is_array:
        links += _child(record, first_child)["logs"]
    return links


def _child(record: LaunchRecord, item: dict[str, Any]) -> dict[str, Any]:
    return child_document(ChildState.from_item(item), job_id=record.job_id, is_array=record.is_array,
                          region=record.region or "us-east-1", partition=partition_of(record.job_arn or ""),
                          log_group=record.log_group)


def launch_summary(executions, launch_id: str) -> LaunchSummary:
    """One consistent BatchGetItem of the launch's four summary items (``executions``:
    :class:`batchlane.client.records.Executions`)."""
    keys = [{PARTITION_KEY: {"S": launch_id}, SORT_KEY: {"S": sk}} for sk in READ_KEYS]
    request = {executions.table: {"Keys": keys, "ConsistentRead": True}}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(MAX_UNPROCESSED_ROUNDS):
        response = executions.dynamodb.batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(executions.table, []):
            plain = executions.plain(item)
            found[plain[SORT_KEY]] = plain
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    return summary_from_items(launch_id, found)


def children_page(executions, launch_id: str, *, limit: int = 100,
                  after: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` children (with their log links) from index ``after + 1`` on, and the index to
    pass as ``after`` for the next page (None: no more). One consistent Query of child items."""
    record = executions.record(launch_id)
    if record is None:
        return [], None
    start = child_sk(after) if after is not None else CHILD_PREFIX
    response = executions.dynamodb.query(
        TableName=executions.table, ConsistentRead=True, Limit=limit,
        KeyConditionExpression=f"{PARTITION_KEY} = :l AND {SORT_KEY} BETWEEN :from AND :to",
        ExpressionAttributeValues={":l": {"S": launch_id}, ":from": {"S": start + "\0" if after is not None else start},
                                   ":to": {"S": CHILD_PREFIX + "\uffff"}})
    children = [_child(record, executions.plain(item)) for item in response.get("Items", [])]
    more = "LastEvaluatedKey" in response and children
    return children, (children[-1]["index"] if more else None)
