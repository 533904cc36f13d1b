"""The routing seed (never overwrites operator edits), alarms, dashboard and stack outputs."""

from __future__ import annotations

import json

import pytest

from stacks.routing_seed import seed_items, to_attribute_value

pytestmark = pytest.mark.infra


def _seed_calls(synth) -> dict[str, dict]:
    calls = {}
    for logical_id, resource in synth.resources("Custom::BatchlaneRoutingSeed").items():
        props = resource["Properties"]
        assert "Delete" not in props, "a seed must never delete routing items"
        rendered = json.loads(_join(props["Create"], synth))
        assert json.loads(_join(props["Update"], synth)) == rendered
        calls[logical_id] = rendered
    return calls


def _join(value, synth) -> str:
    """Render an Fn::Join whose only tokens are the routing table's Ref, as the deployed string."""
    if isinstance(value, str):
        return value
    delimiter, parts = value["Fn::Join"]
    table = synth.logical_id(synth.stack.state.routing_table)
    return delimiter.join(p if isinstance(p, str) else (table if p == {"Ref": table} else json.dumps(p)) for p in parts)


def test_the_seed_puts_every_configured_item_only_where_none_exists(synth):
    calls = _seed_calls(synth)
    table = synth.logical_id(synth.stack.state.routing_table)
    expected = {i["sk"]: {k: to_attribute_value(v) for k, v in i.items()} for i in seed_items(synth.config)}
    seen = {}
    for call in calls.values():
        assert call["service"] == "DynamoDB" and call["action"] == "PutItem"
        params = call["parameters"]
        assert params["TableName"] == table
        assert params["ConditionExpression"] == "attribute_not_exists(#sk)"
        assert params["ExpressionAttributeNames"] == {"#sk": "sk"}
        assert call["ignoreErrorCodesMatching"] == "ConditionalCheckFailedException"
        seen[params["Item"]["sk"]["S"]] = params["Item"]
    assert seen == expected


