"""Request rates: a token bucket, and the back-off of a throttled request (pure, clock-injected).

The launcher paces SubmitJob with a :class:`TokenBucket` (Batch allows 50 SubmitJob calls per
second per account, shared with every other submitter: docs/throughput.md); the sandbox's
throttling Batch uses the same bucket to decide which calls it answers with a 429.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from batchlane.common.errors import TransientError

_EPSILON = 1e-9  # clock arithmetic in floats: a token due now counts as there


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up (the burst). Thread-safe."""

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"a token bucket needs rate > 0 and capacity >= 1 (got {rate}, {capacity})")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1 - _EPSILON:
                self._tokens = max(0.0, self._tokens - 1)
                return True
            return False

    def wait_time(self) -> float:
        """Seconds until a token is there (0: now)."""
        with self._lock:
            self._refill(self._clock())
            return max(0.0, (1 - self._tokens) / self.rate)

    def take(self, deadline: float) -> bool:
        """Wait for a token, but not past ``deadline`` (on this bucket's clock): False if none came
        in time (the caller has not spent one)."""
        while True:
            if self.try_take():
                return True
            wait = self.wait_time()
            now = self._clock()
            if now + wait > deadline:
                return False
            self._sleep(wait)


def backoff(attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): exponential, capped, with jitter in the
    upper half (``[d/2, d]`` for ``d = min(cap, base * 2 ** (attempt - 1))``): callers throttled at
    once spread out, and every wait is at least half the nominal one (a budget can count on it)."""
    nominal = min(cap, base * 2 ** max(0, attempt - 1))
    return nominal / 2 + rng() * nominal / 2


def backoff_budget(attempts: int, *, base: float, cap: float) -> float:
    """The shortest total wait of ``attempts`` back-offs (each at least half its nominal wait)."""
    return sum(backoff(n, base=base, cap=cap, rng=lambda: 0.0) for n in range(1, attempts + 1))


class Throttled(TransientError):
    """AWS throttled the request (HTTP 429): it was not processed, so nothing happened. Retried
    later, after a back-off (the launcher delays the SQS message: batchlane.common.aws.defer_message)."""
