"""What a real account refuses or silently breaks, checked on the synthesized templates: alarm
delivery (the topic policy), retries after a failed first create (fixed names), IAM's inline policy
quota and CloudFormation's resource quota with many routing rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchlane.common.tenancy import LaunchData
from batchlane.deployment.config import ConfigError
from tests.support.iam_policy import allowed, listed
from tests.support.iam_policy import render as render_in

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]

ACCOUNT, REGION, PARTITION = "111122223333", "eu-west-1", "aws"
# What each kind of name property is called in the templates' resources.
NAME_PROPERTIES = ("TableName", "LogGroupName", "BucketName", "QueueName", "TopicName", "RoleName", "EventBusName")
IAM_INLINE_QUOTA = 10_240  # characters of all inline policies of one role, whitespace excluded


def render(value: Any, refs: dict[str, str]) -> Any:
    return render_in(value, refs, account=ACCOUNT, region=REGION, partition=PARTITION)


def _alarm_topic_statements(synth) -> tuple[str, list[dict]]:
    topic_id = synth.logical_id(synth.stack.operations.topic)
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{synth.config.prefix}-alarms"
    refs = {topic_id: topic_arn}
    (policy,) = [
        p for p in synth.resources("AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    return topic_arn, render(policy["Properties"]["PolicyDocument"]["Statement"], refs)


def test_cloudwatch_may_publish_this_deployments_alarms_to_the_alarm_topic(synth):
    topic_arn, statements = _alarm_topic_statements(synth)
    alarm_names = [render(a["Properties"]["AlarmName"], {}) for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    assert alarm_names
    for name in alarm_names:
        context = {
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
            "aws:SecureTransport": "true",
        }
        assert allowed(
            statements, service="cloudwatch.amazonaws.com", action="sns:Publish", resource=topic_arn, context=context
        ), name


@pytest.mark.parametrize(
    "source_arn, secure",
    [
        (f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:someone-elses-alarm", "true"),
        (f"arn:aws:cloudwatch:{REGION}:444455556666:alarm:batchlane-dev-errors-launcher", "true"),
        (f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:batchlane-dev-errors-launcher", "false"),
    ],
)
def test_other_alarms_and_plain_http_may_not_publish(dev, source_arn, secure):
    topic_arn, statements = _alarm_topic_statements(dev)
    account = source_arn.split(":")[4]
    context = {"aws:SourceAccount": account, "aws:SourceArn": source_arn, "aws:SecureTransport": secure}
    assert not allowed(
        statements, service="cloudwatch.amazonaws.com", action="sns:Publish", resource=topic_arn, context=context
    )


def test_no_resource_with_a_fixed_name_is_kept_when_its_first_create_rolls_back(synth):
    """Plain ``Retain`` keeps a resource whose own first create rolled back; its fixed name then makes
    every retry fail with "already exists". ``RetainExceptOnCreate`` does not."""
    named_and_kept = {
        logical_id: resource["Type"]
        for logical_id, resource in synth.json["Resources"].items()
        if resource.get("DeletionPolicy") == "Retain"
        and any(name in resource.get("Properties", {}) for name in NAME_PROPERTIES)
    }
    assert not named_and_kept
    kept_on_delete = [
        r["Type"] for r in synth.json["Resources"].values() if r.get("DeletionPolicy") == "RetainExceptOnCreate"
    ]
    assert sorted(set(kept_on_delete)) == ["AWS::DynamoDB::Table", "AWS::Logs::LogGroup"]


def _config_with_rules(tmp_path, rules: int):
    config = yaml.safe_load((ROOT / "config" / "dev.yaml").read_text())
    config["routingRules"] = [
        {"project": f"project{i}", "domain": "production", "workflowName": f"wf{i}", "tags": ["critical"]}
        for i in range(rules)
    ] + config["routingRules"]
    path = tmp_path / "many-rules.yaml"
    path.write_text(yaml.safe_dump({**config, "name": "many"}))
    return path


def inline_policy_sizes(template: dict) -> dict[str, int]:
    """Characters of inline policy per role (whitespace excluded, intrinsics as realistic ARNs)."""
    sizes: dict[str, int] = {}
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                sizes[logical_id] = sizes.get(logical_id, 0) + _size(policy["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Policy":
            for role in resource["Properties"].get("Roles", []):
                role_id = role["Ref"] if isinstance(role, dict) else role
                sizes[role_id] = sizes.get(role_id, 0) + _size(resource["Properties"]["PolicyDocument"])
    return sizes


def _size(document: dict) -> int:
    return len(re.sub(r"\s", "", json.dumps(render(document, {}))))


@pytest.fixture(scope="module")
def two_hundred_rules(tmp_path_factory):
    """The routing seed of a configuration with 200 rules, in a stack of its own (the seed is the only
    part whose size follows the number of rules; a whole deployment's synth would take much longer)."""
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb

    from batchlane.deployment.config import load_config
    from stacks.routing_seed import RoutingSeed

    tmp_path = tmp_path_factory.mktemp("many-rules")
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Seed")
    table = dynamodb.Table(
        stack, "Routing", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    seed = RoutingSeed(stack, "RoutingSeed", config=load_config(_config_with_rules(tmp_path, 200)), table=table)
    return seed, app.synth().get_stack_by_name("Seed").template


def test_two_hundred_routing_rules_keep_every_role_under_iams_quota(two_hundred_rules):
    seed, template = two_hundred_rules
    seeds = [r for r in template["Resources"].values() if r["Type"] == "Custom::BatchlaneRoutingSeed"]
    assert len(seeds) == len(seed.items) > 200
    sizes = inline_policy_sizes(template)
    assert sizes and max(sizes.values()) < IAM_INLINE_QUOTA, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


def test_a_stack_past_cloudformations_resource_quota_is_refused_at_synth(tmp_path, monkeypatch):
    import stacks.batchlane_stack
    from stacks.app_factory import new_app

    monkeypatch.setattr(stacks.batchlane_stack, "CLOUDFORMATION_MAX_RESOURCES", 50)
    with pytest.raises(
        ConfigError, match=r"routingRules: the stack would have \d+ resources, over CloudFormation's 50"
    ):
        new_app("fargate-existing-vpc", outdir=str(tmp_path / "out"))


# Names IAM and CloudWatch keep per account (or S3 per partition), not per region.
ACCOUNT_WIDE_NAMES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::S3::Bucket": "BucketName",
}


def test_the_same_config_name_in_two_regions_of_one_account_gets_distinct_names(synth):
    """Every account-wide name the template fixes carries the region (a name CloudFormation generates
    is unique anyway), so deploying the config to a second region cannot meet "already exists"."""
    names = [
        render(resource["Properties"][prop], {})
        for resource in synth.json["Resources"].values()
        if (prop := ACCOUNT_WIDE_NAMES.get(resource["Type"])) and prop in resource.get("Properties", {})
    ]
    assert names, "the deployment names IAM roles and a dashboard"
    region = synth.config.region
    without_region = [n for n in names if f"-{region}-" not in f"-{n}-"]
    assert not without_region
    assert len(set(names)) == len(names)


# --- the functions' grants: what their calls need, nothing more --------------------------------

BUCKET_ARN = "arn:aws:s3:::batchlane-data"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/batchlane-executions"
# The calls each function makes on the data bucket and the executions table (batchlane.launch.adapters,
# batchlane.status.adapters): (action, resource) with the resource as the evaluator renders it.
DATA = LaunchData("team", "p", "d", "id")  # the typed layout (batchlane.common.tenancy)
CALLS = {
    "launch": {("s3:PutObject", f"{BUCKET_ARN}/{k}") for k in (DATA.inputs_key, DATA.index_key)}
    | {(f"dynamodb:{a}", TABLE_ARN) for a in ("PutItem", "UpdateItem", "DeleteItem", "GetItem")},
    "status": {
        ("s3:GetObject", f"{BUCKET_ARN}/{k}") for k in (f"{DATA.children_prefix}0/outputs.json", DATA.part_key(0))
    }
    | {
        (a, f"{BUCKET_ARN}/{k}")
        for a in ("s3:PutObject", "s3:AbortMultipartUpload")
        for k in (DATA.assembled_key, DATA.part_key(0))
    }
    | {("s3:ListBucket", BUCKET_ARN), ("dynamodb:Query", f"{TABLE_ARN}/index/byJobId")}
    | {(f"dynamodb:{a}", TABLE_ARN) for a in ("Query", "GetItem", "BatchGetItem", "PutItem", "UpdateItem")},
}


def _function_statements(synth, function) -> list[dict]:
    state = synth.stack.state
    refs = {
        f"{synth.logical_id(state.bucket)}.Arn": BUCKET_ARN,
        f"{synth.logical_id(state.executions_table)}.Arn": TABLE_ARN,
    }
    role = synth.json["Resources"][synth.logical_id(function)]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in render(policy["Properties"]["PolicyDocument"]["Statement"], refs)
    ]


