"""A throttling Batch for the sandbox: SubmitJob accepted at most ``rate`` per second.

AWS Batch takes 50 SubmitJob calls per second per account and answers the rest with HTTP 429
``TooManyRequestsException``, before it creates anything. :func:`install_submit_throttle`
does the same to the emulator's Batch (it runs in this process: its response class is patched
while the sandbox runs, as batchlane.sandbox.executor.install_describe_jobs patches
DescribeJobs), with a token bucket of ``rate`` per second holding at most one second's worth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from batchlane.common.rate import TokenBucket

BATCH_SUBMIT_RATE = 50  # SubmitJob per second per account


@dataclass
class SubmitThrottle:
    """What the throttling Batch did: when it accepted each SubmitJob, and how many it refused."""

    rate: float
    burst: float | None = None  # calls it accepts at once after a quiet spell; default: one second's worth
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each accepted call
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.rate, capacity=max(1.0, self.burst or self.rate))

    def admit(self) -> bool:
        with self._lock:
            if self.bucket.try_take():
                self.accepted_at.append(time.monotonic())
                return True
            self.throttled += 1
            return False

    def peak_rate(self, window: float = 1.0) -> float:
        """The most SubmitJob calls accepted in any ``window`` seconds, per second."""
        times = sorted(self.accepted_at)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best / window


def install_submit_throttle(
    rate: float = BATCH_SUBMIT_RATE,
    burst: float | None = None,
) -> tuple[SubmitThrottle, Callable[[], None]]:
    """Throttle the emulator's SubmitJob to ``rate`` per second; returns the throttle (its counts)
    and the function that puts moto's SubmitJob back."""
    from moto.batch import responses
    from moto.core.exceptions import JsonRESTError

    throttle = SubmitThrottle(rate, burst)
    original = responses.BatchResponse.submitjob

    def submitjob(self) -> str:
        if not throttle.admit():
            error = JsonRESTError("TooManyRequestsException", "Too Many Requests")
            error.code = 429
            raise error
        return original(self)

    responses.BatchResponse.submitjob = submitjob  # type: ignore[method-assign]  # moto's class, patched in place

    def uninstall() -> None:
        responses.BatchResponse.submitjob = original  # type: ignore[method-assign]

    return throttle, uninstall
