"""A launch's status as one JSON document, for people and programs (pure).

One shaping function for every reader: ``batchlane status`` (items read from the executions
table), ``batchlane replay`` (events folded offline) and the local sandbox. The stored
record and the offline fold give the same document for the same events, outputs aside.

``replay_document`` folds raw events offline (``batchlane replay``).

Document (docs/status.md): ``launchId, phase, reason, jobId, queue, size, isArray, counts,
minSuccesses, blocked, console {name, url}, children`` (each ``index, jobId, status,
attempts, statusReason, exitCode, logs: [{name, url}]``), ``error`` when a child failed, and
``outputsUri`` (+ ``outputs`` when the caller read them) once finished. ``children`` lists the
children batchlane has seen an event of, by index; the others are counted as SUBMITTED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from batchlane.client.links import child_job_id, child_log_links, job_link
from batchlane.common.console import batch_job_url, partition_of
from batchlane.common.cost import launch_cost, summary_run_ms
from batchlane.common.executions import FINAL_PHASES, LAUNCH_TAG, LaunchPartition, LaunchRecord
from batchlane.status.events import BatchJobEvent, ForeignEvent, MalformedEvent, parse_event
from batchlane.status.failures import attempt_classes, child_class, failure_counts
from batchlane.status.fold import LaunchStatus, fold_events, summarize
from batchlane.status.observations import observe
from batchlane.status.outputs import launch_error_summary
from batchlane.status.phase import WAITING
from batchlane.status.reclaim import fallbacks_of
from batchlane.status.states import ChildState, ParentState
from batchlane.status.transitions import counts_of


def child_document(
    child: ChildState, *, job_id: str | None, is_array: bool, region: str, partition: str, log_group: str | None
) -> dict[str, Any]:
    last = child.last_attempt
    return {
        "index": child.index,
        "jobId": child_job_id(job_id, child.index, is_array) if job_id else None,
        "status": child.status,
        "attempts": child.attempt_count,
        "statusReason": child.status_reason or child.blocked,
        "exitCode": last.exit_code if last is not None else None,
        "failureClass": child_class(child),
        "attemptFailures": attempt_classes(child),
        "logs": [link.as_dict() for link in child_log_links(child, region, partition=partition, log_group=log_group)],
    }


def status_document(
    status: LaunchStatus,
    *,
    region: str,
    partition: str = "aws",
    log_group: str | None = None,
    phase: str | None = None,
    reason: str | None = None,
    error: str | None = None,
    outputs_uri: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a launch. ``phase``/``reason`` override the computed ones (the
    stored phase is authoritative: an abort or a fail-fast decision sticks)."""
    final_phase = phase or status.phase
    doc: dict[str, Any] = {
        "launchId": status.launch_id,
        "phase": final_phase,
        "reason": reason if phase else status.reason,
        "jobId": status.job_id,
        "queue": status.queue,
        "size": status.size,
        "isArray": status.is_array,
        "counts": dict(status.counts),
        "minSuccesses": status.min_successes,
        "failures": failure_counts(status.children),
        "blocked": None if final_phase in FINAL_PHASES else status.blocked,
        "console": job_link(region, status.job_id, partition=partition).as_dict() if status.job_id else None,
        "children": [
            child_document(
                c,
                job_id=status.job_id,
                is_array=status.is_array,
                region=region,
                partition=partition,
                log_group=log_group,
            )
            for c in status.children
        ],
    }
    if status.parent is not None:
        doc["parent"] = {
            "status": status.parent.status,
            "statusReason": status.parent.status_reason,
            "statusSummary": dict(status.parent.status_summary),
        }
    err = error if error is not None else launch_error_summary(status.children)
    if err:
        doc["error"] = err
    if outputs_uri and final_phase in FINAL_PHASES:
        doc["outputsUri"] = outputs_uri
    if extra:
        doc.update(extra)
    return doc


def record_document(items: Iterable[Mapping[str, Any]], children: Iterable[ChildState] = ()) -> dict[str, Any] | None:
    """The document of a launch from the items of its partition in the executions table
    (plain Python values: numbers as int/Decimal) and its children's states (its shards' ranges).
    None when there is no launch item."""
    part = LaunchPartition.of(items)
    record = part.record
    if record is None:
        return None
    summary = part.summary
    parent = ParentState.from_item(part.parent) if part.parent is not None else None
    status = summarize(record.as_status_launch(), children, parent, aborted=part.phase == "aborted")
    extra: dict[str, Any] = {"terminated": True} if summary.get("terminated") else {}
    if record.reclaim_queue is not None:  # onReclaim: children fallback on demand after a Spot reclaim
        extra.update(
            fallbacks=fallbacks_of(summary),
            reclaimQueue=record.reclaim_queue,
            fallbackJobs=_fallback_jobs(part, record),
        )
    if record.nodes is not None:  # its children are its nodes; the main node's end is the launch's
        extra["nodes"] = {"count": record.nodes, "mainNode": record.main_node or 0}
    if record.request is not None:  # what each child asked for is known: usage and its estimated price
        extra["cost"] = launch_cost(summary_run_ms(summary), record.request, record.routing)
    if record.rerun_of is not None:  # its original, whose outputs' index space it keeps
        extra["rerunOf"] = record.rerun_of.model_dump(by_alias=True)
    if record.reruns:
        extra["reruns"] = sorted(record.reruns)
    chunks = record.chunks
    if chunks.chunked:
        # Children of chunks not submitted yet have no item: the summary knows how many wait for a slot.
        waiting = counts_of(summary, record.size, chunks)[WAITING]
        counts = dict(status.counts)
        counts["SUBMITTED"] = max(0, counts.get("SUBMITTED", 0) - waiting)
        counts[WAITING] = waiting
        status = replace(status, counts=counts)
        extra.update(
            waiting=waiting, chunks={"size": chunks.chunk_size, "count": chunks.count, "window": chunks.window}
        )
    return status_document(
        status,
        region=record.region or "us-east-1",
        partition=partition_of(record.job_arn or ""),
        log_group=record.log_group,
        phase=part.phase,
        reason=summary.get("reason"),
        error=summary.get("error"),
        outputs_uri=summary.get("outputsUri"),
        extra=extra or None,
    )


