"""The launch path as deployed: bus rule -> SQS (DLQ) -> launcher, its settings and its rights."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match


def _launcher(dev) -> tuple[str, dict]:
    [(logical_id, function)] = [
        (k, v)
        for k, v in dev.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == "batchlane.launch.handler.handler"
    ]
    return logical_id, function


def _policy_statements(dev, function_logical_id: str) -> list[dict]:
    role = dev.json["Resources"][function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in dev.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_launch_requests_on_batchlanes_bus_reach_an_sqs_buffer_with_a_dead_letter_queue(dev, template):
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "batchlane-dev"})
    template.has_resource_properties("AWS::Events::Archive", {"RetentionDays": 30})
    rules = [
        r
        for r in dev.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Task Launch Requested"]
    ]
    assert len(rules) == 1
    target = rules[0]["Properties"]["Targets"][0]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    buffer = dev.json["Resources"][target["Arn"]["Fn::GetAtt"][0]]["Properties"]
    assert buffer["RedrivePolicy"]["maxReceiveCount"] == dev.config.launcher.max_receive_count
    assert buffer["VisibilityTimeout"] == 6 * dev.config.launcher.timeout_seconds
    assert buffer["RedrivePolicy"]["deadLetterTargetArn"] == target["DeadLetterConfig"]["Arn"]


def test_launcher_reads_its_buffer_with_partial_batch_failures(dev, template):
    logical_id, function = _launcher(dev)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": logical_id},
            "BatchSize": dev.config.launcher.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    props = function["Properties"]
    assert props["Runtime"] == "python3.12" and props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"} and len(props["Layers"]) == 1
    env = props["Environment"]["Variables"]
    assert set(env) >= {
        "SETTINGS_PATH",
        "ROUTING_TABLE",
        "EXECUTIONS_TABLE",
        "DATA_BUCKET",
        "EVENT_BUS",
        "LEASE_SECONDS",
    }
    assert int(env["LEASE_SECONDS"]) > props["Timeout"]  # a crashed submission's claim outlives the crash
    # ... and has run out by the time SQS redelivers (docs/exactly-once.md).
    buffers = [
        q
        for logical_id, q in template.find_resources("AWS::SQS::Queue").items()
        if logical_id.startswith("LaunchRequests") and "DeadLetters" not in logical_id
    ]
    assert [int(env["LEASE_SECONDS"]) < q["Properties"]["VisibilityTimeout"] for q in buffers] == [True]


def test_launcher_runs_at_most_its_configured_concurrency_and_shares_the_submit_rate(dev, template):
    """The event source mapping caps the launcher's containers; each is told the deployment's
    SubmitJob rate and that cap, and paces itself at their quotient (docs/throughput.md)."""
    logical_id, function = _launcher(dev)
    assert dev.config.launcher_max_concurrency >= 2 and dev.config.submit_rate_per_second < 50
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": logical_id},
            "ScalingConfig": {"MaximumConcurrency": dev.config.launcher_max_concurrency},
        },
    )
    env = function["Properties"]["Environment"]["Variables"]
    assert float(env["SUBMIT_RATE_PER_SECOND"]) == dev.config.submit_rate_per_second
    assert int(env["MAX_CONCURRENCY"]) == dev.config.launcher_max_concurrency


def test_settings_parameters_hold_roles_limits_and_cache_lifetime(template):
    for name in (
        "default-role-arn",
        "execution-role-arn",
        "job-log-group",
        "routing-cache-seconds",
        "limits",
        "region",
    ):
        template.has_resource_properties("AWS::SSM::Parameter", {"Name": f"/batchlane/dev/{name}", "Type": "String"})
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": "/batchlane/dev/allowed-role-arns", "Type": "StringList"}
    )
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": "/batchlane/dev/routing-cache-seconds", "Value": "30"}
    )


def test_launcher_may_submit_only_to_its_own_queues_and_definitions(dev):
    logical_id, _ = _launcher(dev)
    statements = _policy_statements(dev, logical_id)
    submit = [s for s in statements if "batch:SubmitJob" in _actions(s)]
    assert len(submit) == 1
    resources = json.dumps(submit[0]["Resource"])
    assert "job-definition/batchlane-*" in resources
    for queue in dev.resources("AWS::Batch::JobQueue"):
        assert queue in resources
    star = [s for s in statements if s["Resource"] == "*"]
    assert {a for s in star for a in _actions(s)} <= {
        "batch:DescribeJobDefinitions",
        "batch:ListJobs",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_launcher_routing_and_settings_reads_are_scoped(dev):
    logical_id, _ = _launcher(dev)
    statements = _policy_statements(dev, logical_id)
    ssm = [s for s in statements if "ssm:GetParametersByPath" in _actions(s)]
    assert len(ssm) == 1 and "parameter/batchlane/dev" in json.dumps(ssm[0]["Resource"])
    routing = [s for s in statements if _actions(s) == ["dynamodb:Query"]]
    assert len(routing) == 1
    writes = [a for s in statements for a in _actions(s) if a.startswith("s3:Put")]
    assert writes and all(
        "launches/inputs/*" in json.dumps(s["Resource"])
        for s in statements
        if any(a.startswith("s3:Put") for a in _actions(s))
    )


def test_tables_are_named_for_the_cli_and_the_executions_table_finds_jobs(template):
    for name in ("routing", "executions"):
        template.has_resource_properties("AWS::DynamoDB::Table", {"TableName": f"batchlane-dev-{name}"})
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "batchlane-dev-executions",
            "GlobalSecondaryIndexes": Match.array_with([Match.object_like({"IndexName": "byJobId"})]),
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        },
    )
    assert len(template.find_resources("AWS::DynamoDB::Table")) == 2  # exactly-once needs no idempotency table


def test_data_bucket_expires_launch_data(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Prefix": "launches/", "ExpirationInDays": 90, "Status": "Enabled"})]
                )
            }
        },
    )
