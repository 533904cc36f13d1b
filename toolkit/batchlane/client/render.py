"""Text for people, the same wherever it is shown (``batchlane`` commands, the sandbox demo): a
launch's status, its counts, the answer to a launch, a routing decision. Pure: lines in, nothing
printed, nothing imported that the CLI's fast start would pay for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from batchlane.routing.items import QUEUE_PREFIX, SORT_ATTR
from batchlane.routing.scope import Scope

if TYPE_CHECKING:
    from batchlane.client.launches import ListedLaunch
    from batchlane.common.executions import LaunchRecord
    from batchlane.routing import Decision

COUNT_ORDER = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
FAILED_ROWS = 20  # failed children shown by the compact view; the rest are a `status --failed` away


@dataclass(frozen=True)
class StatusView:
    """How much of a launch's status the text shows. The default is compact (counts, failure
    classes, the first failed children, outputs summarised): a 3,000-child map fits a screen."""

    links: bool = False  # the console link and every attempt's log link
    children: bool = False  # a row for every child with events, not only the failed ones
    outputs: bool = False  # the outputs in full


LONG_VIEW = StatusView(links=True, children=True, outputs=True)


def table_text(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def counts_text(doc: dict[str, Any]) -> str:
    """``SUCCEEDED 7  FAILED 1``: the statuses with children, in the order a child goes through them."""
    counts = doc.get("counts") or {}
    names = [k for k in COUNT_ORDER if counts.get(k)] + [k for k in counts if k not in COUNT_ORDER and counts[k]]
    return "  ".join(f"{k} {counts[k]}" for k in names) or "-"


def sent_line(detail_type: str, launch_id: str, bus: str, where: str) -> str:
    return f"Sent {detail_type} {launch_id} to bus {bus} ({where})"


def launched_lines(record: LaunchRecord) -> list[str]:
    """The answer "launched": the job, its queue, why that queue, the console link."""
    what = f"array job of {record.size} children" if record.is_array else "job"
    if record.nodes is not None:
        what = f"multi-node job of {record.nodes} nodes (main node {record.main_node or 0})"
    lines = [f"Launched {record.launch_id}: {what} {record.job_id} on queue {record.queue}"]
    if record.routing:
        lines.append(f"  routing: {record.routing.get('reason') or ''}".rstrip())
    if record.console_url:
        lines.append(f"  console: {record.console_url}")
    return lines


def rejected_lines(launch_id: str, problems: list[dict[str, Any]]) -> list[str]:
    """The answer "rejected": every problem, one line each."""
    return [
        f"Rejected {launch_id}: {len(problems)} problem(s)",
        *(f"  {p.get('field')}: {p.get('message')}" for p in problems),
    ]


class Progress:
    """While following a launch: a line for each phase change and each change of the counts."""

    def __init__(self, say, started: float) -> None:
        self.say, self.started = say, started
        self._phase: str | None = None
        self._counts: str | None = None

    def show(self, doc: dict[str, Any] | None, stored_phase: str | None, now: float) -> None:
        if doc is None:
            return
        elapsed = now - self.started
        phase = stored_phase or doc.get("phase")
        if phase != self._phase:
            self.say(f"  [{elapsed:5.1f} s] phase {phase}: {doc.get('reason') or ''}".rstrip(": "))
            self._phase = phase
        counts = counts_text(doc)
        if counts != self._counts:
            self.say(
                f"  [{elapsed:5.1f} s]   {counts}   (of {doc.get('size')}, success needs {doc.get('minSuccesses')})"
            )
            self._counts = counts

    def note(self, text: str, now: float) -> None:
        self.say(f"  [{now - self.started:5.1f} s] {text}")


def status_lines(doc: dict[str, Any], view: StatusView = StatusView()) -> list[str]:
    """``batchlane status``: phase, job, counts, errors, the failed children (``view``: links, every
    child, the outputs in full)."""
    name = doc.get("launchId") or "(replayed events)"
    lines = [
        f"Launch {name}: {doc['phase']} ({doc['reason']})",
        f"  job    {doc.get('jobId') or '(not submitted yet)'}   queue {doc.get('queue') or '-'}   "
        f"size {doc['size']}" + (" (array)" if doc.get("isArray") else ""),
    ]
    counts = ", ".join(f"{k} {v}" for k, v in doc["counts"].items() if v)
    lines.append(f"  counts {counts or '-'}   (success needs {doc['minSuccesses']})")
    if doc.get("cost"):
        lines.append(f"  cost   {cost_text(doc['cost'])}")
    if doc.get("rerunOf"):
        rerun = doc["rerunOf"]
        lines.append(
            f"  rerun of {rerun['launchId']}: child i reruns index {_index_list(rerun['indexes'])} "
            f"of its {rerun['size']} outputs"
        )
    if doc.get("reruns"):
        lines.append(f"  rerun as {', '.join(doc['reruns'])} (their failed children: batchlane relaunch ID --failed)")
    if doc.get("console") and view.links:
        lines.append(f"  {doc['console']['name']}: {doc['console']['url']}")
    if doc.get("blocked"):
        lines.append(f"  blocked: {doc['blocked']}")
    if doc.get("failures"):
        lines.append("  failed attempts: " + ", ".join(f"{k} {v}" for k, v in sorted(doc["failures"].items())))
    if doc.get("terminated"):
        lines.append("  the remaining children were stopped (TerminateJob)")
    if doc.get("error"):
        lines.append("  errors:")
        lines += [f"    {line}" for line in doc["error"].splitlines()]
    lines += _children_lines(doc, view)
    if doc.get("outputsUri"):
        lines.append(f"  outputs: {doc['outputsUri']}")
        if "outputs" in doc:
            lines += [f"    {line}" for line in _outputs_lines(doc["outputs"], view.outputs)]
    if doc.get("replay"):
        r = doc["replay"]
        lines.append(
            f"  replayed {r['events']} events ({r['malformed']} malformed, {r['foreign']} foreign, "
            f"{r['otherJobs']} of other jobs)"
        )
    return lines


def usage_text(used: dict[str, Any]) -> str:
    return f"{used['vcpuSeconds']:g} vCPU-s, {used['memoryGibSeconds']:g} GiB-s, {used['gpuSeconds']:g} GPU-s"


def cost_text(cost: dict[str, Any]) -> str:
    """Usage and the estimate: ``12 vCPU-s, 24 GiB-s, 0 GPU-s; est. $0.00016 on-demand, ...``."""
    est = cost["estimate"]
    return (
        f"{usage_text(cost)}; est. ${est['onDemandUsd']:.6f} on-demand, ${est['spotUsd']:.6f} Spot "
        f"({est['basis']}; {est['prices']})"
    )


def _index_list(indexes: list[int], shown: int = 10) -> str:
    listed = ", ".join(map(str, indexes[:shown]))
    return f"[{listed}{', ...' if len(indexes) > shown else ''}]"


def _attempts_cell(child: dict[str, Any]) -> str:
    """``3`` or, when earlier attempts failed, ``3 (spot-reclaimed, spot-reclaimed)``."""
    failed = [c for c in (child.get("attemptFailures") or [])[:-1] if c]
    return f"{child['attempts']} ({', '.join(failed)})" if failed else str(child["attempts"])


def _outputs_lines(outputs: Any, full: bool) -> list[str]:
    """The outputs as JSON, or (a map's) each output's name and how many values it has."""
    if full or not isinstance(outputs, dict):
        return [json.dumps(outputs, default=str)[: 2000 if full else 200]]
    shown = [
        f"{name}: {len(v)} values" if isinstance(v, list) else f"{name}: {json.dumps(v, default=str)[:80]}"
        for name, v in outputs.items()
    ]
    return [", ".join(shown) + "   (all of them: --outputs or --json)"]


def _children_lines(doc: dict[str, Any], view: StatusView) -> list[str]:
    children = doc["children"]
    main = (doc.get("nodes") or {}).get("mainNode")  # a multi-node job: its children are its nodes
    unseen = doc["size"] - len(children)
    if view.children:
        lines = [f"  children ({len(children)} with events" + (f", {unseen} without any yet" if unseen else "") + "):"]
        return lines + children_table(children, links=view.links, main=main)
    failed = [c for c in children if c["status"] == "FAILED"]
    hint = "every child: --children" + ("" if view.links else "; log links: --links")
    if not failed:
        return [f"  no failed child   ({hint})"] if len(children) > 1 else []
    lines = [f"  failed children ({len(failed)}):"] + children_table(failed[:FAILED_ROWS], links=view.links, main=main)
    more = len(failed) - FAILED_ROWS
    if more > 0:
        lines.append(f"    ... and {more} more (batchlane status {doc.get('launchId')} --failed)")
    return lines + [f"  ({hint})"]


def children_table(children: list[dict[str, Any]], links: bool = True, main: int | None = None) -> list[str]:
    """A row per child (``child_document``), each followed by its log links (``links``); the
    ``main`` node of a multi-node job marked."""
    if not children:
        return []
    rows = [["INDEX", "STATUS", "ATTEMPTS", "EXIT", "FAILURE", "REASON"]]
    rows += [
        [
            str(c["index"]) + (" main" if c["index"] == main else ""),
            c["status"],
            _attempts_cell(c),
            "-" if c["exitCode"] is None else str(c["exitCode"]),
            c.get("failureClass") or "-",
            (c["statusReason"] or "")[:60],
        ]
        for c in children
    ]
    table = table_text(rows, indent="    ")
    lines = [table[0]]
    for line, child in zip(table[1:], children):
        lines.append(line)
        if links:
            lines += [f"        {link['name']}: {link['url']}" for link in child["logs"]]
    return lines


def summary_lines(summary: dict[str, Any], links: bool = True) -> list[str]:
    """A launch's summary (``LaunchSummary.as_json``): phase, job, counts, links, errors."""
    lines = [
        f"Launch {summary['launchId']}: {summary['phase']} ({summary['message']})",
        f"  job    {summary.get('jobId') or '(not submitted yet)'}   queue {summary.get('queue') or '-'}   "
        f"size {summary['size']}" + (" (array)" if summary.get("isArray") else ""),
        f"  counts {counts_text(summary)}",
    ]
    lines += [f"  {link['name']}: {link['url']}" for link in (summary.get("links") or []) if links]
    if summary.get("error"):
        lines.append("  errors:")
        lines += [f"    {line}" for line in summary["error"].splitlines()]
    if summary.get("outputsUri"):
        lines.append(f"  outputs: {summary['outputsUri']}")
    return lines


def page_lines(
    summary: dict[str, Any],
    children: list[dict[str, Any]],
    *,
    failed: bool,
    after: int | None,
    next_command: str | None,
    links: bool = True,
) -> list[str]:
    """``batchlane status ID --limit/--after/--failed``: the summary, then one page of children."""
    what = "failed children" if failed else "children"
    where = f" after index {after}" if after is not None else ""
    lines = summary_lines(summary, links)
    if not children:
        return lines + [f"  no {what}{where}" + ("" if failed else " with events yet")]
    total = f" of {summary['counts'].get('FAILED', 0)}" if failed else f" of {summary['size']}"
    lines.append(f"  {what}{where}: {len(children)}{total}, indexes {children[0]['index']}-{children[-1]['index']}")
    lines += children_table(children, links=links)
    lines.append(f"  next page: {next_command}" if next_command else f"  (no more {what})")
    return lines


def child_lines(launch_id: str, child: dict[str, Any]) -> list[str]:
    """``batchlane status ID --child N``: one child, every attempt with its log link, its outputs."""
    lines = [
        f"Launch {launch_id}, child {child['index']}: {child['status']}"
        + (f" ({child['statusReason']})" if child.get("statusReason") else ""),
        f"  job {child.get('jobId') or '-'}   attempts {child['attempts']}"
        + (f"   failure {child['failureClass']}" if child.get("failureClass") else ""),
    ]
    for a in child["attemptDetails"]:
        exit_code = "-" if a["exitCode"] is None else a["exitCode"]
        reason = "; ".join(r for r in (a["statusReason"], a["reason"]) if r) or "-"
        lines.append(f"  attempt {a['attempt']}: exit {exit_code}   class {a['failureClass'] or '-'}   {reason}")
        if a.get("usage"):
            lines.append(f"    used {usage_text(a['usage'])}")
        if a["log"]:
            lines.append(f"    {a['log']['name']}: {a['log']['url']}")
    if child.get("logTail"):
        lines.append(f"  last lines of its log (batchlane logs {launch_id} --child {child['index']}):")
        lines += [f"    | {line}" for line in child["logTail"]]
    lines.append(f"  outputs: {child['outputsUri'] or '(the launch names no outputs location)'}")
    return lines


# --- routing ----------------------------------------------------------------------------------------


def describe_item(item: dict[str, Any]) -> str:
    """One routing item (a queue or a rule) in a few words."""
    if item[SORT_ATTR].startswith(QUEUE_PREFIX):
        state = "enabled" if item.get("enabled", True) else "disabled"
        return f"attributes [{', '.join(item.get('attributes', []))}], weight {item.get('weight', 1)}, {state}"
    return f"{Scope.of(item)} -> tags [{', '.join(item.get('tags', []))}]"


def _candidate_state(c) -> str:
    if not c.enabled:
        return "disabled"
    if c.weight == 0:
        return "drained (weight 0)"
    if c.unmet:
        return f"cannot run the job: {c.unmet}"
    if c.unhealthy and not c.share:
        return f"avoided, unhealthy: {c.unhealthy}"
    fits = f", fits on {c.fits}" if c.fits else ""
    return f"share {c.share:.1%}{fits}" + (f" (unhealthy: {c.unhealthy})" if c.unhealthy else "")


def decision_lines(decision: Decision, *, launch: Scope, launch_id: str, sample: bool, source: str) -> list[str]:
    """``batchlane routes explain``: the rule, the tag, the candidate queues and their shares, the queue."""
    shown_id = f"{launch_id} (a fixed sample; pass --launch-id for a real one)" if sample else launch_id
    rows = [
        ["Routing from", source],
        ["Launch", str(launch)],
        ["Launch id", shown_id],
        ["Needs", decision.needs.describe() + ("" if decision.needs.platform else " (platform: the queue's)")],
        ["Rule", decision.rule.describe().removeprefix("rule ") if decision.rule else "none applies"],
    ]
    for skipped in decision.skipped_tags:
        rows.append(["Passed over", skipped])
    if decision.matched:
        rows.append(["Tag", decision.tag or ""])
        width = max(len(c.queue) for c in decision.candidates)
        for i, c in enumerate(decision.candidates):
            state = _candidate_state(c)
            mark = "  <- chosen" if c.chosen else ""
            rows.append(["Candidates" if i == 0 else "", f"{c.queue.ljust(width)}  weight {c.weight}  {state}{mark}"])
        rows.append(["Queue", decision.queue or ""])
        if decision.platform:
            rows.append(["Platform", decision.platform + ("" if decision.needs.platform else " (the queue's)")])
    else:
        rows.append(["Queue", "none: the launch would be rejected"])
    rows.append(["Why", decision.reason])
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {text}" for label, text in rows]
    eligible = [c for c in decision.candidates if c.share > 0]
    if len(eligible) > 1:
        lines.append(
            f"Note: {len(eligible)} queues carry tag {decision.tag}: each launch goes to one of them by its "
            "launch id, in proportion to the shares above (the same launch id always gets the same queue)."
        )
    return lines


def launches_lines(launches: list[ListedLaunch], team: str) -> list[str]:
    """``batchlane launches``: a row per launch, newest first."""
    if not launches:
        return [f"No launches of team {team} match."]
    rows = [["REQUESTED (UTC)", "LAUNCH", "PHASE", "SIZE", "PROJECT/DOMAIN", "WORKFLOW", "TASK", "QUEUE"]]
    for launch in launches:
        rows.append(
            [
                datetime.fromtimestamp(launch.requested_at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                launch.launch_id,
                launch.phase,
                str(launch.size),
                f"{launch.project or '-'}/{launch.domain or '-'}",
                launch.workflow or "-",
                launch.task or "-",
                launch.queue or "-",
            ]
        )
    return [f"Launches of team {team}, newest first:", *table_text(rows)]
