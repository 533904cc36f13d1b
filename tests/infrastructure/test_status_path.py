"""The status path as synthesized: Batch events of batchlane's queues -> buffer -> aggregator."""

from __future__ import annotations

import json


def _batch_rule(dev):
    rules = [r for r in dev.resources("AWS::Events::Rule").values()
             if r["Properties"].get("EventPattern", {}).get("source") == ["aws.batch"]]
    assert len(rules) == 1
    return rules[0]["Properties"]


def test_rule_on_the_default_bus_takes_only_batchlanes_queues(dev):
    rule = _batch_rule(dev)
    assert "EventBusName" not in rule  # AWS Batch publishes on the default bus only
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Batch Job State Change", "Batch Job Queue Blocked"]
    expected = [dev.resolve(q.job_queue_arn) for q in dev.stack.compute.job_queues.values()]
    assert pattern["detail"]["jobQueue"] == expected and expected
    [target] = rule["Targets"]
    assert target["Arn"] == dev.resolve(dev.stack.status.queue.queue_arn)
    assert target["DeadLetterConfig"]["Arn"] == dev.resolve(dev.stack.status.dlq.queue_arn)


def test_aggregator_reads_its_buffer_with_partial_batch_failures(dev):
    function = dev.logical_id(dev.stack.status.function)
    [mapping] = [m["Properties"] for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
                 if m["Properties"]["FunctionName"] == {"Ref": function}]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == dev.resolve(dev.stack.status.queue.queue_arn)
    assert mapping["BatchSize"] == dev.config.aggregator.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == dev.config.aggregator.batching_window_seconds
    queue = dev.json["Resources"][dev.logical_id(dev.stack.status.queue)]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == dev.config.aggregator.max_receive_count


def test_aggregator_may_terminate_jobs_and_nothing_more_in_batch(dev):
    fn = dev.json["Resources"][dev.logical_id(dev.stack.status.function)]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in dev.resources("AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"]]
    statements = [s for doc in policies for s in doc]
    batch_actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
                     if a.startswith("batch:")}
    assert batch_actions == {"batch:TerminateJob"}
    body = json.dumps(statements)
    assert "dynamodb:TransactWriteItems" not in body  # not an IAM action: Put/Update are checked per item
    env = fn["Properties"]["Environment"]["Variables"]
    assert set(env) >= {"EXECUTIONS_TABLE", "EVENT_BUS"}
