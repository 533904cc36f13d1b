"""The status path as synthesized: Batch events of batchlane's queues -> buffer -> aggregator."""

from __future__ import annotations

import json

from batchlane.deployment.contract import batch_events_pattern


def _batch_rule(dev):
    rules = [
        r
        for r in dev.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.batch"]
    ]
    assert len(rules) == 1
    return rules[0]["Properties"]


def test_rule_on_the_default_bus_takes_only_batchlanes_queues(dev):
    rule = _batch_rule(dev)
    assert "EventBusName" not in rule  # AWS Batch publishes on the default bus only
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Batch Job State Change", "Batch Job Queue Blocked"]
    expected = [dev.resolve(q.job_queue_arn) for q in dev.stack.compute.job_queues.values()]
    assert pattern["detail"]["jobQueue"] == expected and expected
    # The children's events status does not need are dropped here (docs/status.md): the contract's $or.
    assert pattern["$or"] == batch_events_pattern(expected)["$or"]
    [target] = rule["Targets"]
    assert target["Arn"] == dev.resolve(dev.stack.status.queue.queue_arn)
    assert target["DeadLetterConfig"]["Arn"] == dev.resolve(dev.stack.status.dlq.queue_arn)


def test_aggregator_reads_its_buffer_with_partial_batch_failures(dev):
    function = dev.logical_id(dev.stack.status.function)
    [mapping] = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
        and m["Properties"]["EventSourceArn"] == dev.resolve(dev.stack.status.queue.queue_arn)
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == dev.resolve(dev.stack.status.queue.queue_arn)
    assert mapping["BatchSize"] == dev.config.aggregator.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == dev.config.aggregator.batching_window_seconds
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": dev.config.aggregator_max_concurrency}
    queue = dev.json["Resources"][dev.logical_id(dev.stack.status.queue)]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == dev.config.aggregator.max_receive_count


def test_aggregator_may_terminate_jobs_and_nothing_more_in_batch(dev):
    fn = dev.json["Resources"][dev.logical_id(dev.stack.status.function)]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in dev.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    statements = [s for doc in policies for s in doc]
    batch_actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("batch:")
    }
    assert batch_actions == {"batch:TerminateJob"}
    body = json.dumps(statements)
    assert "dynamodb:TransactWriteItems" not in body  # not an IAM action: Put/Update are checked per item
    env = fn["Properties"]["Environment"]["Variables"]
    assert set(env) >= {"EXECUTIONS_TABLE", "EVENT_BUS"}


def test_abort_requests_reach_the_aggregator_through_their_own_buffer(dev):
    abort_rules = [
        r["Properties"]
        for r in dev.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Task Abort Requested"]
    ]
    [rule] = abort_rules
    assert rule["EventBusName"] == dev.resolve(dev.stack.state.bus.event_bus_name)  # batchlane's own bus
    [target] = rule["Targets"]
    assert target["Arn"] == dev.resolve(dev.stack.status.abort_queue.queue_arn)
    assert target["DeadLetterConfig"]["Arn"] == dev.resolve(dev.stack.status.abort_dlq.queue_arn)
    function = dev.logical_id(dev.stack.status.function)
    sources = {
        json.dumps(m["Properties"]["EventSourceArn"]): m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
    }
    abort = sources[json.dumps(dev.resolve(dev.stack.status.abort_queue.queue_arn))]
    assert abort["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = dev.json["Resources"][dev.logical_id(dev.stack.status.abort_queue)]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == dev.config.aggregator.max_receive_count  # never forever


def _batch_actions(dev, function):
    fn = dev.json["Resources"][dev.logical_id(function)]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in dev.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("batch:")
    }


def test_reconciler_runs_on_a_schedule_and_alone_may_describe_jobs(dev):
    status = dev.config.status
    [rule] = [
        r["Properties"] for r in dev.resources("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    minutes = status.reconcile_every_minutes
    assert rule["ScheduleExpression"] == f"rate({minutes} minute{'s' if minutes > 1 else ''})"
    [target] = rule["Targets"]
    assert target["Arn"] == dev.resolve(dev.stack.status.reconciler.function_arn)
    assert _batch_actions(dev, dev.stack.status.reconciler) == {"batch:DescribeJobs", "batch:TerminateJob"}
    assert _batch_actions(dev, dev.stack.status.function) == {"batch:TerminateJob"}  # none while events flow
    env = dev.json["Resources"][dev.logical_id(dev.stack.status.reconciler)]["Properties"]["Environment"]["Variables"]
    assert env["SILENT_SECONDS"] == str(status.silent_seconds)
    assert env["RECONCILE_REQUEST_BUDGET"] == str(status.reconcile_request_budget)


def test_executions_table_has_the_sparse_open_launches_index(dev):
    table = dev.json["Resources"][dev.logical_id(dev.stack.state.executions_table)]["Properties"]
    [index] = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "openLaunches"]
    assert index["KeySchema"] == [
        {"AttributeName": "openShard", "KeyType": "HASH"},
        {"AttributeName": "lastSeenAt", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert {"AttributeName": "lastSeenAt", "AttributeType": "N"} in table["AttributeDefinitions"]


def test_a_phase_claim_outlives_every_claimer_and_runs_out_before_the_redelivery(dev):
    """A claim held by an invocation that died is taken over by the redelivery of its batch
    (docs/exactly-once.md): stale after the aggregator's and the reconciler's timeouts, before
    the aggregator's buffer makes the message visible again."""
    functions = {
        name: dev.json["Resources"][dev.logical_id(fn)]["Properties"]
        for name, fn in (("aggregator", dev.stack.status.function), ("reconciler", dev.stack.status.reconciler))
    }
    claims = {name: int(props["Environment"]["Variables"]["CLAIM_SECONDS"]) for name, props in functions.items()}
    claim = claims["aggregator"]
    assert claims["reconciler"] == claim
    assert claim > max(props["Timeout"] for props in functions.values())
    queue = dev.json["Resources"][dev.logical_id(dev.stack.status.queue)]["Properties"]
    assert claim < queue["VisibilityTimeout"]
