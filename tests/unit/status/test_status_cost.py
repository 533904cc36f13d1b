"""Cost per launch: the summary's run time (a count delta, exact whatever the event order and
duplicates), the usage and estimate in "Task Status Changed", and the price table (pure)."""

from __future__ import annotations

import json
import random

import pytest

from batchlane.common.cost import (
    EC2_FAMILIES,
    FARGATE,
    SPOT_FACTOR,
    Resources,
    basis_of,
    estimate,
    launch_cost,
    summary_run_ms,
)
from batchlane.common.event_types import STATUS_CHANGED
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, launch_events
from port_fakes import FakeAnnouncer
from status_fakes import FakeOutputs, FakeStatusStore, launch_record, service

REQUEST = {"container": {"image": "busybox", "resources": {"vcpu": 2, "memory": 4096}}}
ROUTING = {"candidates": [{"queue": "q", "chosen": True, "fitsOn": "c6i.large"}, {"queue": "r", "fitsOn": "g5.xlarge"}]}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_summary_adds_every_attempts_run_time_once_whatever_the_order_and_duplicates(seed):
    launch = launch_record("L", "job-1", 3, request=REQUEST, routing=ROUTING)
    store = FakeStatusStore(launch)
    svc = service(store, outputs=FakeOutputs({}), announcer=FakeAnnouncer())
    plans = [ChildPlan(), ChildPlan(attempts=(AttemptPlan("exit", 1), AttemptPlan())), ChildPlan()]
    events = launch_events("job-1", plans, rng=random.Random(seed))
    shuffled = events + random.Random(seed).sample(events, len(events))  # every event twice, out of order
    assert svc.process([(f"m{i}", json.dumps(e)) for i, e in enumerate(shuffled)]) == {}

    ran = sum(
        max(0, a["stoppedAt"] - a["startedAt"])
        for e in events
        if (e["detail"].get("arrayProperties") or {}).get("index") is not None and e["detail"]["status"] == "SUCCEEDED"
        for a in e["detail"]["attempts"]
    )
    assert ran > 0 and summary_run_ms(store.summary(launch.key)) == ran
    [final] = [d for d in svc.phases.announcer.of(STATUS_CHANGED) if d.get("phase") == "succeeded"]
    cost = final["cost"]
    assert cost["vcpuSeconds"] == pytest.approx(ran / 1000 * 2)
    assert cost["memoryGibSeconds"] == pytest.approx(ran / 1000 * 4)
    assert cost["gpuSeconds"] == 0
    on_demand = ran / 1000 / 3600 * 2 * EC2_FAMILIES["c6i"]["vcpu"]
    assert cost["estimate"]["onDemandUsd"] == pytest.approx(on_demand, abs=1e-6)
    assert cost["estimate"]["spotUsd"] == pytest.approx(on_demand * SPOT_FACTOR, abs=1e-6)


def test_the_price_basis_is_fargate_the_family_the_job_fits_on_or_general_purpose():
    assert basis_of({"container": {"platform": "FARGATE"}}, ROUTING) == "fargate"
    assert basis_of(REQUEST, ROUTING) == "c6i"
    assert basis_of(REQUEST, {"candidates": [{"chosen": True, "fitsOn": "x9z.large"}]}) == "m6i"
    assert basis_of(None, None) == "m6i"


def test_an_hour_of_a_child_is_priced_from_the_table():
    fargate = launch_cost(
        3_600_000, {"container": {"platform": "FARGATE", "resources": {"vcpu": 1, "memory": 2048}}}, None
    )
    assert fargate["estimate"]["onDemandUsd"] == pytest.approx(FARGATE["vcpu"] + 2 * FARGATE["gib"])
    gpu = estimate({"vcpuSeconds": 4 * 3600, "memoryGibSeconds": 0, "gpuSeconds": 3600}, "g5")
    assert gpu["onDemandUsd"] == pytest.approx(1.006)  # g5.xlarge's list price: 4 vCPUs and its GPU
    assert "us-east-1" in gpu["prices"] and "2026" in gpu["prices"]
    assert Resources.of_request(None) == Resources(1.0, 2048, 0)  # the contract's defaults
