"""The status page (batchlane.client.page) of a 1,000-child map, read back as a browser would parse
it: one cell per child coloured by its status, the counts, the failed children with their log lines."""

from __future__ import annotations

import json
import random
from collections import Counter
from html.parser import HTMLParser

from batchlane.client.page import STATUS_COLOURS, status_page
from batchlane.client.view import replay_document
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events

SIZE = 1000
FAILED = {3, 500, 999}


class Seen(HTMLParser):
    """What the page shows: the grid's cells, the failed table's rows, anything fetched or run."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.rows: list[list[str]] = []
        self.fetched: list[str] = []
        self.title = ""
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._in.append(tag)
        if tag == "div" and a.get("class") == "c":
            self.cells.append(a)
        if tag == "tr":
            self.rows.append([])
        if tag in ("script", "img", "link", "iframe") or (tag != "a" and a.get("src")):
            self.fetched.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if "title" in self._in:
            self.title += data
        elif "td" in self._in and self.rows:
            self.rows[-1].append(data)


def test_the_page_of_a_big_map_shows_every_child_and_the_failed_ones_with_their_logs():
    plans = [ChildPlan(attempts=(AttemptPlan("exit", 2),)) if i in FAILED else ChildPlan() for i in range(SIZE)]
    events = launch_events("11111111-2222-4333-8444-555555555555", plans, rng=random.Random(1))
    doc, _ = replay_document([json.dumps(e) for e in events], min_success_ratio=0.5)
    doc["launchId"] = "big-map"
    page = status_page(doc, {500: ["Traceback (most recent call last):", "ValueError: <bad> & worse"]})

    seen = Seen()
    seen.feed(page)
    assert seen.title == "batchlane big-map: succeeded"
    assert [int(c["data-index"]) for c in seen.cells] == list(range(SIZE))
    assert Counter(c["data-status"] for c in seen.cells) == {"SUCCEEDED": SIZE - 3, "FAILED": 3}
    failed_cells = [c for c in seen.cells if c["data-status"] == "FAILED"]
    assert all(STATUS_COLOURS["FAILED"] in c["style"] and "border:2px solid" in c["style"] for c in failed_cells)
    assert {int(c["data-index"]) for c in failed_cells} == FAILED
    rows = [r for r in seen.rows if r]  # the header has th cells only
    assert [int(r[0]) for r in rows] == sorted(FAILED)
    assert "ValueError: <bad> & worse" in "".join(rows[1])  # escaped in the page, shown as written
    assert seen.fetched == []  # self-contained: nothing loaded, nothing run
