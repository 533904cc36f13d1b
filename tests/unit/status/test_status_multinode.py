"""A multi-node job's status (issue 28): each node is a child, the main node's end is the job's."""

from __future__ import annotations

import itertools
import random

from batchlane.client.links import child_log_links
from batchlane.sandbox.simulate import AttemptPlan, ChildPlan, multi_node_events
from batchlane.status.fold import fold_events
from batchlane.status.observations import observe

MNP = "f00dcafe-0000-4000-8000-00000000abcd"
OK, EXIT = ChildPlan(), ChildPlan(attempts=(AttemptPlan("exit", 137),))


def record(nodes=3, main=0):
    return {"launchId": "L-mnp", "jobId": MNP, "size": nodes, "isArray": False, "nodes": nodes, "mainNode": main}


def test_each_node_is_a_child_with_its_own_log_link_and_the_job_is_the_parent():
    events = multi_node_events(MNP, [OK, OK, OK], main_node=1)
    observed = [observe(e) for e in events]
    assert {o.job_id for o in observed} == {MNP}  # "<id>#<node>" belongs to the job
    assert {o.child.index for o in observed if o.child} == {0, 1, 2}
    assert [o.parent.status for o in observed if o.parent] == ["RUNNABLE", "SUCCEEDED"]
    status = fold_events(record(main=1), events)
    assert status.phase == "succeeded" and status.counts["SUCCEEDED"] == 3
    streams = {link.url for c in status.children for link in child_log_links(c, "us-east-1")}
    assert len(streams) == 3  # one log stream per node


def test_the_main_nodes_end_decides_whatever_the_workers_did_and_in_any_order():
    # A worker that failed does not fail the job; a main node that failed does, though the workers succeeded.
    for plans, main, phase in (
        ([OK, EXIT, OK], 0, "succeeded"),
        ([OK, EXIT, OK], 1, "failed"),
        ([EXIT, OK], 0, "failed"),
    ):
        events = multi_node_events(MNP, plans, main_node=main, rng=random.Random(7))
        for order in itertools.islice(itertools.permutations(events), 0, 200, 37):
            status = fold_events(record(len(plans), main), [*order, *order[:3]])  # duplicates change nothing
            assert status.phase == phase, (plans, main)
        assert ("the main node " + ("succeeded" if phase == "succeeded" else "failed")) in status.reason


def test_a_worker_that_ends_before_the_main_node_leaves_the_job_running():
    events = multi_node_events(MNP, [OK, EXIT, OK], main_node=0)
    worker_end = next(
        i for i, e in enumerate(events) if e["detail"]["jobId"] == f"{MNP}#1" and e["detail"]["status"] == "FAILED"
    )
    before = [
        e
        for e in events[: worker_end + 1]
        if not (e["detail"]["jobId"] == f"{MNP}#0" and e["detail"]["status"] == "SUCCEEDED")
    ]
    status = fold_events(record(), before)
    assert status.phase == "running" and status.counts["FAILED"] == 1
    assert [c.index for c in status.children if c.status == "FAILED"] == [1]


def test_the_status_table_marks_the_main_node():
    from batchlane.client.render import children_table

    rows = [
        {"index": i, "status": "SUCCEEDED", "attempts": 1, "exitCode": 0, "statusReason": None, "logs": []}
        for i in range(3)
    ]
    table = children_table(rows, links=False, main=1)
    assert [line.split()[:2] for line in table[1:]] == [["0", "SUCCEEDED"], ["1", "main"], ["2", "SUCCEEDED"]]
