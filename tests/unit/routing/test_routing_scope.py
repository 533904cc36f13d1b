"""A rule's scope: what it covers, how specific it is, and the one way it is printed."""

from __future__ import annotations

import pytest

from batchlane.routing import EVERYWHERE, Rule, Scope
from batchlane.routing.items import rule_from_item, rule_item

LAUNCH = Scope("p", "d", "w")


@pytest.mark.parametrize(
    "scope, covers",
    [
        (EVERYWHERE, True),
        (Scope(domain="d"), True),
        (Scope(project="p", workflow="w"), True),
        (Scope(project="p", domain="other"), False),
        (Scope(workflow="other"), False),
    ],
)
def test_a_scope_covers_a_launch_when_every_field_it_names_matches(scope, covers):
    assert scope.covers(LAUNCH) is covers


def test_workflow_beats_project_beats_domain():
    ordered = [Scope(workflow="w"), Scope(project="p", domain="d"), Scope(project="p"), Scope(domain="d"), EVERYWHERE]
    assert sorted(ordered, key=lambda s: s.specificity, reverse=True) == ordered


def test_one_rendering_for_rules_launches_and_items():
    assert str(Scope(project="p", workflow="w")) == "project=p, workflow=w"
    assert str(LAUNCH) == "project=p, domain=d, workflow=w"
    assert str(EVERYWHERE) == "matches everything"
    assert Rule("7", ("a", "b"), Scope(domain="d")).describe() == "rule 7 (domain=d) -> tags [a, b]"


def test_an_item_stores_only_the_fields_its_scope_names_and_reads_back_the_same_scope():
    rule = Rule("r", ("a",), Scope(project="p", workflow="w"))
    item = rule_item(rule)
    assert item == {"pk": "routing", "sk": "rule#r", "tags": ["a"], "project": "p", "workflow": "w"}
    assert rule_from_item("r", item) == rule
    assert Scope.of(item) == rule.scope
