"""The reasons AWS Batch gives when an attempt's host went away: the one *infrastructure* failure (pure).

One table, read two ways: the launcher's retry strategy for retryOn "infrastructure" (Batch
``evaluateOnExit`` globs, batchlane.launch.planner) and the status path's failure class
``spot-reclaimed`` (a regex, batchlane.status.failures). Launch and status may not import each
other, so the table lives here.

Batch matches a glob against the whole ``statusReason``, a trailing ``*`` matching any rest. Each
entry's regex is its literal prefix followed by what the rest must say, so every reason the status
path calls spot-reclaimed is one Batch retried (tests/unit/common/test_host_gone.py); Batch may also retry
a reason that starts the same way and says something else, which the status path then classes by
what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class HostGoneReason:
    prefix: str  # how the attempt's statusReason starts, literally
    rest: str = ""  # a regex the text after the prefix must start with, for the failure class

    @property
    def glob(self) -> str:
        """Batch's pattern (letters, digits, '.', ':' and spaces, ending in "*": Batch's grammar)."""
        return f"{self.prefix}*"

    @property
    def pattern(self) -> str:
        return re.escape(self.prefix) + self.rest


HOST_GONE_REASONS = (
    HostGoneReason("Host EC2", r" \(instance [^)]*\) terminated"),  # an EC2 Spot reclaim or a terminated instance
    HostGoneReason("Your Spot Task was interrupted"),  # a Fargate Spot interruption
)
# Searched for in "statusReason | reason" by the failure classifier.
HOST_GONE_PATTERN = "|".join(reason.pattern for reason in HOST_GONE_REASONS)
