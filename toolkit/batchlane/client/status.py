"""A launch's status for programs (an orchestrator's connector, the CLI): one cheap read.

``launch_summary`` reads at most four items with **one** consistent ``BatchGetItem`` (``sk`` =
``launch``, ``status``, ``rejection`` of the launch's partition, and the range item of child 0 in
its first shard), whatever the number of children: never a query of the whole partition. The
summary's counts are the launch's, rolled up from its shards (status.rollup). Children are read on
request, a page at a time, never with a scan: ``children_page`` (a Query of range items, 100
children each, per shard the page reaches), ``failed_page`` (Queries of range items, stopping at the
page's size or once every failed child the summary counts is found) and ``child_detail`` (one
GetItem: the child's range).

Phases: the stored ones (``queued``, ``running``, ``succeeded``, ``failed``, ``aborted``), and
``submitted`` (launched, no Batch event folded yet), ``submitting`` (claimed, SubmitJob under way),
``rejected`` (no launch record, a rejection item: its ``problems``), ``unknown`` (nothing yet).

Links: the Batch console page of the job (``AWS Batch Job``) and, for a plain job, every attempt's
CloudWatch link named as Flyte names them (``AWS Batch #0-<attempt> (<phase>)``). An array's
children's links are in ``children_page``; its failures are in ``error`` (Flyte's format, the
failed indexes as ranges).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from batchlane.client.links import DEFAULT_LOG_GROUP, attempt_phase, job_link, log_link_name, log_stream_url
from batchlane.client.view import child_document
from batchlane.common.console import partition_of
from batchlane.common.cost import Resources, launch_cost, run_ms, summary_run_ms, usage
from batchlane.common.executions import (
    FINAL_PHASES,
    LAUNCH_SK,
    PARTITION_KEY,
    RANGE_CHILDREN,
    RANGE_PREFIX,
    REJECTION_SK,
    SHARD_CHILDREN,
    SORT_KEY,
    SUBMITTED,
    SUMMARY_SK,
    LaunchRecord,
    range_of,
    range_sk,
    shard_count,
    shard_key,
    shard_of,
    shard_of_range,
    sk_number,
)
from batchlane.status.failures import attempt_class
from batchlane.status.finish import child_outputs_uri
from batchlane.status.ranges import ChildRange
from batchlane.status.states import ChildState
from batchlane.status.transitions import counts_of

READ_KEYS = (LAUNCH_SK, SUMMARY_SK, REJECTION_SK)
MAX_UNPROCESSED_ROUNDS = 5  # BatchGetItem may leave keys unprocessed under throttling: read them again
FAILED = "FAILED"
# Children one Query of range items evaluates while looking for failed children (a range item is
# a few KB compressed, far below the 1 MB a Query reads at most): the read unit of ``failed_page``.
FAILED_SCAN_PAGE = 1000


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
    rejected_at_ms: int | None = None  # when batchlane wrote the rejection (its clock), for ``rejected``
    cost: dict[str, Any] | None = None  # batchlane.common.cost.launch_cost (None: the request was not kept)
    # The launch item as read (None: no launch record): lets a caller page children without reading it again.
    record: LaunchRecord | None = field(default=None, compare=False, repr=False)

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES or self.phase == "rejected"

    def as_json(self) -> dict[str, Any]:
        return {
            "launchId": self.launch_id,
            "phase": self.phase,
            "message": self.message,
            "size": self.size,
            "isArray": self.is_array,
            "counts": self.counts,
            "jobId": self.job_id,
            "queue": self.queue,
            "error": self.error,
            "links": self.links,
            "outputsUri": self.outputs_uri,
            "problems": self.problems,
            **({"cost": self.cost} if self.cost else {}),
        }


def summary_from_items(launch_id: str, items: dict[str, dict[str, Any]]) -> LaunchSummary:
    """The summary from the items read, by sort key (plain Python values; pure)."""
    if LAUNCH_SK not in items:
        rejection = items.get(REJECTION_SK)
        if rejection is None:
            return LaunchSummary(launch_id, "unknown", "no launch and no rejection under this id (yet)")
        problems = list(rejection.get("problems") or [])
        message = "; ".join(f"{p.get('field')}: {p.get('message')}" for p in problems)
        rejected_at = rejection.get("rejectedAt")
        return LaunchSummary(
            launch_id,
            "rejected",
            message,
            problems=problems,
            rejected_at_ms=int(rejected_at) if rejected_at is not None else None,
        )
    record = LaunchRecord.from_item(items[LAUNCH_SK])
    summary = items.get(SUMMARY_SK) or {}
    submitting = LaunchSummary(
        launch_id,
        "submitting",
        "the job is being submitted",
        size=record.size,
        is_array=record.is_array,
        job_id=record.job_id,
        queue=record.queue,
        record=record,
    )
    if record.state != SUBMITTED:
        return submitting
    phase = summary.get("phase") or "submitted"
    message = summary.get("reason") or ("submitted, no Batch event yet" if phase == "submitted" else phase)
    return replace(
        submitting,
        phase=phase,
        message=message,
        counts=_nonzero(counts_of(summary, record.size, record.chunks)),
        error=summary.get("error"),
        links=_links(record, _first_child(items.get(range_sk(0)))),
        outputs_uri=summary.get("outputsUri"),
        cost=launch_cost(summary_run_ms(summary), record.request, record.routing) if record.request else None,
    )


def _first_child(range_item: dict[str, Any] | None) -> dict[str, Any] | None:
    """Child 0's item form, from the range item that holds it."""
    child = _decode(range_item).states.get(0) if range_item is not None else None
    return child.to_item() if child is not None else None