def test_the_seed_may_only_put_items_in_the_routing_table(synth):
    """One role for every seed resource: PutItem on the routing table and its own log stream, nothing else."""
    table_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.state.routing_table), "Arn"]}
    role_id = synth.logical_id(synth.stack.routing_seed.role)
    statements = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    log_group_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.routing_seed.log_group), "Arn"]}
    assert sorted(statements, key=json.dumps) == sorted(
        [
            {"Action": "dynamodb:PutItem", "Effect": "Allow", "Resource": table_arn},
            {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow", "Resource": log_group_arn},
        ],
        key=json.dumps,
    )
    singleton = [
        r
        for r in synth.resources("AWS::Lambda::Function").values()
        if r["Properties"].get("Role") == {"Fn::GetAtt": [role_id, "Arn"]}
    ]
    assert len(singleton) == 1
    role = synth.json["Resources"][role_id]["Properties"]
    assert not role.get("ManagedPolicyArns") and not role.get("Policies")


def test_a_new_seed_generation_reruns_the_seed(tmp_path):
    """``-c routingSeedGeneration=2`` changes every seed resource's properties (so CloudFormation runs it)."""
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb

    from batchlane.deployment.config import load_config
    from stacks.routing_seed import RoutingSeed

    rendered = []
    for generation in ("1", "2"):
        app = cdk.App(context={"routingSeedGeneration": generation}, outdir=str(tmp_path / generation))
        stack = cdk.Stack(app, "Seed")
        table = dynamodb.Table.from_table_name(stack, "Routing", "batchlane-dev-routing")
        RoutingSeed(stack, "RoutingSeed", config=load_config("dev"), table=table)
        rendered.append(app.synth().get_stack_by_name("Seed").template)
    before = [r for r in rendered[0]["Resources"].values() if r["Type"] == "Custom::BatchlaneRoutingSeed"]
    after = [r for r in rendered[1]["Resources"].values() if r["Type"] == "Custom::BatchlaneRoutingSeed"]
    assert len(before) == len(after) > 0
    assert all(b["Properties"] != a["Properties"] for b, a in zip(before, after))


# ---- operations -------------------------------------------------------------------------------
def _operations(synth):
    operations = getattr(synth.stack, "operations", None)
    if operations is None:
        pytest.skip("stacks.operations.Operations is not wired into BatchlaneStack yet")
    return operations


def _dead_letter_queues(synth) -> set[str]:
    dlqs = set()
    for queue in synth.resources("AWS::SQS::Queue").values():
        target = queue.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if target:
            dlqs.add(target["Fn::GetAtt"][0])
    for rule in synth.resources("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            arn = target.get("DeadLetterConfig", {}).get("Arn")
            if arn:
                dlqs.add(arn["Fn::GetAtt"][0])
    return dlqs


def _alarms(synth) -> list[dict]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_every_dead_letter_queue_has_an_alarm(synth):
    _operations(synth)
    dlqs = _dead_letter_queues(synth)
    assert dlqs
    alarmed = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _alarms(synth)
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Threshold"] == 0
        and a["ComparisonOperator"] == "GreaterThanThreshold"
    }
    assert dlqs <= alarmed


def test_every_batchlane_function_has_an_errors_alarm(synth):
    _operations(synth)
    singleton = "AWS679f53fac002430cb0da5b7982bd2287"
    functions = {k for k in synth.resources("AWS::Lambda::Function") if not k.startswith(singleton)}
    alarmed = {a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(synth) if a["MetricName"] == "Errors"}
    assert functions and functions <= alarmed


def test_alarms_notify_an_encrypted_topic(synth):
    _operations(synth)
    topic = {"Ref": synth.logical_id(synth.stack.operations.topic)}
    for alarm in _alarms(synth):
        assert alarm["AlarmActions"] == [topic]


def test_dashboard_shows_the_batchlane_metrics(synth):
    _operations(synth)
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "LaunchRequested",
        "LaunchRejected",
        "JobSubmitted",
        "StatusEventProcessed",
        "QueueBlocked",
        "RoutingItemMalformed",
    ):
        assert metric in body


def test_operations_construct_in_a_small_stack():
    """The construct on its own (also covers it before the stack wires it)."""
    import aws_cdk as cdk
    from aws_cdk import aws_batch as batch
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs
    from aws_cdk.assertions import Match, Template

    from batchlane.deployment.config import load_config
    from stacks.operations import Operations

    config = load_config("dev")
    app = cdk.App()
    stack = cdk.Stack(app, "Ops")
    dlqs = {n: sqs.Queue(stack, f"Dlq{n}", enforce_ssl=True) for n in ("launch", "status")}
    functions = {
        n: lambda_.Function(
            stack,
            f"Fn{n}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="i.h",
            code=lambda_.Code.from_inline("def h(e, c): pass"),
        )
        for n in ("launcher", "aggregator")
    }
    queues = {
        q.name: batch.JobQueue.from_job_queue_arn(
            stack, f"Q{q.name}", f"arn:aws:batch:us-east-1:123456789012:job-queue/{config.queue_name(q)}"
        )
        for q in config.job_queues
    }
    Operations(stack, "Operations", config=config, dlqs=dlqs, functions=functions, job_queues=queues)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "batchlane-dev-dlq-launch",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "batchlane-dev-errors-aggregator",
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
        },
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert "batchlane-dev-gpu_dynamic" in body and "QueueBlocked" in body


def test_stack_outputs_name_what_a_user_needs(dev):
    outputs = dev.json.get("Outputs", {})
    values = json.dumps(outputs)
    assert dev.logical_id(dev.stack.state.bus) in values  # bus name
    for table in (dev.stack.state.routing_table, dev.stack.state.executions_table):
        assert dev.logical_id(table) in values
    for queue in dev.stack.compute.job_queues.values():
        assert dev.logical_id(queue) in values
