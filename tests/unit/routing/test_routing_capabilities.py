"""Routing by what the job needs, queue health, and the capabilities a deployment derives (issue 11)."""

from __future__ import annotations

import pytest

from batchlane.deployment.capabilities import FARGATE_MAX_MEMORY_MIB, launchable
from batchlane.deployment.config import load_config
from batchlane.deployment.instances import ARM64, instance_types
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
    dev_gpu = load_config("dev").routing_table().queues[0]
    assert dev_gpu.capabilities.instances and queue_from_item(dev_gpu.name, queue_item(dev_gpu)) == dev_gpu
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
                    "instances": [{"name": "g5.xlarge", "vcpus": 4, "memory": 0, "gpus": 1}, "big"],
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
        "capabilities.instances[0]",
        "capabilities.instances[1]",
    ):
        assert part in str(info.value)
    _, problems = table_from_items({"queue#q": {"attributes": ["x"], "capabilities": "big"}})
    assert problems == ["queue#q: capabilities must be a map (M)"]


# --- capabilities derived from the deployment -----------------------------------------------


def test_instance_facts_give_each_size_its_own_figures():
    (g5_12,) = instance_types("g5.12xlarge") or ()
    assert (g5_12.vcpus, g5_12.memory_gib, g5_12.gpus) == (48, 192, 4)
    assert [t.gpus for t in instance_types("g5") or ()] == [1, 1, 1, 1, 4, 1, 4, 8]
    (m6g,) = instance_types("m6g.2xlarge") or ()
    assert (m6g.vcpus, m6g.memory_gib, m6g.architecture) == (8, 32, ARM64)
    assert instance_types("x2iedn") is None and instance_types("g5.7xlarge") is None  # unknown


def test_an_environment_offers_only_instances_within_its_max_vcpus():
    names = {i.name for i in launchable(["g5"], 64) or ()}
    assert names == {"g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.8xlarge", "g5.12xlarge", "g5.16xlarge"}
    assert launchable(["g5", "x2iedn"], 64) is None  # one unknown name: unknown, assumed capable


def test_dev_queues_carry_the_capabilities_of_their_compute():
    caps = {q.name: q.capabilities for q in load_config("dev").routing_table().queues}
    gpu = caps["batchlane-dev-gpu_dynamic"]
    # one g5 within 64 vCPUs: at most 4 GPUs (g5.12xlarge), 256 GiB less ECS's reserve (g5.16xlarge)
    assert (gpu.vcpus, gpu.gpus, gpu.memory) == (64, 4, 240 * 1024)
    assert [i.name for i in gpu.largest()] == ["g5.12xlarge", "g5.16xlarge"]
    assert caps["batchlane-dev-critical"].gpus == 0 and caps["batchlane-dev-critical"].capacity == "on-demand"
    assert caps["batchlane-dev-default"].capacity == "mixed"  # spot then on-demand
    assert caps["batchlane-dev-fargate"] == Capabilities(
        "FARGATE", 16, FARGATE_MAX_MEMORY_MIB, 0, "on-demand", ("ARM64", "X86_64"), fair_share=False
    )
    assert caps["batchlane-dev-critical"].architectures == ("X86_64",)  # optimal: x86 instances


@pytest.mark.parametrize(
    "needs", [Needs(gpu=8), Needs(vcpu=64, gpu=4), Needs(gpu=4, memory=200 * 1024)], ids=["8gpu", "64cpu+4gpu", "mem"]
)
def test_in_dev_a_job_no_one_instance_can_hold_is_rejected_with_the_instances_offered(needs):
    decision = decide(load_config("dev").routing_table(), "any", "development", "wf", "k", needs=needs)
    assert decision.queue is None
    assert "batchlane-dev-gpu_dynamic cannot run the job" in decision.reason


def test_the_chosen_queue_names_the_smallest_instance_the_job_fits_on():
    decision = decide(load_config("dev").routing_table(), "any", "development", "wf", "k", needs=Needs(gpu=2))
    (chosen,) = [c for c in decision.candidates if c.chosen]
    assert chosen.fits == "g5.12xlarge" and chosen.as_dict()["fitsOn"] == "g5.12xlarge"


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


# --- fair share ---------------------------------------------------------------------------------


def test_a_fair_share_queue_never_receives_a_launch_batch_would_refuse():
    """Batch's SubmitJob requires a shareIdentifier on a fair-share queue and refuses one elsewhere."""
    routing = load_config("fargate-existing-vpc").routing_table()
    shared, default = "batchlane-fargate-shared", "batchlane-fargate-default"
    assert {q.name: q.capabilities.fair_share for q in routing.queues}[shared] is True
    without = decide(routing, "research", "development", "wf", "k")
    assert without.queue == default
    assert "a fair-share queue: Batch requires a shareIdentifier, the launch has none" in without.reason
    with_share = decide(routing, "research", "development", "wf", "k", needs=Needs(share=True))
    assert with_share.queue == shared
    elsewhere = decide(routing, "payments", "production", "wf", "k", needs=Needs(share=True))
    assert elsewhere.queue is None and "not a fair-share queue: Batch refuses a shareIdentifier" in elsewhere.reason


def test_fair_share_round_trips_through_the_item_codec_and_must_be_a_boolean():
    queue = Queue("q", ("x",), capabilities=Capabilities("FARGATE", 16, 1024, 0, "on-demand", fair_share=True))
    assert queue_from_item("q", queue_item(queue)) == queue
    with pytest.raises(MalformedItem, match="capabilities.fairShare must be a boolean"):
        queue_from_item("q", {"attributes": ["x"], "capabilities": {"fairShare": "yes"}})
