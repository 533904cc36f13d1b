"""Flyte's (Kubernetes') resource quantities to batchlane's ``container.resources`` (pure).

A Batch job has one value per resource, which is both what it reserves and what it may use (memory
above it kills the container). So of a Flyte task's request and limit the larger is taken: the task
then gets at least what it asked to be guaranteed and is never killed below its limit.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

# Kubernetes quantity suffixes (binary and decimal), in bytes.
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([A-Za-z]*)\s*$")
MIB = 2**20


class ResourceError(ValueError):
    """A quantity that is not a Kubernetes quantity, or a resource Batch cannot give."""


def _quantity(text: str, what: str) -> Decimal:
    match = _QUANTITY.match(str(text))
    if not match:
        raise ResourceError(f"{what}: {text!r} is not a quantity (e.g. 500m, 2, 4Gi, 512M)")
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number) * (Decimal(10) ** int(exponent or 0))
    except InvalidOperation as exc:
        raise ResourceError(f"{what}: {text!r} is not a quantity") from exc
    if suffix == "m":
        return value / 1000
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * _DECIMAL[suffix]
    raise ResourceError(f"{what}: unknown suffix {suffix!r} in {text!r} (use m, k, M, G, Ki, Mi, Gi, ...)")


def vcpus(text: str) -> float:
    """``500m`` -> 0.5, ``2`` -> 2.0."""
    return float(_quantity(text, "cpu"))


def memory_mib(text: str) -> int:
    """``4Gi`` -> 4096, ``512M`` -> 489 (MiB, rounded up); a bare number is bytes, as in Kubernetes."""
    return math.ceil(_quantity(text, "memory") / MIB)


def gpus(text: str) -> int:
    value = _quantity(text, "gpu")
    if value != value.to_integral_value():
        raise ResourceError(f"gpu: {text!r} must be a whole number of GPUs")
    return int(value)


_CONVERTERS = {"cpu": ("vcpu", vcpus), "memory": ("memory", memory_mib), "gpu": ("gpu", gpus)}


def batch_resources(
    requests: dict[str, str], limits: dict[str, str], *, whole_vcpus: bool = False
) -> dict[str, float | int]:
    """``{"vcpu", "memory", "gpu"}`` (only those given) from Flyte's requests and limits, keyed
    ``cpu``/``memory``/``gpu``; other resources (ephemeral storage) have no Batch override and are left out.
    ``whole_vcpus`` (EC2, where Batch takes whole vCPUs only): ``500m`` becomes 1, rounded up as
    Flyte's own Batch plugin does (Kubernetes' ``Quantity.Value()``)."""
    resources: dict[str, float | int] = {}
    for name, (ours, convert) in _CONVERTERS.items():
        given = [convert(q[name]) for q in (requests, limits) if q.get(name) not in (None, "")]
        if given:
            resources[ours] = max(given)
    if whole_vcpus and "vcpu" in resources:
        resources["vcpu"] = float(math.ceil(resources["vcpu"]))
    return resources
