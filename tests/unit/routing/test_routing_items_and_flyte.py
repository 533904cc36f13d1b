"""The DynamoDB item codec (hand-edited items) and the FlyteAdmin config parser."""

from decimal import Decimal
from pathlib import Path

import pytest

from batchlane.flyteadmin import FlyteConfigError, parse_flyte_config
from batchlane.routing import Queue, RoutingTable, Rule, Scope, decide
from batchlane.routing.items import items_from_table, rule_ids, table_from_items

CONFIGS = Path(__file__).parent / "configs"


def by_sk(items):
    return {item["sk"]: item for item in items}


# --- items codec -----------------------------------------------------------------------------------


def test_items_round_trip():
    table = RoutingTable(
        (Queue("gpu", ("gpu",), 2, True), Queue("cpu", ("default", "critical"), 0, False)),
        (Rule("0001", ("gpu", "default"), Scope(project="p", domain="d", workflow="w")), Rule("0002", ("default",))),
    )
    items = items_from_table(table)
    assert by_sk(items)["queue#gpu"] == {
        "pk": "routing",
        "sk": "queue#gpu",
        "attributes": ["gpu"],
        "weight": 2,
        "enabled": True,
    }
    assert by_sk(items)["rule#0002"] == {"pk": "routing", "sk": "rule#0002", "tags": ["default"]}
    parsed, problems = table_from_items(by_sk(items))
    assert problems == []
    assert set(parsed.queues) == set(table.queues) and set(parsed.rules) == set(table.rules)


def test_hand_written_items_with_defaults_and_dynamodb_numbers():
    items = {
        "queue#a": {"pk": "routing", "sk": "queue#a", "attributes": ["x"]},
        "queue#b": {
            "pk": "routing",
            "sk": "queue#b",
            "attributes": {"x", "y"},
            "weight": Decimal("3"),
            "description": "attributes may be a string set: their order does not matter",
        },
        "rule#r": {"pk": "routing", "sk": "rule#r", "tags": ["x"], "domain": "d", "description": "hi"},
    }
    table, problems = table_from_items(items)
    assert problems == []
    assert set(table.queues) == {Queue("a", ("x",), 1, True), Queue("b", ("x", "y"), 3, True)}
    assert table.rules == (Rule("r", ("x",), Scope(domain="d")),)


@pytest.mark.parametrize(
    "sk, item, problem",
    [
        ("rule#no-tags", {"domain": "d"}, "rule#no-tags: tags must be a non-empty list of strings"),
        ("rule#empty-tags", {"tags": []}, "rule#empty-tags: tags must be a non-empty list of strings"),
        (
            "rule#set-tags",
            {"tags": {"a", "b"}},
            "rule#set-tags: tags must be a list (L), not a set: their order matters",
        ),
        ("rule#blank-tag", {"tags": ["a", " "]}, "rule#blank-tag: tags must contain only non-empty strings"),
        (
            "rule#bad-domain",
            {"tags": ["a"], "domain": 5},
            "rule#bad-domain: domain must be a non-empty string when present",
        ),
        ("rule#typo", {"tags": ["a"], "workflowName": "w"}, "rule#typo: unknown attributes workflowName"),
        ("rule#", {"tags": ["a"]}, "rule#: the rule id after 'rule#' is empty"),
        ("queue#neg", {"attributes": ["a"], "weight": -1}, "queue#neg: weight must be a whole number >= 0"),
        (
            "queue#frac",
            {"attributes": ["a"], "weight": Decimal("1.5")},
            "queue#frac: weight must be a whole number >= 0",
        ),
        ("queue#str", {"attributes": ["a"], "weight": "3"}, "queue#str: weight must be a whole number >= 0"),
        ("queue#bool", {"attributes": ["a"], "weight": True}, "queue#bool: weight must be a whole number >= 0"),
        ("queue#enabled", {"attributes": ["a"], "enabled": "yes"}, "queue#enabled: enabled must be a boolean (BOOL)"),
        ("queue#no-attrs", {"weight": 1}, "queue#no-attrs: attributes must be a non-empty list of strings"),
        ("queue#extra", {"attributes": ["a"], "priority": 5}, "queue#extra: unknown attributes priority"),
        ("queue#", {"attributes": ["a"]}, "queue#: the queue name after 'queue#' is empty"),
        ("queues#typo", {"attributes": ["a"]}, "queues#typo: sk must start with 'queue#' or 'rule#'"),
        ("setting#x", {"value": 1}, "setting#x: sk must start with 'queue#' or 'rule#'"),
    ],
)
def test_a_malformed_item_is_skipped_with_one_problem_line(sk, item, problem):
    good = {
        "queue#ok": {"pk": "routing", "sk": "queue#ok", "attributes": ["a"]},
        "rule#ok": {"pk": "routing", "sk": "rule#ok", "tags": ["a"]},
    }
    table, problems = table_from_items({**good, sk: {"pk": "routing", "sk": sk, **item}})
    assert problems == [problem] or (len(problems) == 1 and problems[0].startswith(problem)), problems
    assert [q.name for q in table.queues] == ["ok"] and [r.id for r in table.rules] == ["ok"]
    assert decide(table, "p", "d", "w", "k").queue == "ok"