def _decode(item: dict[str, Any]) -> ChildRange:
    blob = item.get("states")
    return ChildRange.decode(sk_number(item[SORT_KEY]), bytes(blob) if blob is not None else None)


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _links(record: LaunchRecord, first_child: dict[str, Any] | None) -> list[dict[str, str]]:
    region, partition = record.region or "us-east-1", partition_of(record.job_arn or "")
    links = [job_link(region, record.job_id, partition=partition).as_dict()] if record.job_id else []
    if first_child is not None and not record.is_array:
        links += _child(record, first_child)["logs"]
    return links


def _child(record: LaunchRecord, item: dict[str, Any]) -> dict[str, Any]:
    return child_document(
        ChildState.from_item(item),
        job_id=record.job_id,
        is_array=record.is_array,
        region=record.region or "us-east-1",
        partition=partition_of(record.job_arn or ""),
        log_group=record.log_group,
    )


def launch_summary(executions, launch_id: str) -> LaunchSummary:
    """One consistent BatchGetItem of the launch's four summary items (``executions``:
    :class:`batchlane.client.records.Executions`)."""
    pk = executions.key_of(launch_id)
    keys = [{PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}} for sk in READ_KEYS]
    keys.append({PARTITION_KEY: {"S": shard_key(pk, 0)}, SORT_KEY: {"S": range_sk(0)}})
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


@dataclass(frozen=True)
class ChildrenPage:
    """A page of children (``child_document``s, index order) and where the next page starts."""

    children: list[dict[str, Any]]
    after: int | None  # pass as ``after`` for the next page; None: there is no next page
    reads: int  # DynamoDB requests made for this page (the launch record's included)

    def as_json(self) -> dict[str, Any]:
        return {"children": self.children, "after": self.after}


