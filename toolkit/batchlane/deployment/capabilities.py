"""What a job can get on each job queue of a deployment, derived from its compute environments (pure).

The routing seed writes these with the queue items (``capabilities``), so that routing passes over a
queue that cannot run a job instead of leaving the job RUNNABLE for ever. Operators may edit them
in the routing table (measured values beat this table).

Sources and assumptions (docs/routing.md, "Capabilities"):

* Fargate: 16 vCPU and 120 GiB per job, no GPU (the largest Fargate task size).
* EC2: the instances a compute environment may launch (:mod:`batchlane.deployment.instances`, every
  size of a family it allows) that fit within its ``maxVcpus``: Batch never launches an instance
  larger than that, so a 64-vCPU ``g5`` environment gets at most a g5.16xlarge (1 GPU) or a
  g5.12xlarge (4 GPUs), never 8 GPUs. A job runs on ONE instance: it must fit one of them.
* A family or size not in the table leaves every figure unknown (None: assumed capable).
* Memory: ECS reserves memory for its agent and the OS, so a job gets less than the nominal figure:
  :data:`MEMORY_RESERVE` of the instance's memory is held back (an assumption; measure and edit).
* A queue can run a job when one of its compute environments can: its instances are theirs together.
  ``routes explain`` names the smallest that fits a job.
* Architecture: Graviton families (a ``g`` after the generation: ``m7g``, ``c6gn``, ``g5g``) and
  ``default_arm64`` are ARM64, every other type (``optimal`` too) X86_64; Fargate runs both (the job
  definition's ``runtimePlatform`` chooses). A queue runs the architectures of all its environments.
"""

from __future__ import annotations

import re

from batchlane.deployment.instances import instance_types
from batchlane.routing.engine import ARCHITECTURES, ARM64, EC2, FARGATE, X86_64, Capabilities, Instance

FARGATE_MAX_VCPUS = 16
FARGATE_MAX_MEMORY_MIB = 120 * 1024
MEMORY_RESERVE = 0.0625  # 1/16 of an instance's memory held back for the ECS agent and the OS


def instance_architecture(name: str) -> str:
    """The CPU architecture of an instance type, family or Batch keyword (``optimal``, ``default_arm64``)."""
    family = name.partition(".")[0]
    graviton = re.fullmatch(r"[a-z]+\d+g[a-z]*", family) is not None or family == "default_arm64"
    return ARM64 if graviton else X86_64


def _usable_mib(gib: float) -> int:
    return int(gib * 1024 * (1 - MEMORY_RESERVE))


def launchable(names: list[str], max_vcpus: int) -> tuple[Instance, ...] | None:
    """The instances of ``names`` within ``max_vcpus``, as a job sees them, smallest first; None when
    the table does not know one of the names."""
    found = [instance_types(name) for name in names]
    if any(types is None for types in found):
        return None
    instances = {
        Instance(t.name, t.vcpus, _usable_mib(t.memory_gib), t.gpus)
        for types in found
        for t in types or ()
        if t.vcpus <= max_vcpus
    }
    return _in_order(instances)


def _in_order(instances: set[Instance]) -> tuple[Instance, ...]:
    return tuple(sorted(instances, key=lambda i: (i.vcpus, i.memory, i.gpus, i.name)))


def environment_capabilities(
    kind_is_fargate: bool, instance_types: list[str], max_vcpus: int, spot: bool
) -> Capabilities:
    """One compute environment: Fargate figures, or the instances it may launch."""
    capacity = "spot" if spot else "on-demand"
    if kind_is_fargate:
        return Capabilities(
            FARGATE, min(FARGATE_MAX_VCPUS, max_vcpus), FARGATE_MAX_MEMORY_MIB, 0, capacity, ARCHITECTURES
        )
    names = instance_types or ["optimal"]
    architectures = tuple(sorted({instance_architecture(t) for t in names}))
    instances = launchable(names, max_vcpus)
    if instances is None:
        return Capabilities(EC2, None, None, None, capacity, architectures)
    return _with_figures(EC2, capacity, instances, architectures)


def _with_figures(
    platform: str, capacity: str | None, instances: tuple[Instance, ...], architectures: tuple[str, ...] | None
) -> Capabilities:
    """Capabilities of ``instances``: each figure the largest any one of them has."""
    if not instances:  # maxVcpus below every instance (the configuration refuses it): unknown
        return Capabilities(platform, None, None, None, capacity, architectures)
    return Capabilities(
        platform,
        max(i.vcpus for i in instances),
        max(i.memory for i in instances),
        max(i.gpus for i in instances),
        capacity,
        architectures,
        instances=instances,
    )


def queue_capabilities(environments: list[Capabilities]) -> Capabilities:
    """A queue runs a job when one of its compute environments can."""
    capacities = {e.capacity for e in environments}
    capacity = capacities.pop() if len(capacities) == 1 else "mixed"
    platform = environments[0].platform or EC2
    architectures = tuple(sorted({a for e in environments for a in e.architectures or ()})) or None
    if platform == FARGATE or any(e.vcpus is None for e in environments):
        known = platform == FARGATE
        return Capabilities(
            platform,
            max(e.vcpus or 0 for e in environments) if known else None,
            max(e.memory or 0 for e in environments) if known else None,
            0 if known else None,
            capacity,
            architectures,
        )
    instances = _in_order({i for e in environments for i in e.instances})
    return _with_figures(platform, capacity, instances, architectures)
