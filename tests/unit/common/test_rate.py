"""The token bucket and the back-off (batchlane.common.rate), on a fake clock."""

from __future__ import annotations

import pytest

from batchlane.common.rate import TokenBucket, backoff, backoff_budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_gives_its_burst_at_once_then_its_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=3, clock=clock, sleep=clock.sleep)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.1
    assert bucket.try_take() and not bucket.try_take()


def test_waiting_for_tokens_paces_calls_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(5, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(11):
        assert bucket.take(deadline=float("inf"))
    assert clock.now - start == pytest.approx(2.0)  # the first at once, then one every 0.2 s


def test_a_token_not_due_before_the_deadline_is_not_waited_for_nor_spent():
    clock = FakeClock()
    bucket = TokenBucket(1, clock=clock, sleep=clock.sleep)
    assert bucket.take(deadline=clock.now)
    assert not bucket.take(deadline=clock.now + 0.5) and clock.slept == []
    assert bucket.take(deadline=clock.now + 1.0) and clock.now == pytest.approx(101.0)


def test_a_bucket_saves_up_no_more_than_its_capacity():
    clock = FakeClock()
    bucket = TokenBucket(2, capacity=2, clock=clock, sleep=clock.sleep)
    clock.now += 3600
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (-1, 1), (1, 0.5)])
def test_a_bucket_that_could_never_give_a_token_is_refused(rate, capacity):
    with pytest.raises(ValueError):
        TokenBucket(rate, capacity)


def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half():
    assert [backoff(n, base=15, cap=300, rng=lambda: 1.0) for n in (1, 2, 3, 5, 6, 9)] == [15, 30, 60, 240, 300, 300]
    assert [backoff(n, base=15, cap=300, rng=lambda: 0.0) for n in (1, 6)] == [7.5, 150]


def test_the_launcher_s_redelivery_budget_absorbs_a_throttle_of_over_13_minutes():
    """docs/throughput.md: maxReceiveCount 10 leaves 9 delayed redeliveries after the first receive."""
    from batchlane.launch.handler import THROTTLED_REDELIVERY

    base, cap = THROTTLED_REDELIVERY
    assert backoff_budget(9, base=base, cap=cap) == 7.5 + 15 + 30 + 60 + 120 + 4 * 150 == 832.5
