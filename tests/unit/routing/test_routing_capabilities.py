"""Routing by what the job needs, queue health, and the capabilities a deployment derives (issue 11)."""

from __future__ import annotations

import pytest

from batchlane.deployment.capabilities import FARGATE_MAX_MEMORY_MIB, instance_figures
from batchlane.deployment.config import load_config
from batchlane.routing import Capabilities, Needs, Queue, RoutingTable, Rule, decide
from batchlane.routing.items import MalformedItem, queue_from_item, queue_item, table_from_items

EC2_CPU = Capabilities("EC2", 96, 700_000, 0, "on-demand")
EC2_GPU = Capabilities("EC2", 192, 700_000, 8, "on-demand")
FARGATE = Capabilities("FARGATE", 16, FARGATE_MAX_MEMORY_MIB, 0, "on-demand")
IDS = [f"launch-{i}" for i in range(300)]


def table(*queues, tags=("cpu", "gpu", "fargate")):
    return RoutingTable(tuple(queues), (Rule("0001", tags),))


CPU_Q, GPU_Q, FARGATE_Q = (
    Queue("cpu", ("cpu",), capabilities=EC2_CPU),
    Queue("gpu", ("gpu",), capabilities=EC2_GPU),
    Queue("fg", ("fargate",), capabilities=FARGATE),
)


@pytest.mark.parametrize(
    ("needs", "queue", "platform"),
    [
        (Needs(), "cpu", "EC2"),
        (Needs(gpu=1), "gpu", "EC2"),
        (Needs(platform="FARGATE"), "fg", "FARGATE"),
        (Needs(vcpu=0.5), "fg", "FARGATE"),  # fractional vCPU: EC2 takes whole vCPUs only
        (Needs(vcpu=128), "gpu", "EC2"),  # more than the cpu queue's instances have
    ],
)
def test_queues_that_cannot_run_the_job_are_passed_over_to_the_next_tag(needs, queue, platform):
    decision = decide(table(CPU_Q, GPU_Q, FARGATE_Q), "p", "d", "w", "k", needs=needs)
    assert (decision.queue, decision.platform) == (queue, platform)
    if queue != "cpu":
        assert "cpu cannot run the job" in decision.skipped_tags[0]
        assert decision.needs == needs and "cannotRun" not in decision.as_dict()["candidates"][0]


def test_a_gpu_launch_never_lands_on_a_queue_without_gpus():
    decisions = [decide(table(CPU_Q, FARGATE_Q), "p", "d", "w", key, needs=Needs(gpu=1)) for key in IDS[:50]]
    assert {d.queue for d in decisions} == {None}
    assert "no enabled queue that can run 1 vCPU, 2048 MiB, 1 GPU carries any of its tags" in decisions[0].reason
    assert "1 GPU asked, 0 available" in decisions[0].reason


def test_every_unmet_need_is_named():
    decision = decide(
        table(CPU_Q, tags=("cpu",)),
        "p",
        "d",
        "w",
        "k",
        needs=Needs(platform="FARGATE", vcpu=200.5, memory=800_000, gpu=2),
    )
    reason = decision.skipped_tags[0]
    for part in (
        "it runs EC2, the job asks for FARGATE",
        "2 GPU asked, 0 available",
        "200.5 vCPU asked, at most 96",
        "800000 MiB asked, at most 700000",
    ):
        assert part in reason


def test_a_queue_without_capabilities_is_assumed_capable():
    old = Queue("old", ("cpu",))
    assert decide(table(old, tags=("cpu",)), "p", "d", "w", "k", needs=Needs(gpu=4, vcpu=64)).queue == "old"


def test_only_capable_queues_share_a_tag():
    small = Queue("small", ("cpu",), capabilities=Capabilities("EC2", 4, 16_000, 0))
    big = Queue("big", ("cpu",), capabilities=EC2_CPU)
    decisions = [decide(table(small, big, tags=("cpu",)), "p", "d", "w", k, needs=Needs(vcpu=8)) for k in IDS]
    assert {d.queue for d in decisions} == {"big"}
    assert decisions[0].as_dict()["candidates"][0]["cannotRun"] == "8 vCPU asked, at most 4"


# --- queue health ----------------------------------------------------------------------------

NOW = 1_800_000_000


