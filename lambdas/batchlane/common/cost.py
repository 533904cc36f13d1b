"""What a launch used and an estimate of what it cost (docs/status.md#cost-per-launch). Pure.

Usage is measured from the status record: each attempt's run time (``stoppedAt - startedAt``, the
container's) times the resources each child asked for (``container.resources``: vCPUs, memory,
GPUs). The price is an estimate from the list prices below (us-east-1, stated with their date):
Fargate per vCPU-hour and GB-hour; EC2 per vCPU-hour of the instance family (memory comes with the
instance, so it is reported, not priced) and per GPU-hour of a GPU family (the instance's price less
its vCPUs'). Spot is priced at ``SPOT_FACTOR`` of on-demand (Spot prices move by the hour and pool).
It never counts idle capacity, instance start-up or a partly filled instance: a floor, not a bill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PRICES_REGION = "us-east-1"
PRICES_DATE = "2026-12-01"
# Fargate (Linux, x86), USD: per vCPU-hour and per GB-hour; Fargate Spot likewise.
FARGATE = {"vcpu": 0.04048, "gib": 0.004445}
FARGATE_SPOT = {"vcpu": 0.012144, "gib": 0.0013335}
# EC2 on-demand (Linux), USD per vCPU-hour (the .xlarge's price over its vCPUs) and per GPU-hour.
EC2_FAMILIES: dict[str, dict[str, float]] = {
    "m5": {"vcpu": 0.048},
    "m6i": {"vcpu": 0.048},
    "m7i": {"vcpu": 0.0504},
    "c5": {"vcpu": 0.0425},
    "c6i": {"vcpu": 0.0425},
    "c7i": {"vcpu": 0.0446},
    "r5": {"vcpu": 0.063},
    "r6i": {"vcpu": 0.063},
    "m6g": {"vcpu": 0.0385},
    "c6g": {"vcpu": 0.034},
    "g4dn": {"vcpu": 0.048, "gpu": 0.334},  # g4dn.xlarge 0.526: 4 vCPUs, 1 T4
    "g5": {"vcpu": 0.048, "gpu": 0.814},  # g5.xlarge 1.006: 4 vCPUs, 1 A10G
    "p3": {"vcpu": 0.048, "gpu": 2.676},  # p3.2xlarge 3.06: 8 vCPUs, 1 V100
}
DEFAULT_FAMILY = "m6i"  # the instance family is unknown (Batch's "optimal"): general purpose
SPOT_FACTOR = 0.35  # of on-demand: Spot's typical discount, not a quote
# The status summary's running total of the attempts' run time (a count delta: ``n_runMs``).
RUN_MS = "runMs"


def summary_run_ms(summary: Mapping[str, Any] | None) -> int:
    return int((summary or {}).get(f"n_{RUN_MS}", 0))


@dataclass(frozen=True)
class Resources:
    """What each child asked for (the contract's defaults where the request says nothing)."""

    vcpu: float = 1.0
    memory_mib: int = 2048
    gpu: int = 0

    @classmethod
    def of_request(cls, request: Mapping[str, Any] | None) -> Resources:
        container = (request or {}).get("container") or {}
        asked = container.get("resources") or {}
        return cls(float(asked.get("vcpu", 1)), int(asked.get("memory", 2048)), int(asked.get("gpu", 0)))


def run_ms(attempts: Iterable[Any]) -> int:
    """Milliseconds the attempts ran (those with both times; ``started_at``/``stopped_at``, epoch ms)."""
    return sum(
        max(0, a.stopped_at - a.started_at) for a in attempts if a.started_at is not None and a.stopped_at is not None
    )


def usage(milliseconds: int, resources: Resources) -> dict[str, float]:
    seconds = milliseconds / 1000
    return {
        "vcpuSeconds": round(seconds * resources.vcpu, 3),
        "memoryGibSeconds": round(seconds * resources.memory_mib / 1024, 3),
        "gpuSeconds": round(seconds * resources.gpu, 3),
    }


def basis_of(request: Mapping[str, Any] | None, routing: Mapping[str, Any] | None) -> str:
    """``fargate``, or the EC2 family the job fits on (the routing decision's ``fitsOn``)."""
    container = (request or {}).get("container") or {}
    if container.get("platform") == "FARGATE":
        return "fargate"
    candidates: list[dict[str, Any]] = (routing or {}).get("candidates") or []
    chosen = next((c for c in candidates if c.get("chosen")), {})
    family = str(chosen.get("fitsOn") or "").split(".")[0]
    return family if family in EC2_FAMILIES else DEFAULT_FAMILY


def estimate(used: Mapping[str, float], basis: str) -> dict[str, Any]:
    """USD at on-demand and Spot prices, and what they are."""
    hours = {k: used[f"{k}Seconds"] / 3600 for k in ("vcpu", "memoryGib", "gpu")}
    if basis == "fargate":
        on_demand = hours["vcpu"] * FARGATE["vcpu"] + hours["memoryGib"] * FARGATE["gib"]
        spot = hours["vcpu"] * FARGATE_SPOT["vcpu"] + hours["memoryGib"] * FARGATE_SPOT["gib"]
        what = "Fargate per vCPU-hour and GB-hour"
    else:
        rates = EC2_FAMILIES[basis]
        on_demand = hours["vcpu"] * rates["vcpu"] + hours["gpu"] * rates.get("gpu", 0.0)
        spot = on_demand * SPOT_FACTOR
        what = f"EC2 {basis} per vCPU-hour{' and GPU-hour' if 'gpu' in rates else ''}, Spot at {SPOT_FACTOR:g}"
    return {
        "onDemandUsd": round(on_demand, 6),
        "spotUsd": round(spot, 6),
        "basis": what,
        "prices": f"{PRICES_REGION} list prices of {PRICES_DATE}",
    }


def launch_cost(
    milliseconds: int, request: Mapping[str, Any] | None, routing: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A launch's usage over ``milliseconds`` of attempts, and its estimated price."""
    used = usage(milliseconds, Resources.of_request(request))
    return {**used, "estimate": estimate(used, basis_of(request, routing))}
