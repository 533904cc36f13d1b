"""The simulated Batch's compute capacity: children start as their compute environment's vCPUs free up.

Each compute environment of the deployment is ``maxvCpus`` units, each free from some time on. An
attempt of a child takes whole vCPUs (a Fargate quarter vCPU takes one; a job bigger than the
environment runs alone on all of it) in the first of its queue's environments, in the queue's
order, where it can start soonest, from ``STARTING`` to its end: so a map bigger than its queue
runs in waves, an abort or a fail-fast stops the children still waiting, and jobs of several
queues share the environments behind them. What Batch does and this does not: instance sizes and
bin packing, scale-up time, fair-share scheduling (docs/sandbox.md, "What is real").

A stopped child's units are given back (:meth:`Capacity.release`) where no later attempt took
them yet: the plan of a job adopted after it is already made, as Batch's own decisions are.
"""

from __future__ import annotations

import heapq
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchlane.deployment.config import DeploymentConfig


@dataclass(order=True)
class _Unit:
    """One vCPU of a compute environment: free from ``free_at`` on (monotonic seconds)."""

    free_at: float
    number: int
    owner: str | None = field(default=None, compare=False)  # the job that holds it until free_at


class Capacity:
    def __init__(self, environments: dict[str, int], queues: dict[str, list[str]]) -> None:
        """``environments``: name -> maxvCpus; ``queues``: job queue name -> its environments, in order."""
        self._units = {name: [_Unit(0.0, k) for k in range(max(1, size))] for name, size in environments.items()}
        self._queues = queues
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: DeploymentConfig) -> Capacity:
        return cls(
            {ce.name: ce.max_vcpus for ce in config.compute_environments},
            {config.queue_name(q): list(q.compute_environments) for q in config.job_queues},
        )

    def vcpus(self, queue: str) -> int:
        """The vCPUs behind a job queue (0: not one of the deployment's)."""
        return sum(len(self._units[name]) for name in self._queues.get(queue, []))

    def start(self, owner: str, queue: str, vcpus: float, ready: float, seconds: float) -> float:
        """When an attempt of ``owner``'s needing ``vcpus``, ready to start at ``ready``, starts for
        ``seconds``: its units are held until then. A queue that is not the deployment's: at once."""
        names = [n for n in self._queues.get(queue, []) if n in self._units]
        if not names:
            return ready
        with self._lock:
            start, _, name = min((self._earliest(name, vcpus, ready), k, name) for k, name in enumerate(names))
            units = self._units[name]
            taken = [heapq.heappop(units) for _ in range(self._need(name, vcpus))]
            for unit in taken:
                unit.free_at, unit.owner = start + seconds, owner
                heapq.heappush(units, unit)
            return start

    def release(self, owner: str, now: float) -> None:
        """``owner``'s children stopped at ``now``: the units it holds beyond then are free from then."""
        with self._lock:
            for units in self._units.values():
                changed = False
                for unit in units:
                    if unit.owner == owner and unit.free_at > now:
                        unit.free_at, changed = now, True
                if changed:
                    heapq.heapify(units)

    def _need(self, name: str, vcpus: float) -> int:
        return min(max(1, math.ceil(vcpus)), len(self._units[name]))

    def _earliest(self, name: str, vcpus: float, ready: float) -> float:
        """When ``vcpus`` units of the environment are free together, from ``ready`` on."""
        need, units = self._need(name, vcpus), self._units[name]
        free_at = units[0].free_at if need == 1 else heapq.nsmallest(need, units)[-1].free_at
        return max(ready, free_at)
