"""The fault matrix at the wire: every AWS call of every path x every wire fault kind, one launch
per cell (:class:`wire_lifecycle.Lifecycle`), in one moto world; and its figures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from wire_faults import WIRE_FAULT_KINDS, WireFault, WireInjector
from wire_lifecycle import SCENARIOS, Lifecycle, Outcome

from clock import Clock

# The paths each scenario is there to exercise (the others it passes through are clean there).
SCENARIO_PATHS = {
    "plain": ("launch", "status", "finish"),
    "chunked": ("launch", "chunk-due", "status", "finish"),
    "abort": ("abort",),
    "reconcile": ("reconcile",),
}
_ids = itertools.count()


@dataclass(frozen=True)
class Cell:
    scenario: str
    path: str
    service: str
    operation: str
    kind: str

    def __str__(self) -> str:
        return f"{self.scenario}/{self.path}/{self.service}.{self.operation}/{self.kind}"


@dataclass
class Figures:
    cells: int = 0
    faults: int = 0
    max_jobs_per_launch: int = 0  # plain launches: Batch jobs of the launch
    max_jobs_per_chunk: int = 0  # chunked launches: Batch jobs of one chunk
    max_in_flight: int = 0  # children of one chunked launch alive at once
    unanswered: int = 0
    stalled: int = 0
    broken: dict[str, list[str]] = field(default_factory=dict)

    def add(self, cell: Cell, out: Outcome) -> None:
        self.cells += 1
        self.faults += out.faults
        most = max(out.jobs.values(), default=0)
        if cell.scenario == "plain":
            self.max_jobs_per_launch = max(self.max_jobs_per_launch, most)
        else:
            self.max_jobs_per_chunk = max(self.max_jobs_per_chunk, most)
        self.max_in_flight = max(self.max_in_flight, out.max_in_flight)
        self.unanswered += out.unanswered
        self.stalled += out.stalled
        problems = out.broken()
        if problems:
            self.broken[str(cell)] = problems


def run_cell(world, cell: Cell | None, scenario: str | None = None) -> tuple[Outcome, WireInjector]:
    """One launch of ``cell.scenario`` with one fault: the first attempt of the cell's call on its path."""
    injector = WireInjector()
    if cell is not None:
        injector.plan(WireFault(cell.service, cell.operation, cell.kind, path=cell.path))
    with injector.installed():
        name = cell.scenario if cell else scenario or "plain"
        out = Lifecycle(world, injector, Clock(), f"wm-{next(_ids)}", name).run()
    return out, injector


def discover(world) -> list[Cell]:
    """Every (path, service, operation) a clean launch of each scenario makes, x every fault kind."""
    cells = []
    for scenario in SCENARIOS:
        _, injector = run_cell(world, None, scenario)
        calls = sorted({k for k in injector.attempts if k[0] in SCENARIO_PATHS[scenario]})
        cells += [Cell(scenario, *call, kind) for call in calls for kind in WIRE_FAULT_KINDS]  # type: ignore[misc]
    return cells


def run_matrix(world, cells: list[Cell], progress=None) -> Figures:
    """``progress(n, cell, problems)`` after each cell, if given."""
    figures = Figures()
    for n, cell in enumerate(cells, 1):
        out, _ = run_cell(world, cell)
        figures.add(cell, out)
        if progress is not None:
            progress(n, cell, out.broken())
    return figures
