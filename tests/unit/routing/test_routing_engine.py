"""The pure routing decision: specificity, tag order, weights, disabled queues, no match."""

from collections import Counter

import pytest

from batchlane.routing import Queue, RoutingTable, Rule, Scope, decide
from batchlane.routing.engine import select_rule

IDS = [f"launch-{i}" for i in range(2000)]


def table(queues, rules):
    return RoutingTable(tuple(queues), tuple(rules))


def q(name, *attributes, weight=1, enabled=True):
    return Queue(name, attributes, weight, enabled)


QUEUES = [q("qa", "a"), q("qb", "b"), q("qc", "c"), q("qd", "d"), q("qe", "e")]


# --- specificity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "project, domain, workflow, expected",
    [
        ("p", "d", "w", "wf"),  # workflow beats project+domain, project and domain
        ("p", "d", "other", "pd"),  # project+domain beats project and domain
        ("p", "x", "other", "proj"),  # project beats domain
        ("z", "d", "other", "dom"),
        ("z", "x", "other", "any"),
    ],
)
def test_most_specific_rule_wins(project, domain, workflow, expected):
    rules = [
        Rule("any", ("a",)),
        Rule("dom", ("a",), Scope(domain="d")),
        Rule("proj", ("a",), Scope(project="p")),
        Rule("pd", ("a",), Scope(project="p", domain="d")),
        Rule("wf", ("a",), Scope(workflow="w")),
    ]
    assert select_rule(rules, Scope(project, domain, workflow)).id == expected


def test_workflow_alone_beats_project_and_domain():
    rules = [Rule("1", ("a",), Scope(project="p", domain="d")), Rule("2", ("b",), Scope(workflow="w"))]
    assert decide(table(QUEUES, rules), "p", "d", "w", "k").queue == "qb"


def test_project_alone_beats_domain_alone_whatever_the_order():
    rules = [Rule("1", ("a",), Scope(domain="d")), Rule("2", ("b",), Scope(project="p"))]
    assert decide(table(QUEUES, rules), "p", "d", "w", "k").queue == "qb"
    assert decide(table(QUEUES, rules[::-1]), "p", "d", "w", "k").queue == "qb"


def test_a_rule_applies_only_when_every_named_field_matches():
    rules = [Rule("1", ("a",), Scope(project="p", domain="d", workflow="w")), Rule("2", ("b",))]
    assert decide(table(QUEUES, rules), "p", "d", "w", "k").queue == "qa"
    for launch in [("p", "d", "x"), ("p", "x", "w"), ("x", "d", "w")]:
        assert decide(table(QUEUES, rules), *launch, "k").queue == "qb"


def test_ties_go_to_the_lowest_rule_id_which_is_file_order_for_imported_rules():
    rules = [
        Rule("0002", ("b",), Scope(domain="d")),
        Rule("0001", ("a",), Scope(domain="d")),
        Rule("0003", ("c",), Scope(domain="d")),
    ]
    decision = decide(table(QUEUES, rules), "p", "d", "w", "k")
    assert (decision.rule.id, decision.queue) == ("0001", "qa")


def test_most_specific_rule_is_final_no_fallback_to_a_less_specific_one():
    rules = [Rule("1", ("a",), Scope(workflow="w")), Rule("2", ("b",))]
    queues = [q("qa", "a", enabled=False), q("qb", "b")]
    decision = decide(table(queues, rules), "p", "d", "w", "k")
    assert decision.queue is None and decision.rule.id == "1"
    assert "disabled" in decision.reason


# --- tags ----------------------------------------------------------------------------------------


def test_tags_are_tried_in_order_first_with_an_enabled_queue_wins():
    rules = [Rule("1", ("missing", "c", "a"))]
    decision = decide(table(QUEUES, rules), "p", "d", "w", "k")
    assert (decision.queue, decision.tag) == ("qc", "c")
    assert decision.skipped_tags == ("missing: no queue carries it",)


def test_tags_are_not_intersected():
    queues = [q("both", "gpu", "critical"), q("gpu-only", "gpu")]
    decision = decide(table(queues, [Rule("1", ("critical", "gpu"))]), "p", "d", "w", "k")
    assert decision.queue == "both" and decision.tag == "critical"
    assert [c.queue for c in decision.candidates] == ["both"]


