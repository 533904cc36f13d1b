"""What a job can get on each job queue of a deployment, derived from its compute environments (pure).

The routing seed writes these with the queue items (``capabilities``), so that routing passes over a
queue that cannot run a job instead of leaving the job RUNNABLE for ever. Operators may edit them
in the routing table (measured values beat this table).

Sources and assumptions (docs/routing.md, "Capabilities"):

* Fargate: 16 vCPU and 120 GiB per job, no GPU (the largest Fargate task size).
* EC2: the largest instance of the families a compute environment allows, from
  :data:`INSTANCE_FAMILIES` (nominal EC2 figures: vCPUs, GiB, GPUs of the family's largest size).
  A size such as ``m6i.2xlarge`` counts its own vCPUs (``large`` 2, ``xlarge`` 4, ``Nxlarge`` 4N)
  and the family's memory per vCPU; GPUs of a sized GPU instance come from :data:`GPU_SIZES`.
  ``optimal`` is assumed to be Batch's C5/M5/R5 choice of current regions: up to 96 vCPU and
  768 GiB (r5.24xlarge), no GPU.
* A family or size not in the tables leaves that figure unknown (None: assumed capable).
* Memory: ECS reserves memory for its agent and the OS, so a job gets less than the nominal figure:
  :data:`MEMORY_RESERVE` of the instance's memory is held back (an assumption; measure and edit).
* A job cannot get more vCPUs than its compute environment's ``maxVcpus``.
* A queue can run a job when one of its compute environments can: figures are the largest of them.
* Architecture: Graviton families (a ``g`` after the generation: ``m7g``, ``c6gn``, ``g5g``) and
  ``default_arm64`` are ARM64, every other type (``optimal`` too) X86_64; Fargate runs both (the job
  definition's ``runtimePlatform`` chooses). A queue runs the architectures of all its environments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from batchlane.routing.engine import ARCHITECTURES, ARM64, EC2, FARGATE, X86_64, Capabilities

FARGATE_MAX_VCPUS = 16
FARGATE_MAX_MEMORY_MIB = 120 * 1024
MEMORY_RESERVE = 0.0625  # 1/16 of an instance's memory held back for the ECS agent and the OS

# family -> (vCPUs, GiB, GPUs) of its largest size (nominal EC2 figures)
INSTANCE_FAMILIES: dict[str, tuple[int, int, int]] = {
    "c5": (96, 192, 0),
    "c6i": (128, 256, 0),
    "c6g": (64, 128, 0),
    "c7i": (192, 384, 0),
    "c7g": (64, 128, 0),
    "m5": (96, 384, 0),
    "m6i": (128, 512, 0),
    "m6g": (64, 256, 0),
    "m7i": (192, 768, 0),
    "m7g": (64, 256, 0),
    "r5": (96, 768, 0),
    "r6i": (128, 1024, 0),
    "r6g": (64, 512, 0),
    "r7i": (192, 1536, 0),
    "r7g": (64, 512, 0),
    "g4dn": (96, 384, 8),
    "g5": (192, 768, 8),
    "g6": (192, 768, 8),
    "p3": (64, 488, 8),
    "p4d": (96, 1152, 8),
    "p5": (192, 2048, 8),
}
# GPU families: size -> GPUs (sizes not listed have 1)
GPU_SIZES: dict[str, dict[str, int]] = {
    "g4dn": {"12xlarge": 4, "metal": 8},
    "g5": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "p3": {"8xlarge": 4, "16xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p5": {"48xlarge": 8},
}
OPTIMAL = (96, 768, 0)  # assumed: Batch's C5/M5/R5 "optimal" choice (r5.24xlarge)


def instance_architecture(name: str) -> str:
    """The CPU architecture of an instance type, family or Batch keyword (``optimal``, ``default_arm64``)."""
    family = name.partition(".")[0]
    graviton = re.fullmatch(r"[a-z]+\d+g[a-z]*", family) is not None or family == "default_arm64"
    return ARM64 if graviton else X86_64


def _usable_mib(gib: float) -> int:
    return int(gib * 1024 * (1 - MEMORY_RESERVE))


def instance_figures(name: str) -> tuple[int | None, int | None, int | None]:
    """(vCPUs, usable MiB, GPUs) of an instance family, a size or ``optimal``; None where unknown."""
    if name == "optimal":
        vcpus, gib, gpus = OPTIMAL
        return vcpus, _usable_mib(gib), gpus
    family, _, size = name.partition(".")
    known = INSTANCE_FAMILIES.get(family)
    if known is None:
        return None, None, None
    vcpus, gib, gpus = known
    if not size or size == "metal":
        return vcpus, _usable_mib(gib), (GPU_SIZES.get(family, {}).get(size, gpus) if size else gpus)
    match = re.fullmatch(r"(\d*)xlarge|large|medium", size)
    if match is None:
        return None, None, None
    sized = {"large": 2, "medium": 1}.get(size) or 4 * int(match.group(1) or 1)
    sized_gpus = GPU_SIZES[family].get(size, 1) if family in GPU_SIZES else 0
    return sized, _usable_mib(gib * sized / vcpus), sized_gpus


Figure = TypeVar("Figure", int, float)


def _largest(values: Iterable[Figure | None]) -> Figure | None:
    """The largest figure; None (unknown) when there is none or any one is unknown."""
    figures = list(values)
    known = [v for v in figures if v is not None]
    return max(known) if known and len(known) == len(figures) else None


def environment_capabilities(
    kind_is_fargate: bool, instance_types: list[str], max_vcpus: int, spot: bool
) -> Capabilities:
    """One compute environment: Fargate figures, or the largest of its instance types."""
    capacity = "spot" if spot else "on-demand"
    if kind_is_fargate:
        return Capabilities(
            FARGATE, min(FARGATE_MAX_VCPUS, max_vcpus), FARGATE_MAX_MEMORY_MIB, 0, capacity, ARCHITECTURES
        )
    figures = [instance_figures(t) for t in instance_types or ["optimal"]]
    vcpus = _largest(f[0] for f in figures)
    return Capabilities(
        EC2,
        None if vcpus is None else min(vcpus, max_vcpus),
        _largest(f[1] for f in figures),
        _largest(f[2] for f in figures),
        capacity,
        tuple(sorted({instance_architecture(t) for t in instance_types or ["optimal"]})),
    )


def queue_capabilities(environments: list[Capabilities]) -> Capabilities:
    """A queue runs a job when one of its compute environments can: the largest figures."""
    capacities = {e.capacity for e in environments}
    return Capabilities(
        platform=environments[0].platform,
        vcpus=_largest(e.vcpus for e in environments),
        memory=_largest(e.memory for e in environments),
        gpus=_largest(e.gpus for e in environments),
        capacity=capacities.pop() if len(capacities) == 1 else "mixed",
        architectures=tuple(sorted({a for e in environments for a in e.architectures or ()})) or None,
    )
