"""Multi-node parallel jobs (issue 28): the contract, Batch's shapes, routing to on-demand EC2 queues."""

from __future__ import annotations

from launch_examples import SETTINGS, detail
from test_launch_workloads import api_problems, planned, problems_of

from batchlane.launch.planner import routing_needs
from batchlane.launch.validation import validate
from batchlane.routing import Capabilities, Queue, RoutingTable, Rule, decide
from batchlane.sandbox import batch_rules

TRAINING = {"image": "busybox", "command": ["torchrun", "train.py"], "resources": {"vcpu": 4, "memory": 8192}}


def test_a_multi_node_launch_is_one_multinode_definition_and_node_overrides_for_every_node():
    plan = planned(detail(container=TRAINING, nodes={"count": 3, "mainNode": 1}))
    register = plan.definition.register_request()
    assert register["type"] == "multinode" and "containerProperties" not in register
    nodes = register["nodeProperties"]
    assert (nodes["numNodes"], nodes["mainNode"]) == (3, 1)
    [node_range] = nodes["nodeRangeProperties"]
    assert node_range["targetNodes"] == "0:" and node_range["container"]["image"] == "busybox"
    submit = plan.submit_request("def")
    assert "containerOverrides" not in submit and "arrayProperties" not in submit
    [override] = submit["nodeOverrides"]["nodePropertyOverrides"]
    assert override["targetNodes"] == "0:" and override["containerOverrides"]["command"] == ["torchrun", "train.py"]
    # botocore's model of Batch's API, then what Batch refuses beyond its shapes
    assert api_problems("RegisterJobDefinition", register) == ""
    assert api_problems("SubmitJob", submit) == ""
    assert batch_rules.definition_problems(register) == []
    # another node count is another definition (the count lives there, not in the submission)
    other = planned(detail(container=TRAINING, nodes={"count": 4}))
    assert other.definition.name != plan.definition.name and other.definition.nodes == (4, 0)


def test_batch_refuses_a_main_node_outside_the_nodes_an_uncovered_node_and_fargate():
    register = planned(detail(container=TRAINING, nodes={"count": 2})).definition.register_request()
    nodes = register["nodeProperties"]
    bad = {
        **register,
        "platformCapabilities": ["FARGATE"],
        "nodeProperties": {
            **nodes,
            "mainNode": 2,
            "nodeRangeProperties": [{**nodes["nodeRangeProperties"][0], "targetNodes": "0:0"}],
        },
    }
    assert batch_rules.definition_problems(bad) == [
        "multi-node parallel jobs are not supported on Fargate",
        "nodeProperties.mainNode 2 must be below numNodes 2",
        "nodeRangeProperties must cover every node 0..1",
    ]


def test_every_refused_multi_node_variant_is_named_in_one_rejection():
    found = dict(
        problems_of(
            detail(
                container={**TRAINING, "platform": "FARGATE", "ephemeralStorageGiB": 30},
                inputs=[{}, {}],
                nodes={"count": 3, "mainNode": 3},
            )
        )
    )
    assert "below count (3)" in found["nodes.mainNode"]
    assert "single task" in found["inputs"]
    assert "Fargate runs no multi-node jobs" in found["container.platform"]
    assert "multi-node job runs on EC2" in found["container.ephemeralStorageGiB"]
    assert [f for f, _ in problems_of(detail(nodes={"count": 1}))] == ["nodes.count"]
    assert [f for f, _ in problems_of(detail(nodes={"count": 2, "size": 4}))] == ["nodes.size"]


def test_a_multi_node_launch_routes_only_to_an_ec2_queue_without_spot():
    table = RoutingTable(
        (
            Queue("fargate", ("default",), capabilities=Capabilities("FARGATE", capacity="on-demand")),
            Queue("spot", ("default",), capabilities=Capabilities("EC2", capacity="spot")),
            Queue("mixed", ("default",), capabilities=Capabilities("EC2", capacity="mixed")),
            Queue("on-demand", ("default",), capabilities=Capabilities("EC2", capacity="on-demand")),
        ),
        (Rule("0001", ("default",)),),
    )
    request, _, _ = validate(detail(container=TRAINING, nodes={"count": 2}), SETTINGS)
    needs = routing_needs(request)
    assert (needs.platform, needs.nodes) == ("EC2", 2)
    for key in "abcdefgh":
        decision = decide(table, "p", "d", "w", key=key, needs=needs)
        assert decision.queue == "on-demand"
    cannot = {c.queue: c.unmet for c in decision.candidates}
    assert "runs FARGATE" in cannot["fargate"]
    assert "Batch runs no multi-node job on Spot" in cannot["spot"] and "mixed" in cannot["mixed"]
    only_spot = RoutingTable((table.queues[1],), table.rules)
    refused = decide(only_spot, "p", "d", "w", key="a", needs=needs)
    assert refused.queue is None and "2 nodes" in refused.reason