def _functions(synth) -> dict[str, list]:
    return {
        "launch": [synth.stack.launch.function],
        "status": [synth.stack.status.function, synth.stack.status.reconciler],
    }


def test_every_call_of_the_functions_on_their_data_is_allowed_and_a_missing_output_reads_as_absent(dev):
    for path, functions in _functions(dev).items():
        for function in functions:
            statements = _function_statements(dev, function)
            refused = [
                call
                for call in sorted(CALLS[path])
                if not allowed(statements, service=None, action=call[0], resource=call[1], context={})
            ]
            assert not refused, (path, refused)


def test_no_grant_on_the_data_goes_beyond_those_calls(dev):
    """CDK's grant helpers add legal hold, retention, tagging, GetBucket*, List* and every action on
    the table's indexes: none of it is called, so none of it may be granted."""
    for path, functions in _functions(dev).items():
        called = {action for action, _ in CALLS[path]}
        on_indexes = {action for action, resource in CALLS[path] if "/index/" in resource}
        for function in functions:
            for statement in _function_statements(dev, function):
                resources = [str(r) for r in listed(statement["Resource"])]
                if not any(r.startswith((BUCKET_ARN, TABLE_ARN)) for r in resources):
                    continue
                actions = set(listed(statement["Action"]))
                assert actions <= called, (path, sorted(actions - called))
                if any("/index/" in r for r in resources):
                    assert actions <= on_indexes, (path, sorted(actions))
