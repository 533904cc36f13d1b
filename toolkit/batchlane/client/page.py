"""A launch's status as one self-contained HTML page (``batchlane status LAUNCH --html FILE``).

The children of a map as a grid, one cell per index coloured by status (a failed child's border by
its failure class), the counts, and the failed children with their reasons, last log lines and
links. Pure: the status document (``batchlane.client.view``) and the log tails in, the page out;
inline CSS, no script and nothing fetched, so it opens from a file or an e-mail.
"""

from __future__ import annotations

from html import escape
from typing import Any

from batchlane.client.render import COUNT_ORDER, counts_text

NO_EVENT = "NONE"  # a child without any event yet
STATUS_COLOURS = {
    NO_EVENT: "#e5e7eb",
    "SUBMITTED": "#d1d5db",
    "PENDING": "#cbd5e1",
    "RUNNABLE": "#bfdbfe",
    "STARTING": "#93c5fd",
    "RUNNING": "#3b82f6",
    "SUCCEEDED": "#22c55e",
    "FAILED": "#ef4444",
}
# Failure classes (batchlane.status.failures) as the border of a failed child's cell; others: black.
CLASS_COLOURS = ("#7c2d12", "#a21caf", "#0f766e", "#854d0e", "#1e3a8a", "#3f3f46")
FAILED_SHOWN = 50  # failed children listed in full; the grid shows them all

_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#111}
h1{font-size:20px;margin:0 0 4px}
.reason{color:#444;margin:0 0 16px}
.counts span{display:inline-block;margin:0 12px 8px 0;padding:4px 8px;border-radius:4px;color:#fff}
.grid{display:grid;grid-template-columns:repeat(auto-fill,12px);gap:2px;margin:16px 0}
.c{width:12px;height:12px;box-sizing:border-box;border-radius:2px}
.legend span{margin-right:12px}
table{border-collapse:collapse;margin-top:8px}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
pre{margin:0;font-size:12px;white-space:pre-wrap;max-width:900px}
"""


def _class_colours(children: list[dict[str, Any]]) -> dict[str, str]:
    names = sorted({c["failureClass"] for c in children if c.get("failureClass")})
    return {name: CLASS_COLOURS[k % len(CLASS_COLOURS)] for k, name in enumerate(names)}


def _cell(index: int, child: dict[str, Any] | None, borders: dict[str, str]) -> str:
    status = child["status"] if child else NO_EVENT
    failure = (child or {}).get("failureClass")
    border = f";border:2px solid {borders[failure]}" if failure else ""
    title = f"#{index} {status}" + (f" ({failure})" if failure else "")
    return (
        f'<div class="c" data-index="{index}" data-status="{status}" title="{escape(title)}" '
        f'style="background:{STATUS_COLOURS.get(status, "#000")}{border}"></div>'
    )


def _counts(doc: dict[str, Any]) -> str:
    counts = doc.get("counts") or {}
    spans = [
        f'<span style="background:{STATUS_COLOURS.get(k, "#000")}">{k} {counts[k]}</span>'
        for k in COUNT_ORDER
        if counts.get(k)
    ]
    return f'<div class="counts" title="{escape(counts_text(doc))}">{"".join(spans)}</div>'


def _failed_rows(failed: list[dict[str, Any]], tails: dict[int, list[str]]) -> str:
    rows = []
    for c in failed[:FAILED_SHOWN]:
        links = " ".join(f'<a href="{escape(link["url"])}">{escape(link["name"])}</a>' for link in c.get("logs", []))
        tail = "\n".join(tails.get(c["index"], []))
        rows.append(
            f"<tr><td>{c['index']}</td><td>{escape(c.get('failureClass') or '-')}</td>"
            f"<td>{'-' if c.get('exitCode') is None else c['exitCode']}</td>"
            f"<td>{escape(c.get('statusReason') or '')}<pre>{escape(tail)}</pre></td><td>{links}</td></tr>"
        )
    more = len(failed) - FAILED_SHOWN
    note = f"<p>... and {more} more failed children (batchlane status --failed)</p>" if more > 0 else ""
    header = "<tr><th>index</th><th>failure</th><th>exit</th><th>reason, last log lines</th><th>logs</th></tr>"
    return f'<h2>Failed children ({len(failed)})</h2><table class="failed">{header}{"".join(rows)}</table>{note}'


def status_page(doc: dict[str, Any], tails: dict[int, list[str]] | None = None) -> str:
    """The page of a status document; ``tails``: the last log lines of failed children, by index."""
    children = {c["index"]: c for c in doc.get("children", [])}
    borders = _class_colours(list(children.values()))
    name = escape(str(doc.get("launchId") or "(replayed events)"))
    grid = "".join(_cell(i, children.get(i), borders) for i in range(int(doc.get("size") or 1)))
    legend = "".join(
        f'<span><b style="color:{colour}">&#9632;</b> {escape(failure)}</span>' for failure, colour in borders.items()
    )
    failed = [c for c in children.values() if c["status"] == "FAILED"]
    console = doc.get("console")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>batchlane {name}: '
        f"{escape(doc['phase'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>Launch {name}: {escape(doc['phase'])}</h1>"
        f'<p class="reason">{escape(doc.get("reason") or "")} &middot; job {escape(doc.get("jobId") or "-")} '
        f"&middot; queue {escape(doc.get('queue') or '-')} &middot; {doc.get('size')} children"
        + (f' &middot; <a href="{escape(console["url"])}">{escape(console["name"])}</a>' if console else "")
        + f"</p>{_counts(doc)}"
        f'<div class="grid">{grid}</div>'
        + (f'<div class="legend">failure classes: {legend}</div>' if legend else "")
        + (_failed_rows(failed, tails or {}) if failed else "")
        + "</body></html>\n"
    )
