"""The simulated Batch's capacity (batchlane.sandbox.capacity): children start as vCPUs free up."""

from __future__ import annotations

from batchlane.deployment.config import load_config
from batchlane.sandbox.capacity import Capacity


def running_at(intervals: list[tuple[float, float, int]], t: float) -> int:
    return sum(v for start, end, v in intervals if start <= t < end)


def test_a_map_bigger_than_its_queue_runs_in_waves_never_over_its_vcpus():
    capacity = Capacity({"ce": 8}, {"q": ["ce"]})
    starts = [capacity.start("job", "q", 2, ready=0.0, seconds=1.0) for _ in range(10)]
    assert starts == [0.0] * 4 + [1.0] * 4 + [2.0] * 2
    intervals = [(s, s + 1.0, 2) for s in starts]
    assert max(running_at(intervals, t / 10) for t in range(40)) == 8


def test_a_queue_uses_its_environments_in_order_and_shares_them_with_other_queues():
    capacity = Capacity({"spot": 2, "ondemand": 2}, {"default": ["spot", "ondemand"], "critical": ["ondemand"]})
    assert capacity.vcpus("default") == 4 and capacity.vcpus("critical") == 2 and capacity.vcpus("other") == 0
    assert [capacity.start("a", "critical", 1, 0.0, 5.0) for _ in range(2)] == [0.0, 0.0]
    # spot first; ondemand is held by the critical job until 5
    assert [capacity.start("b", "default", 1, 0.0, 1.0) for _ in range(4)] == [0.0, 0.0, 1.0, 1.0]
    assert capacity.start("c", "nowhere", 64, 3.0, 1.0) == 3.0  # not the deployment's queue: no capacity model


def test_a_child_bigger_than_its_environment_runs_alone_and_fractions_take_a_whole_vcpu():
    capacity = Capacity({"ce": 4}, {"q": ["ce"]})
    assert capacity.start("j", "q", 16, 0.0, 1.0) == 0.0
    assert capacity.start("j", "q", 0.25, 0.0, 1.0) == 1.0
    assert [capacity.start("j", "q", 0.25, 0.0, 1.0) for _ in range(3)] == [1.0, 1.0, 1.0]
    assert capacity.start("j", "q", 0.25, 0.0, 1.0) == 2.0


def test_a_stopped_job_gives_back_the_vcpus_it_held_beyond_now():
    capacity = Capacity({"ce": 2}, {"q": ["ce"]})
    assert [capacity.start("big", "q", 1, 0.0, 100.0) for _ in range(2)] == [0.0, 0.0]
    capacity.release("big", now=3.0)
    assert capacity.start("next", "q", 2, 0.0, 1.0) == 3.0
    capacity.release("other", now=0.0)  # nothing of its own: nothing changes
    assert capacity.start("next", "q", 1, 0.0, 1.0) == 4.0


def test_the_deployments_environments_and_queues():
    config = load_config("dev")
    capacity = Capacity.of(config)
    ces = {ce.name: ce.max_vcpus for ce in config.compute_environments}
    for queue in config.job_queues:
        assert capacity.vcpus(config.queue_name(queue)) == sum(ces[n] for n in queue.compute_environments)