def _fallback_jobs(part: LaunchPartition, record: LaunchRecord) -> list[dict[str, Any]]:
    """The fallbacks submitted so far, with their console links (onReclaim)."""
    region, partition = record.region or "us-east-1", partition_of(record.job_arn or "")
    return [
        {
            "index": index,
            "jobId": item["jobId"],
            "queue": item.get("queue"),
            "consoleUrl": batch_job_url(partition, region, item["jobId"]),
        }
        for index, item in sorted(part.fallbacks.items())
        if item.get("jobId")
    ]


def replay_document(
    lines: list[str],
    *,
    size: int | None = None,
    min_success_ratio: Any = None,
    job_id: str | None = None,
    warn=lambda text: None,
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """``batchlane replay``: fold the raw events (one EventBridge event per line) of one
    Batch job offline, with the join the aggregator applies (``merge_child``), into the status
    document (no outputs); also the tallies ``events``, ``malformed``, ``foreign``, ``otherJobs``.
    Nothing here calls AWS."""
    tally = Counter(events=0, malformed=0, foreign=0, otherJobs=0)
    events = _parsed_events(lines, tally, warn)
    if not events:
        return None, dict(tally)
    job = job_id or events[0].detail.parent_job_id
    ours = [e for e in events if e.detail.parent_job_id == job]
    tally["otherJobs"] = len(events) - len(ours)
    tally["events"] = len(ours)
    if tally["otherJobs"]:
        warn(f"{tally['otherJobs']} events of other Batch jobs skipped (folding job {job}; --job-id picks another)")
    if not ours:
        return None, dict(tally)
    launch = _replayed_launch(ours, job, size, min_success_ratio)
    status = fold_events(launch, ours)  # the same join as the aggregator's: order and duplicates do not matter
    log_groups = [e.detail.log_group for e in ours if e.detail.log_group]
    document = status_document(
        status, region=ours[0].region, partition=ours[0].partition, log_group=log_groups[0] if log_groups else None
    )
    return document, dict(tally)


def _parsed_events(lines: list[str], tally: Counter, warn) -> list[BatchJobEvent]:
    """The lines that are Batch job events, in order; the others tallied and warned about."""
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = parse_event(line)
            observe(event)  # an unknown Batch status or a negative index: malformed, like in the aggregator
        except ForeignEvent as exc:
            tally["foreign"] += 1
            warn(f"line {number}: skipped, {exc}")
            continue
        except MalformedEvent as exc:
            tally["malformed"] += 1
            warn(f"line {number}: malformed: {str(exc)[:300]}")
            continue
        events.append(event)
    return events


def _replayed_launch(events: list[BatchJobEvent], job: str, size: int | None, min_success_ratio: Any) -> dict[str, Any]:
    """The launch record the fold reads, as far as the events tell it (``size`` when given wins)."""
    parent_sizes = [
        e.detail.array_properties.size
        for e in events
        if e.detail.is_array_parent and e.detail.array_properties and e.detail.array_properties.size
    ]
    indexes = [e.detail.child_index for e in events if e.detail.is_array_child and e.detail.child_index is not None]
    is_array = bool(parent_sizes or indexes)
    inferred = max(parent_sizes) if parent_sizes else (max(indexes) + 1 if indexes else 1)
    launch_ids = [e.detail.tags.get(LAUNCH_TAG) for e in events if e.detail.tags and e.detail.tags.get(LAUNCH_TAG)]
    launch: dict[str, Any] = {
        "launchId": launch_ids[0] if launch_ids else None,
        "jobId": job,
        "size": size or inferred,
        "isArray": is_array or (size or 1) > 1,
        "minSuccessRatio": 1 if min_success_ratio is None else min_success_ratio,
    }
    queues = [e.detail.job_queue for e in events if e.detail.job_queue]
    if queues:
        launch["queue"] = queues[0].rsplit("/", 1)[-1]
    return launch
