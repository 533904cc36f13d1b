"""What AWS would refuse of a deployment config only at deploy time (checked at load, naming the key).

Pure functions of the figures they check: batchlane.deployment.config gathers them."""

from __future__ import annotations

from collections.abc import Iterable

IAM_ROLE_NAME_CHARS = 64  # IAM's limit on a role name


def role_name_problems(names: Iterable[tuple[str, str, str]]) -> list[str]:
    """``(config key, what to shorten, IAM role name)``: each name IAM would refuse as too long."""
    return [
        f"{key}: the IAM role name {name!r} has {len(name)} characters; "
        f"IAM allows {IAM_ROLE_NAME_CHARS} (shorten the {what} or the deployment name)"
        for key, what, name in names
        if len(name) > IAM_ROLE_NAME_CHARS
    ]


def fargate_network_problems(nat_gateways: int | None, interface_endpoints: bool, fargate: list[str]) -> list[str]:
    """A new VPC without NAT or endpoints: Fargate jobs (no public IP) could not pull or log."""
    if nat_gateways == 0 and fargate and not interface_endpoints:
        return [
            f"network.newVpc.natGateways: 0 with Fargate compute ({', '.join(fargate)}): Fargate jobs get no "
            "public IP and could not pull images or write logs; set natGateways >= 1 or "
            "network.newVpc.interfaceEndpoints: true"
        ]
    return []


def concurrency_problems(functions: Iterable[tuple[str, int | None, int]]) -> list[str]:
    """``(function, reservedConcurrency, its event source mapping's MaximumConcurrency)``.

    Lambda throttles the invocations the mapping starts beyond the reserved concurrency: their messages
    go back to the queue and each return counts towards maxReceiveCount, so a burst could dead-letter
    messages nothing was wrong with."""
    return [
        f"{name}.reservedConcurrency: {reserved} is below {name}MaxConcurrency ({most}); Lambda would "
        f"throttle the {name}'s extra invocations and their messages would count receives towards the "
        "dead-letter queue: set it at least as high"
        for name, reserved, most in functions
        if reserved is not None and reserved < most
    ]