def test_several_malformed_items_give_one_line_each():
    items = {"rule#a": {"tags": {"x"}}, "rule#b": {}, "queue#c": {"attributes": ["x"], "weight": -2}, "x": "nope"}
    _, problems = table_from_items(items)
    assert [p.split(":")[0] for p in problems] == ["queue#c", "rule#a", "rule#b", "x"]


def test_rule_ids_sort_in_file_order():
    ids = list(rule_ids(12))
    assert ids[0] == "0001" and ids == sorted(ids) and len(set(ids)) == 12
    assert sorted(rule_ids(10_001)) == list(rule_ids(10_001))


# --- FlyteAdmin config ----------------------------------------------------------------------------------


def test_flyte_config_nested_in_helm_values():
    table = parse_flyte_config((CONFIGS / "helm-values.yaml").read_text(), "helm-values.yaml")
    assert [(q.name, q.attributes) for q in table.queues] == [
        ("batch-ondemand", ("default", "critical")),
        ("batch-spot", ("default",)),
    ]
    assert [(r.id, r.scope.domain, r.tags) for r in table.rules] == [
        ("0001", "production", ("critical", "default")),
        ("0002", None, ("default",)),
    ]
    assert decide(table, "p", "production", "w", "k").queue == "batch-ondemand"


@pytest.mark.parametrize(
    "wrapper",
    [
        "configMaps:\n  adminServer:\n{block}",
        "configmap:\n  adminServer:\n{block}",
        "flyte:\n  - unrelated: 1\n  - nested:\n{block}",
    ],
)
def test_the_queues_block_is_found_anywhere(wrapper):
    block = (
        "queues:\n  executionQueues:\n    - dynamic: q1\n      attributes: [default]\n"
        "  workflowConfigs:\n    - tags: [default]\n"
    )
    indent = "      " if "- nested" in wrapper else "    "
    text = wrapper.format(block="".join(indent + line + "\n" for line in block.splitlines()))
    table = parse_flyte_config(text)
    assert [q.name for q in table.queues] == ["q1"] and len(table.rules) == 1


def test_batchlane_weight_and_enabled_extensions():
    table = parse_flyte_config(
        "queues:\n  executionQueues:\n"
        "    - {dynamic: a, attributes: [t], weight: 3}\n"
        "    - {dynamic: b, attributes: [t], enabled: false}\n"
        "  workflowConfigs: [{tags: [t]}]\n"
    )
    assert table.queues == (Queue("a", ("t",), 3, True), Queue("b", ("t",), 1, False))


@pytest.mark.parametrize(
    "text, message",
    [
        ("queues: [unclosed", "cfg: not valid YAML"),
        (
            "flyteadmin:\n  roleNameKey: x\n",
            "cfg: no FlyteAdmin 'queues:' block with executionQueues/workflowConfigs found",
        ),
        ("", "no FlyteAdmin 'queues:' block"),
        (
            "queues:\n  executionQueues:\n    - attributes: [a]\n",
            "queues.executionQueues[0].dynamic: the job queue name is missing",
        ),
        (
            "queues:\n  executionQueues:\n    - {dynamic: off, attributes: [a]}\n",
            "queues.executionQueues[0].dynamic: the job queue name must be a string, got False (quote it",
        ),
        (
            "queues:\n  executionQueues:\n    - dynamic: q\n",
            "queues.executionQueues[0].attributes: must be a non-empty list of strings",
        ),
        (
            "queues:\n  executionQueues:\n    - {dynamic: q, attributes: default}\n",
            "queues.executionQueues[0].attributes: must be a non-empty list",
        ),
        (
            "queues:\n  executionQueues:\n    - {dynamic: q, attributes: [a]}\n    - {dynamic: q, attributes: [b]}\n",
            "queue 'q' is listed twice",
        ),
        (
            "queues:\n  executionQueues:\n    - {dynamic: q, attributes: [a], weight: -1}\n",
            "queues.executionQueues[0].weight: must be a whole number >= 0",
        ),
        (
            "queues:\n  executionQueues:\n    - {dynamic: q, attributes: [a], enabled: maybe}\n",
            "queues.executionQueues[0].enabled: must be true or false",
        ),
        ("queues:\n  executionQueues: {dynamic: q}\n", "queues.executionQueues: must be a list"),
        (
            "queues:\n  workflowConfigs:\n    - project: p\n",
            "queues.workflowConfigs[0].tags: must be a non-empty list of strings",
        ),
        (
            "queues:\n  workflowConfigs:\n    - {workflowName: 12, tags: [a]}\n",
            "queues.workflowConfigs[0].workflowName: must be a string",
        ),
        ("queues:\n  workflowConfigs:\n    - default\n", "queues.workflowConfigs[0]: must be a mapping"),
    ],
)
def test_bad_flyte_configs_give_clear_errors(text, message):
    with pytest.raises(FlyteConfigError) as error:
        parse_flyte_config(text, "cfg")
    assert message in str(error.value)
    assert str(error.value).startswith("cfg: ")


def test_every_problem_of_a_flyte_config_is_reported_at_once():
    text = (
        "queues:\n  executionQueues:\n    - {attributes: [a]}\n    - {dynamic: q}\n"
        "  workflowConfigs:\n    - {project: p}\n"
    )
    with pytest.raises(FlyteConfigError) as error:
        parse_flyte_config(text, "cfg")
    assert str(error.value).count(";") == 2
