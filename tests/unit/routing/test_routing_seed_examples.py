"""Every example configuration of the seed guide, with the launches that must go to each queue."""

from pathlib import Path

import pytest

from batchlane.flyteadmin import parse_flyte_config
from batchlane.routing import decide

CONFIGS = Path(__file__).parent / "configs"


def load(name: str):
    return parse_flyte_config((CONFIGS / name).read_text(), name)


def test_simple_setup_parses_to_one_queue_and_a_catch_all_rule():
    table = load("seed-simple.yaml")
    assert [(q.name, q.attributes, q.weight, q.enabled) for q in table.queues] == [("tutorial", ("default",), 1, True)]
    assert [(r.id, r.tags, *r.scope.as_dict().values()) for r in table.rules] == [
        ("0001", ("default",), None, None, None)
    ]


@pytest.mark.parametrize(
    "project, domain, workflow",
    [
        ("flytesnacks", "development", "wf"),
        ("my_queue_1", "production", "my_workflow_1"),
        ("anything", "staging", "else"),
    ],
)
def test_simple_setup_sends_every_launch_to_the_tutorial_queue(project, domain, workflow):
    decision = decide(load("seed-simple.yaml"), project, domain, workflow, key="launch-1")
    assert (decision.queue, decision.tag, decision.rule.id) == ("tutorial", "default", "0001")


def test_three_queue_setup_parses_in_file_order():
    table = load("seed-three-queues.yaml")
    assert [(q.name, q.attributes) for q in table.queues] == [
        ("gpu_dynamic", ("gpu",)),
        ("critical", ("critical",)),
        ("default", ("default",)),
    ]
    assert [(r.id, *r.scope.as_dict().values(), r.tags) for r in table.rules] == [
        ("0001", "my_queue_1", "production", "my_workflow_1", ("critical",)),
        ("0002", "production", None, "my_workflow_2", ("gpu",)),
        ("0003", "my_queue_3", "production", "my_workflow_3", ("critical",)),
        ("0004", None, None, None, ("default",)),
    ]


@pytest.mark.parametrize(
    "project, domain, workflow, queue, rule",
    [
        # rule 1: all three fields must match
        ("my_queue_1", "production", "my_workflow_1", "critical", "0001"),
        ("my_queue_1", "development", "my_workflow_1", "default", "0004"),
        ("my_queue_1", "production", "my_workflow_9", "default", "0004"),
        ("other", "production", "my_workflow_1", "default", "0004"),
        # rule 2 names no domain: any domain of project "production" running my_workflow_2
        ("production", "development", "my_workflow_2", "gpu_dynamic", "0002"),
        ("production", "production", "my_workflow_2", "gpu_dynamic", "0002"),
        ("production", "staging", "my_workflow_2", "gpu_dynamic", "0002"),
        ("production", "production", "my_workflow_1", "default", "0004"),
        ("development", "production", "my_workflow_2", "default", "0004"),
        # rule 3
        ("my_queue_3", "production", "my_workflow_3", "critical", "0003"),
        ("my_queue_3", "staging", "my_workflow_3", "default", "0004"),
        # Flyte's code matches workflowConfigs by domain only and would send every production launch
        # to "critical"; the documented behaviour (ours) needs every named field to match.
        ("some_project", "production", "some_workflow", "default", "0004"),
        ("flytesnacks", "development", "hello", "default", "0004"),
    ],
)
def test_three_queue_setup_routes_each_documented_launch(project, domain, workflow, queue, rule):
    decision = decide(load("seed-three-queues.yaml"), project, domain, workflow, key="launch-1")
    assert (decision.queue, decision.rule.id) == (queue, rule), decision.reason
    assert decision.candidates and decision.candidates[0].chosen and decision.candidates[0].share == 1.0


def test_decision_json_shape():
    document = decide(load("seed-three-queues.yaml"), "my_queue_1", "production", "my_workflow_1", "k").as_dict()
    assert document["queue"] == "critical" and document["tag"] == "critical"
    assert document["rule"] == {
        "id": "0001",
        "project": "my_queue_1",
        "domain": "production",
        "workflow": "my_workflow_1",
        "tags": ["critical"],
    }
    assert document["candidates"] == [{"queue": "critical", "weight": 1, "enabled": True, "share": 1.0, "chosen": True}]
    assert "rule 0001" in document["reason"]
