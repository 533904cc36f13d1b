"""EC2 instance facts for the instance types a deployment may name (pure data).

Nominal EC2 figures (the EC2 instance type pages): vCPUs, GiB and GPUs of every size, and the
architecture. A family not listed here leaves a queue's figures unknown (assumed capable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

X86_64, ARM64 = "x86_64", "arm64"


@dataclass(frozen=True)
class InstanceType:
    name: str  # e.g. g5.12xlarge
    vcpus: int
    memory_gib: float
    gpus: int
    architecture: str


def _regular(
    family: str, gib_per_vcpu: int, sizes: dict[str, int], architecture: str = X86_64
) -> tuple[InstanceType, ...]:
    """A family whose memory grows with its vCPUs (the c, m and r families)."""
    return tuple(
        InstanceType(f"{family}.{size}", vcpus, vcpus * gib_per_vcpu, 0, architecture) for size, vcpus in sizes.items()
    )


def _listed(family: str, sizes: Mapping[str, tuple[int, float, int]]) -> tuple[InstanceType, ...]:
    """A family listed size by size: (vCPUs, GiB, GPUs); GPU families are x86_64."""
    return tuple(InstanceType(f"{family}.{size}", v, m, g, X86_64) for size, (v, m, g) in sizes.items())


_GEN5 = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64}
_GEN5 |= {"24xlarge": 96, "metal": 96}
_C5 = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "9xlarge": 36, "12xlarge": 48, "18xlarge": 72}
_C5 |= {"24xlarge": 96, "metal": 96}
_GEN6I = {**{k: v for k, v in _GEN5.items() if k != "metal"}, "32xlarge": 128, "metal": 128}
_GEN7I = {**{k: v for k, v in _GEN5.items() if k != "metal"}, "48xlarge": 192, "metal-24xl": 96, "metal-48xl": 192}
_GRAVITON = {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48}
_GRAVITON |= {"16xlarge": 64, "metal": 64}
_G5 = {
    "xlarge": (4, 16, 1),
    "2xlarge": (8, 32, 1),
    "4xlarge": (16, 64, 1),
    "8xlarge": (32, 128, 1),
    "12xlarge": (48, 192, 4),
    "16xlarge": (64, 256, 1),
    "24xlarge": (96, 384, 4),
    "48xlarge": (192, 768, 8),
}

FAMILIES: dict[str, tuple[InstanceType, ...]] = {
    "c5": _regular("c5", 2, _C5),
    "m5": _regular("m5", 4, _GEN5),
    "r5": _regular("r5", 8, _GEN5),
    "c6i": _regular("c6i", 2, _GEN6I),
    "m6i": _regular("m6i", 4, _GEN6I),
    "r6i": _regular("r6i", 8, _GEN6I),
    "c7i": _regular("c7i", 2, _GEN7I),
    "m7i": _regular("m7i", 4, _GEN7I),
    "r7i": _regular("r7i", 8, _GEN7I),
    **{
        f"{k}{g}g": _regular(f"{k}{g}g", gib, _GRAVITON, ARM64)
        for g in (6, 7)
        for k, gib in (("c", 2), ("m", 4), ("r", 8))
    },
    "g4dn": _listed(
        "g4dn",
        {
            **{
                k: v for k, v in _G5.items() if k in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
            },
            "metal": (96, 384, 8),
        },
    ),
    "g5": _listed("g5", _G5),
    "g6": _listed("g6", _G5),
    "p3": _listed("p3", {"2xlarge": (8, 61, 1), "8xlarge": (32, 244, 4), "16xlarge": (64, 488, 8)}),
    "p4d": _listed("p4d", {"24xlarge": (96, 1152, 8)}),
    "p5": _listed("p5", {"48xlarge": (192, 2048, 8)}),
}
# Assumed: Batch's "optimal" picks from the C5, M5 and R5 families in current regions.
OPTIMAL_FAMILIES = ("c5", "m5", "r5")


def instance_types(name: str) -> tuple[InstanceType, ...] | None:
    """The instance types a compute environment's ``instanceTypes`` entry allows (a family, a size or
    ``optimal``); None when the table does not know it."""
    if name == "optimal":
        return tuple(t for family in OPTIMAL_FAMILIES for t in FAMILIES[family])
    family, _, size = name.partition(".")
    known = FAMILIES.get(family)
    if known is None:
        return None
    if not size:
        return known
    sized = tuple(t for t in known if t.name == name)
    return sized or None