def test_a_blocked_queue_is_avoided_while_a_healthy_one_shares_its_tag():
    blocked = Queue("a", ("cpu",), unhealthy_until=NOW + 600, blocked_reason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
    healthy = Queue("b", ("cpu",))
    routed = {decide(table(blocked, healthy, tags=("cpu",)), "p", "d", "w", k, now=NOW).queue for k in IDS}
    assert routed == {"b"}
    decision = decide(table(blocked, healthy, tags=("cpu",)), "p", "d", "w", "k", now=NOW)
    assert "avoided unhealthy a" in decision.reason
    assert "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" in decision.as_dict()["candidates"][0]["unhealthy"]
    # once the mark has run out, both share the tag again
    assert {decide(table(blocked, healthy, tags=("cpu",)), "p", "d", "w", k, now=NOW + 601).queue for k in IDS} == {
        "a",
        "b",
    }


def test_when_every_capable_queue_is_unhealthy_they_still_get_the_launches():
    blocked = Queue("a", ("cpu",), unhealthy_until=NOW + 600)
    decision = decide(table(blocked, tags=("cpu",)), "p", "d", "w", "k", now=NOW)
    assert decision.queue == "a" and "every capable queue is unhealthy" in decision.reason


# --- items -----------------------------------------------------------------------------------


def test_capabilities_round_trip_through_the_item_codec_and_old_items_stay_valid():
    queue = Queue("q", ("cpu",), capabilities=EC2_GPU)
    assert queue_from_item("q", queue_item(queue)) == queue
    assert queue_from_item("q", {"attributes": ["cpu"]}).capabilities == Capabilities()
    marked = queue_from_item("q", {"attributes": ["cpu"], "unhealthyUntil": NOW, "blockedReason": "CAPACITY"})
    assert (marked.unhealthy_until, marked.blocked_reason) == (NOW, "CAPACITY")


def test_a_malformed_capabilities_map_names_every_problem():
    with pytest.raises(MalformedItem) as info:
        queue_from_item(
            "q",
            {
                "attributes": ["cpu"],
                "weight": -1,
                "capabilities": {
                    "platform": "LAMBDA",
                    "vcpus": 0,
                    "memory": 1.5,
                    "gpus": -1,
                    "capacity": "cheap",
                    "disk": 1,
                },
            },
        )
    for part in (
        "weight",
        "capabilities.disk",
        "capabilities.platform",
        "capabilities.vcpus",
        "capabilities.memory",
        "capabilities.gpus",
        "capabilities.capacity",
    ):
        assert part in str(info.value)
    _, problems = table_from_items({"queue#q": {"attributes": ["x"], "capabilities": "big"}})
    assert problems == ["queue#q: capabilities must be a map (M)"]


# --- capabilities derived from the deployment -----------------------------------------------


def test_instance_figures_from_the_table():
    assert instance_figures("g5")[::2] == (192, 8)
    assert instance_figures("g5.xlarge")[::2] == (4, 1)
    assert instance_figures("g5.12xlarge")[::2] == (48, 4)
    assert instance_figures("m6i.2xlarge")[0] == 8 and instance_figures("m6i.2xlarge")[1] < 32 * 1024
    assert instance_figures("x2iedn") == (None, None, None)  # not in the table: unknown


def test_dev_queues_carry_the_capabilities_of_their_compute():
    caps = {q.name: q.capabilities for q in load_config("dev").routing_table().queues}
    assert caps["batchlane-dev-gpu_dynamic"].gpus == 8 and caps["batchlane-dev-gpu_dynamic"].vcpus == 64  # maxVcpus
    assert caps["batchlane-dev-critical"].gpus == 0 and caps["batchlane-dev-critical"].capacity == "on-demand"
    assert caps["batchlane-dev-default"].capacity == "mixed"  # spot then on-demand
    assert caps["batchlane-dev-fargate"] == Capabilities(
        "FARGATE", 16, FARGATE_MAX_MEMORY_MIB, 0, "on-demand", ("ARM64", "X86_64")
    )
    assert caps["batchlane-dev-critical"].architectures == ("X86_64",)  # optimal: x86 instances


@pytest.mark.parametrize(
    ("needs", "queue"),
    [
        (Needs(platform="FARGATE"), "batchlane-dev-fargate"),
        (Needs(gpu=1), "batchlane-dev-gpu_dynamic"),
        (Needs(), "batchlane-dev-default"),
    ],
)
def test_in_dev_each_job_reaches_a_queue_that_can_run_it(needs, queue):
    decision = decide(load_config("dev").routing_table(), "any", "development", "wf", "k", needs=needs)
    assert decision.queue == queue


def test_in_dev_the_gpu_rule_never_gives_a_gpu_job_to_a_cpu_queue():
    table = load_config("dev").routing_table()
    for project, domain, workflow in [("my_queue_1", "production", "my_workflow_1"), ("x", "y", "z")]:
        decision = decide(table, project, domain, workflow, "k", needs=Needs(gpu=2))
        assert decision.queue in (None, "batchlane-dev-gpu_dynamic")


def test_in_the_fargate_example_a_launch_without_platform_gets_fargate():
    decision = decide(load_config("fargate-existing-vpc").routing_table(), "p", "d", "w", "k")
    assert decision.matched and decision.platform == "FARGATE"