def children_page(
    executions, launch_id: str, *, limit: int = 100, after: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` children (with their log links) from index ``after + 1`` on, and the index to
    pass as ``after`` for the next page (None: no more). A consistent Query of range items."""
    page = read_children(executions, launch_id, limit=limit, after=after)
    return page.children, page.after


def read_children(
    executions, launch_id: str, *, limit: int = 100, after: int | None = None, record: LaunchRecord | None = None
) -> ChildrenPage:
    """``children_page`` as a :class:`ChildrenPage`; ``record``: the launch item already read."""
    record, reads = _record(executions, launch_id, record)
    if record is None:
        return ChildrenPage([], None, reads)
    queries = _Queries()
    taken = list(islice(_children_after(executions, record, after, limit + 1, queries), limit + 1))
    children = [_child(record, c.to_item()) for c in taken[:limit]]
    more = len(taken) > limit
    return ChildrenPage(children, children[-1]["index"] if more else None, reads + queries.made)


def failed_page(
    executions,
    launch_id: str,
    *,
    limit: int = 100,
    after: int | None = None,
    summary: LaunchSummary | None = None,
    scan_page: int = FAILED_SCAN_PAGE,
) -> ChildrenPage:
    """Up to ``limit`` FAILED children from index ``after + 1`` on: Queries of the range items of
    ``scan_page`` children, until ``limit`` are found or the children end. With the launch's
    ``summary`` the launch record is not read again and the first page (``after`` None) stops once
    it has the summary's FAILED count: the children after the last failure are not read. The
    children in between are read (docs/status.md, "Paging the children")."""
    remaining = summary.counts.get(FAILED, 0) if summary is not None and after is None else None
    record, reads = _record(executions, launch_id, summary.record if summary is not None else None)
    if record is None or remaining == 0:
        return ChildrenPage([], None, reads)
    wanted = limit if remaining is None else min(limit, remaining)
    queries = _Queries()
    failed = (c for c in _children_after(executions, record, after, scan_page, queries) if c.status == FAILED)
    found = [_child(record, c.to_item()) for c in islice(failed, wanted)]
    every_one = remaining is not None and len(found) >= remaining
    more = len(found) == wanted and not every_one
    return ChildrenPage(found, found[-1]["index"] if more else None, reads + queries.made)


def child_detail(
    executions, launch_id: str, index: int, *, record: LaunchRecord | None = None
) -> dict[str, Any] | None:
    """One child (one consistent GetItem): its document, every attempt with its exit code, reasons,
    failure class, times and log link, and where it writes its outputs. None: no such child (yet)."""
    record, plain = child_item(executions, launch_id, index, record=record)
    if record is None or plain is None:
        return None
    child = ChildState.from_item(plain)
    document = _child(record, plain)
    region, partition = record.region or "us-east-1", partition_of(record.job_arn or "")
    group = child.log_group or record.log_group
    resources = Resources.of_request(record.request)
    document["attemptDetails"] = [
        {
            "attempt": k,
            "exitCode": a.exit_code,
            "statusReason": a.status_reason,
            "reason": a.reason,
            "failureClass": attempt_class(a),
            "startedAt": a.started_at,
            "stoppedAt": a.stopped_at,
            "usage": usage(run_ms([a]), resources) if a.stopped_at is not None else None,
            "log": {
                "name": log_link_name(child.index, k, attempt_phase(child, k)),
                "url": log_stream_url(region, a.log_stream, group, partition),
                "logGroup": group or DEFAULT_LOG_GROUP,
                "logStream": a.log_stream,
            }
            if a.log_stream
            else None,
        }
        for k, a in enumerate(child.attempts)
    ]
    document["outputsUri"] = child_outputs_uri(record.outputs_uri, child.index) if record.outputs_uri else None
    return document


def child_item(
    executions, launch_id: str, index: int, *, record: LaunchRecord | None = None
) -> tuple[LaunchRecord | None, dict[str, Any] | None]:
    """The launch record and one child's item as plain values (one consistent GetItem each; the
    record not read again when given). None where there is none (yet)."""
    record, _ = _record(executions, launch_id, record)
    if record is None:
        return None, None
    number = range_of(index)
    pk = shard_key(executions.key_of(launch_id), shard_of_range(number))
    item = executions.dynamodb.get_item(
        TableName=executions.table,
        ConsistentRead=True,
        Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": range_sk(number)}},
    ).get("Item")
    child = _decode(executions.plain(item)).states.get(index) if item is not None else None
    return record, child.to_item() if child is not None else None


def _record(executions, launch_id: str, record: LaunchRecord | None) -> tuple[LaunchRecord | None, int]:
    """The launch record and the reads it took (0 when the caller had it)."""
    return (record, 0) if record is not None else (executions.record(launch_id), 1)


def stored_children(executions, record: LaunchRecord) -> Iterator[ChildState]:
    """Every child with a state, by index (the whole document's read: a launch's every range)."""
    return _children_after(executions, record, None, SHARD_CHILDREN, _Queries())


@dataclass
class _Queries:
    made: int = 0


def _children_after(
    executions, record: LaunchRecord, after: int | None, page_children: int, queries: _Queries
) -> Iterator[ChildState]:
    """The children with a state from index ``after + 1`` on, by index: consistent Queries of range
    items (enough for ``page_children`` children each), shard after shard, read as they are consumed."""
    start = 0 if after is None else after + 1
    per_query = max(1, -(-page_children // RANGE_CHILDREN))
    pk = executions.key_of(record.launch_id)
    for shard in range(shard_of(start), shard_count(record.size)):
        query: dict[str, Any] = dict(
            TableName=executions.table,
            ConsistentRead=True,
            KeyConditionExpression=f"{PARTITION_KEY} = :s AND {SORT_KEY} BETWEEN :from AND :to",
            ExpressionAttributeValues={
                ":s": {"S": shard_key(pk, shard)},
                ":from": {"S": range_sk(range_of(start))},
                ":to": {"S": RANGE_PREFIX + "\uffff"},
            },
            Limit=per_query,
        )
        while True:
            response = executions.dynamodb.query(**query)
            queries.made += 1
            for item in response.get("Items", []):
                states = _decode(executions.plain(item)).states
                yield from (states[i] for i in sorted(states) if i >= start)
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
