"""Issue 11 as synthesized: capabilities in the seeded queue items, extra queues in the launcher's
SubmitJob policy, the aggregator's right to mark queue health, interface endpoints."""

from __future__ import annotations

import json

import pytest
from test_launch_path import _actions, _launcher, _policy_statements

pytestmark = pytest.mark.infra


def _seeded_queue_items(synth) -> dict[str, dict]:
    items = {}
    for resource in synth.resources("Custom::BatchlaneRoutingSeed").values():
        create = json.dumps(resource["Properties"]["Create"])
        for name in (q.name for q in synth.config.routing_table().queues):
            if f"queue#{name}" in create:
                items[name] = create
    return items


def test_the_seed_writes_each_queue_s_capabilities(dev):
    items = _seeded_queue_items(dev)
    assert '\\"platform\\":{\\"S\\":\\"FARGATE\\"}' in items["batchlane-dev-fargate"]
    assert '\\"gpus\\":{\\"N\\":\\"4\\"}' in items["batchlane-dev-gpu_dynamic"]  # one g5 within 64 vCPUs
    assert '\\"gpus\\":{\\"N\\":\\"0\\"}' in items["batchlane-dev-critical"]


def test_extra_job_queues_are_in_the_launcher_s_submit_policy_and_nothing_else_is(fargate):
    logical_id, _ = _launcher(fargate)
    [submit] = [s for s in _policy_statements(fargate, logical_id) if "batch:SubmitJob" in _actions(s)]
    resources = json.dumps(submit["Resource"])
    # a bare name in the config: the queue of the account deployed to (no foreign account id)
    assert (
        '"arn:", {"Ref": "AWS::Partition"}, ":batch:eu-west-1:", {"Ref": "AWS::AccountId"}, ":job-queue/team-ml-flyte"'
        in resources
    )
    assert len(submit["Resource"]) == 1 + len(fargate.resources("AWS::Batch::JobQueue")) + 1  # definitions, own, extra


def test_only_the_aggregator_may_mark_queue_health_in_the_routing_table(dev):
    table = dev.logical_id(dev.stack.state.routing_table)
    writers = []
    for policy in dev.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "dynamodb:UpdateItem" in _actions(statement) and table in json.dumps(statement["Resource"]):
                writers.append(json.dumps(policy["Properties"]["Roles"]))
    assert len(writers) == 1 and "Aggregator" in writers[0]
