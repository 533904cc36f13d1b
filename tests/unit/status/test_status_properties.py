"""Order and duplicates do not matter: property tests over generated launch histories."""

import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from status_strategies import any_child_state, any_parent_state, launch_plans, ratios

from batchlane.client.links import child_log_links
from batchlane.sandbox.simulate import launch_events
from batchlane.status.fold import Fold, summarize
from batchlane.status.observations import merge_child, merge_parent, observe
from batchlane.status.phase import add_deltas, count_delta, initial_counts, min_successes
from batchlane.status.states import ChildState, ParentState

JOB = "8e1c5b3a-1f2e-4d55-9a0b-3c2d1e0f9a77"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def record(size, ratio=1):
    return {
        "launchId": "L-1",
        "jobId": JOB,
        "size": size,
        "isArray": size > 1,
        "minSuccessRatio": ratio,
        "queue": "batchlane-default",
    }


def fold(launch, events):
    f = Fold(job_id=JOB)
    for e in events:
        f.add(e)
    return f.status(launch)


def _decimals(value):
    """What a DynamoDB round trip does to numbers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


@st.composite
def histories(draw):
    plans = draw(launch_plans)
    true_order = launch_events(JOB, plans, rng=random.Random(draw(st.integers(0, 2**16))))
    dups = draw(st.lists(st.sampled_from(true_order), max_size=len(true_order)))
    delivered = draw(st.permutations(true_order + dups))
    return plans, true_order, delivered, draw(ratios)


@SETTINGS
@given(histories())
def test_any_permutation_with_duplicates_gives_the_true_order_record(h):
    plans, true_order, delivered, ratio = h
    launch = record(len(plans), ratio)
    assert fold(launch, delivered) == fold(launch, true_order)


@SETTINGS
@given(launch_plans, st.integers(0, 2**16), ratios, st.data())
def test_in_flight_launch_any_permutation_with_duplicates_gives_the_true_order_record(plans, seed, ratio, data):
    """The same at any moment of the launch: the events delivered so far (a prefix of the true
    order), permuted and duplicated, give the record of that prefix in true order."""
    true_order = launch_events(JOB, plans, rng=random.Random(seed))
    prefix = true_order[: data.draw(st.integers(1, len(true_order)))]
    dups = data.draw(st.lists(st.sampled_from(prefix), max_size=len(prefix)))
    delivered = data.draw(st.permutations(prefix + dups))
    launch = record(len(plans), ratio)
    assert fold(launch, delivered) == fold(launch, prefix)


@SETTINGS
@given(histories())
def test_one_item_per_child_written_only_on_change_matches_the_in_memory_fold(h):
    """The aggregator's storage model: one item per child (read, merge, conditional write when
    changed), a summary kept by count deltas; duplicates and stale events write nothing."""
    plans, true_order, delivered, ratio = h
    launch = record(len(plans), ratio)
    table: dict[int, dict] = {}  # index -> stored item (numbers as Decimal, like DynamoDB)
    parent_item = None
    counts = initial_counts(len(plans))
    writes = 0
    for raw in delivered:
        obs = observe(raw)
        if obs.parent is not None:
            old_p = ParentState.from_item(parent_item) if parent_item else None
            new_p, changed = merge_parent(old_p, obs)
            if changed:
                parent_item = _decimals(new_p.to_item())
            continue
        old_item = table.get(obs.child.index)
        old = ChildState.from_item(old_item) if old_item else None
        new, changed = merge_child(old, obs)
        if changed:
            item = new.to_item()
            assert not _has_float(item)
            table[new.index] = _decimals(item)
            add_deltas(counts, count_delta(old.status if old else None, new.status))
            writes += 1
    children = [ChildState.from_item(i) for i in table.values()]
    parent = ParentState.from_item(parent_item) if parent_item else None
    stored = summarize(launch, children, parent)
    assert stored == fold(launch, true_order)
    assert {k: v for k, v in counts.items() if v} == {k: v for k, v in stored.counts.items() if v}
    assert sum(stored.counts.values()) == len(plans)
    child_events = sum(1 for e in delivered if "index" in e["detail"].get("arrayProperties", {}) or len(plans) == 1)
    assert writes <= child_events
    # Folding any event again into the final state changes nothing: no write for a duplicate.
    for raw in delivered:
        obs = observe(raw)
        if obs.child is not None:
            assert merge_child(ChildState.from_item(table[obs.child.index]), obs)[1] is False


def _has_float(v):
    if isinstance(v, float):
        return True
    if isinstance(v, dict):
        return any(_has_float(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_float(x) for x in v)
    return False


@SETTINGS
@given(histories())
def test_final_record_tells_what_happened_to_every_child(h):
    plans, true_order, delivered, ratio = h
    size = len(plans)
    st_ = fold(record(size, ratio), delivered)
    assert st_.non_final == () and not st_.terminate
    ok = sum(p.succeeded for p in plans)
    assert st_.counts["SUCCEEDED"] == ok and st_.counts["FAILED"] == size - ok
    expected = "succeeded" if ok >= min_successes(size, ratio) else "failed"
    assert st_.phase == expected
    assert len(st_.children) == size
    for child, plan in zip(st_.children, plans, strict=True):
        assert child.status == ("SUCCEEDED" if plan.succeeded else "FAILED")
        assert child.attempt_count == len(plan.attempts)
        for a, p in zip(child.attempts, plan.attempts, strict=True):
            if p.outcome == "nostart":  # failed before the container ran
                assert a.exit_code is None and a.log_stream is None and a.reason
            else:
                assert a.exit_code == (0 if p.outcome == "ok" else p.exit_code) and a.log_stream
        links = child_log_links(child, "us-east-1")
        assert len(links) == sum(p.outcome != "nostart" for p in plan.attempts)
        assert all(link.name.startswith(f"AWS Batch #{child.index}-") for link in links)


@SETTINGS
@given(histories())
def test_every_prefix_of_the_true_order_has_a_consistent_phase(h):
    """While events arrive in order: counts sum to size, and the launch fails exactly when the
    successes still possible fall below the minimum, listing the children to stop."""
    plans, true_order, _, ratio = h
    size = len(plans)
    need = min_successes(size, ratio)
    f = Fold(job_id=JOB)
    launch = record(size, ratio)
    for e in true_order:
        f.add(e)
        s = f.status(launch)
        assert sum(s.counts.values()) == size
        possible = size - s.counts["FAILED"]
        if s.parent is not None and s.parent.status == "SUCCEEDED":
            assert s.phase == "succeeded"
        elif possible < need:
            assert s.phase == "failed"
            assert s.terminate == bool(s.non_final)
            assert all(not (c.final) for c in s.children if c.index in s.non_final)
        elif s.counts["SUCCEEDED"] + s.counts["FAILED"] == size:
            assert s.phase == "succeeded"
        else:
            assert s.phase in ("queued", "running")


@SETTINGS
@given(histories(), st.data())
def test_child_join_is_commutative_associative_idempotent(h, data):
    _, true_order, _, _ = h
    states = [o.child for o in map(observe, true_order) if o.child is not None]
    by_index: dict[int, list[ChildState]] = {}
    for s in states:
        by_index.setdefault(s.index, []).append(s)
    group = data.draw(st.sampled_from(sorted(by_index)))
    a, b, c = (data.draw(st.sampled_from(by_index[group])) for _ in range(3))
    assert a.join(b) == b.join(a)
    assert a.join(b).join(c) == a.join(b.join(c))
    assert a.join(a) == a


@SETTINGS
@given(any_child_state, any_child_state, any_child_state)
def test_child_join_laws_hold_even_for_inconsistent_states(a, b, c):
    assert a.join(b) == b.join(a)
    assert a.join(b).join(c) == a.join(b.join(c))
    assert a.join(a) == a
    assert a.join(b).key == max(a.key, b.key)  # the furthest position wins
    assert merge_child(a.join(b), b) == (a.join(b), False)  # nothing new: no write


@SETTINGS
@given(any_parent_state, any_parent_state, any_parent_state)
def test_parent_join_laws(a, b, c):
    assert a.join(b) == b.join(a)
    assert a.join(b).join(c) == a.join(b.join(c))
    assert a.join(a) == a