def test_a_tag_whose_queues_are_disabled_or_drained_is_passed_over():
    queues = [q("off", "first", enabled=False), q("drained", "first", weight=0), q("on", "second")]
    decision = decide(table(queues, [Rule("1", ("first", "second"))]), "p", "d", "w", "k")
    assert (decision.queue, decision.tag) == ("on", "second")
    assert decision.skipped_tags == ("first: queues off, drained are disabled or have weight 0",)
    assert "after passing over" in decision.reason


# --- weights -----------------------------------------------------------------------------------------


def test_the_choice_is_deterministic_per_launch_id():
    t = table([q("x", "t"), q("y", "t"), q("z", "t")], [Rule("1", ("t",))])
    first = [decide(t, "p", "d", "w", key).queue for key in IDS[:200]]
    assert first == [decide(t, "p", "d", "w", key).queue for key in IDS[:200]]
    assert len(set(first)) == 3


def test_queue_order_does_not_change_the_choice():
    queues = [q("x", "t"), q("y", "t", weight=2), q("z", "t")]
    t1 = table(queues, [Rule("1", ("t",))])
    t2 = table(queues[::-1], [Rule("1", ("t",))])
    assert all(decide(t1, "p", "d", "w", k).queue == decide(t2, "p", "d", "w", k).queue for k in IDS[:300])


def test_equal_weights_share_launches_roughly_equally():
    t = table([q("x", "t"), q("y", "t")], [Rule("1", ("t",))])
    counts = Counter(decide(t, "p", "d", "w", key).queue for key in IDS)
    assert abs(counts["x"] / len(IDS) - 0.5) < 0.05, counts


def test_launches_are_shared_in_proportion_to_weights():
    t = table([q("small", "t", weight=1), q("big", "t", weight=3), q("mid", "t", weight=2)], [Rule("1", ("t",))])
    counts = Counter(decide(t, "p", "d", "w", key).queue for key in IDS)
    for name, share in (("small", 1 / 6), ("mid", 2 / 6), ("big", 3 / 6)):
        assert abs(counts[name] / len(IDS) - share) < 0.04, counts
    decision = decide(t, "p", "d", "w", "k")
    assert {c.queue: round(c.share, 3) for c in decision.candidates} == {"small": 0.167, "big": 0.5, "mid": 0.333}
    assert sum(c.chosen for c in decision.candidates) == 1
    assert "chosen by weight" in decision.reason


def test_adding_a_queue_only_moves_launches_to_it():
    before = table([q("x", "t"), q("y", "t")], [Rule("1", ("t",))])
    after = table([q("x", "t"), q("y", "t"), q("new", "t")], [Rule("1", ("t",))])
    for key in IDS[:500]:
        moved_to = decide(after, "p", "d", "w", key).queue
        assert moved_to in ("new", decide(before, "p", "d", "w", key).queue)


def test_weight_zero_drains_a_queue_and_disabled_queues_are_skipped():
    t = table([q("x", "t"), q("drained", "t", weight=0), q("off", "t", enabled=False)], [Rule("1", ("t",))])
    assert {decide(t, "p", "d", "w", key).queue for key in IDS[:300]} == {"x"}
    shares = {c.queue: (c.share, c.enabled) for c in decide(t, "p", "d", "w", "k").candidates}
    assert shares == {"x": (1.0, True), "drained": (0.0, True), "off": (0.0, False)}


# --- no match ----------------------------------------------------------------------------------------


def test_no_applicable_rule_is_a_clear_rejection():
    decision = decide(table(QUEUES, [Rule("1", ("a",), Scope(project="other"))]), "p", "d", "w", "k")
    assert not decision.matched and decision.queue is None and decision.rule is None
    assert decision.reason == "no routing rule applies to project=p, domain=d, workflow=w"
    assert decision.as_dict()["queue"] is None and decision.as_dict()["candidates"] == []


def test_no_queue_for_any_tag_names_the_rule_and_every_tag():
    queues = [q("off", "a", enabled=False)]
    decision = decide(table(queues, [Rule("7", ("a", "zz"), Scope(domain="d"))]), "p", "d", "w", "k")
    assert decision.queue is None and decision.rule.id == "7"
    assert "no enabled queue carries any of its tags" in decision.reason
    assert "a: queues off are disabled or have weight 0" in decision.reason
    assert "zz: no queue carries it" in decision.reason


def test_an_empty_table_rejects():
    assert decide(RoutingTable(), "p", "d", "w", "k").queue is None
