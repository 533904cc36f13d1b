"""Compute, job queues, roles and the job log group, on the synthesized templates of every config."""

from __future__ import annotations

import pytest
from aws_cdk import Aws

from batchlane.common.tenancy import CHILDREN, INPUTS, project_key_pattern

pytestmark = pytest.mark.infra

ECS_TASKS = "ecs-tasks.amazonaws.com"


def _ce_by_logical_id(synth) -> dict[str, str]:
    """logical id of each compute environment -> its config name."""
    return {synth.logical_id(env): name for name, env in synth.stack.compute.compute_environments.items()}


def test_one_job_queue_per_configured_queue_with_its_priority_and_ordered_compute(synth):
    queues = synth.resources("AWS::Batch::JobQueue")
    by_name = {q["Properties"]["JobQueueName"]: q["Properties"] for q in queues.values()}
    assert set(by_name) == {synth.config.queue_name(q) for q in synth.config.job_queues}
    ce_names = _ce_by_logical_id(synth)
    for q in synth.config.job_queues:
        props = by_name[synth.config.queue_name(q)]
        assert props["Priority"] == q.priority
        order = sorted(props["ComputeEnvironmentOrder"], key=lambda o: o["Order"])
        assert [o["Order"] for o in order] == list(range(1, len(order) + 1))
        assert [ce_names[o["ComputeEnvironment"]["Fn::GetAtt"][0]] for o in order] == q.compute_environments
        assert props["State"] == "ENABLED"


def test_dev_queues_match_the_seed_guide(dev):
    by_name = {q["Properties"]["JobQueueName"]: q["Properties"] for q in dev.resources("AWS::Batch::JobQueue").values()}
    assert by_name["batchlane-dev-critical"]["Priority"] > by_name["batchlane-dev-gpu_dynamic"]["Priority"]
    assert by_name["batchlane-dev-gpu_dynamic"]["Priority"] > by_name["batchlane-dev-default"]["Priority"]


def test_compute_environment_kinds(synth):
    envs = {synth.logical_id(env): name for name, env in synth.stack.compute.compute_environments.items()}
    resources = synth.resources("AWS::Batch::ComputeEnvironment")
    assert set(resources) == set(envs)
    kinds = {ce.name: ce for ce in synth.config.compute_environments}
    expected_type = {
        ("ec2", "on-demand"): "EC2",
        ("gpu", "on-demand"): "EC2",
        ("ec2", "spot"): "SPOT",
        ("gpu", "spot"): "SPOT",
        ("fargate", "on-demand"): "FARGATE",
        ("fargate", "spot"): "FARGATE_SPOT",
    }
    for logical_id, resource in resources.items():
        ce = kinds[envs[logical_id]]
        props = resource["Properties"]
        assert props["Type"] == "managed"
        cr = props["ComputeResources"]
        assert cr["Type"] == expected_type[(ce.kind.value, ce.purchase_option.value)]
        assert cr["MaxvCpus"] == ce.max_vcpus
        # Batch's service-linked role, not a role carrying the broad AWSBatchServiceRole policy
        assert "ServiceRole" not in props
        assert cr["SecurityGroupIds"] and cr["Subnets"]
        if ce.kind.is_fargate:
            assert "InstanceTypes" not in cr and "Ec2Configuration" not in cr
            continue
        assert cr["MinvCpus"] == ce.min_vcpus
        assert "LaunchTemplate" in cr
        image = cr["Ec2Configuration"][0]["ImageType"]
        if ce.kind.value == "gpu":
            assert image.endswith("_NVIDIA")
            assert cr["InstanceTypes"] == (ce.instance_types or ["g5"])
        else:
            assert not image.endswith("_NVIDIA")
        if ce.spot:
            assert cr["AllocationStrategy"].startswith("SPOT_")


def test_dev_gpu_compute_uses_g5_and_the_gpu_ami(dev):
    gpu = dev.logical_id(dev.stack.compute.compute_environments["gpu"])
    cr = dev.json["Resources"][gpu]["Properties"]["ComputeResources"]
    assert cr["InstanceTypes"] == ["g5"]
    assert cr["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]


def test_dev_spot_compute_uses_the_configured_allocation_strategy(dev):
    spot = dev.logical_id(dev.stack.compute.compute_environments["spot"])
    cr = dev.json["Resources"][spot]["Properties"]["ComputeResources"]
    assert cr["Type"] == "SPOT" and cr["AllocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"


def test_instances_require_imdsv2_and_encrypted_volumes(dev):
    (template,) = dev.resources("AWS::EC2::LaunchTemplate").values()
    data = template["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert all(d["Ebs"]["Encrypted"] for d in data["BlockDeviceMappings"])


def test_compute_security_groups_allow_no_inbound_traffic(synth):
    for group in synth.resources("AWS::EC2::SecurityGroup").values():
        assert not group["Properties"].get("SecurityGroupIngress")
    assert not synth.resources("AWS::EC2::SecurityGroupIngress")


def test_new_vpc_has_flow_logs_and_an_s3_endpoint(dev):
    assert len(dev.resources("AWS::EC2::VPC")) == 1
    assert len(dev.resources("AWS::EC2::FlowLog")) == 1
    endpoints = dev.resources("AWS::EC2::VPCEndpoint").values()
    assert any(e["Properties"].get("VpcEndpointType") == "Gateway" for e in endpoints)


def test_existing_vpc_is_used_by_id_without_lookups(fargate):
    existing = fargate.config.network.existing_vpc
    assert not fargate.resources("AWS::EC2::VPC")
    assert not fargate.resources("AWS::EC2::Subnet")
    for env in fargate.resources("AWS::Batch::ComputeEnvironment").values():
        assert env["Properties"]["ComputeResources"]["Subnets"] == existing.subnet_ids
    (group,) = fargate.resources("AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["VpcId"] == existing.vpc_id


def test_fair_share_and_runnable_time_limit(fargate):
    queues = {
        q["Properties"]["JobQueueName"]: q["Properties"] for q in fargate.resources("AWS::Batch::JobQueue").values()
    }
    ((policy_id, policy),) = fargate.resources("AWS::Batch::SchedulingPolicy").items()
    shared = queues["batchlane-fargate-shared"]
    assert shared["SchedulingPolicyArn"] == {"Fn::GetAtt": [policy_id, "Arn"]}
    fair = policy["Properties"]["FairsharePolicy"]
    assert fair["ShareDecaySeconds"] == 3600 and fair["ComputeReservation"] == 10
    assert {s["ShareIdentifier"]: s["WeightFactor"] for s in fair["ShareDistribution"]} == {"team_a": 1, "team_b": 2}
    actions = queues["batchlane-fargate-default"]["JobStateTimeLimitActions"]
    assert {a["Reason"] for a in actions} == {
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    }
    assert all(a["State"] == "RUNNABLE" and a["Action"] == "CANCEL" and a["MaxTimeSeconds"] == 3600 for a in actions)
    assert "JobStateTimeLimitActions" not in queues["batchlane-fargate-critical"]


# ---- roles ------------------------------------------------------------------------------------
def _trust(role: dict) -> list[dict]:
    return role["Properties"]["AssumeRolePolicyDocument"]["Statement"]


def test_job_roles_and_execution_role_trust_ecs_tasks_from_this_account_only(synth):
    compute = synth.stack.compute
    roles = synth.resources("AWS::IAM::Role")
    expected_names = {synth.config.job_role_name(r) for r in synth.config.job_roles} | {
        synth.config.execution_role_name
    }
    for role in [*compute.job_roles.values(), compute.execution_role]:
        resource = roles[synth.logical_id(role)]
        assert resource["Properties"]["RoleName"] in expected_names
        (statement,) = _trust(resource)
        assert statement == {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": ECS_TASKS},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }


def test_only_job_and_execution_roles_trust_ecs_tasks(synth):
    compute = synth.stack.compute
    ours = {
        synth.logical_id(r)
        for r in [*compute.job_roles.values(), compute.execution_role, *compute.secrets_execution_roles.values()]
    }
    trusting = {
        logical_id
        for logical_id, role in synth.resources("AWS::IAM::Role").items()
        if any(s.get("Principal", {}).get("Service") == ECS_TASKS for s in _trust(role))
    }
    assert trusting == ours


def _statements_of(synth, role) -> list[dict]:
    ref = {"Ref": synth.logical_id(role)}
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_job_roles_read_and_write_launch_data_only(synth):
    """Per project (docs/security.md; what each role may touch: tests/infrastructure/test_tenancy_iam.py)."""
    bucket = {"Fn::GetAtt": [synth.logical_id(synth.stack.state.bucket), "Arn"]}
    for name, role in synth.stack.compute.job_roles.items():
        projects = next(r.projects for r in synth.config.job_roles if r.name == name)
        # Volume mounts and Flyte's data have their own tests (test_workloads_infra, test_tenancy_iam).
        others = ("MountVolume", "ReadWriteFlyteData", "ListFlyteData")
        statements = {s["Sid"]: s for s in _statements_of(synth, role) if not s["Sid"].startswith(others)}
        assert set(statements) <= {"ReadProjectInputs", "WriteProjectChildOutputs", "ReadAllowedInputsLocations"}
        keys = {
            sid: [
                r["Fn::Join"][1][1]
                for r in _as_list(s["Resource"])
                if "Fn::Join" in r and r["Fn::Join"][1][0] == bucket
            ]
            for sid, s in statements.items()
        }
        assert keys["ReadProjectInputs"] == [f"/{project_key_pattern(INPUTS, p)}" for p in projects]
        assert keys["WriteProjectChildOutputs"] == [f"/{project_key_pattern(CHILDREN, p)}" for p in projects]
        assert statements["WriteProjectChildOutputs"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_job_role_managed_policies_come_from_the_config(fargate):
    role = fargate.json["Resources"][fargate.logical_id(fargate.stack.compute.job_roles["analytics"])]
    arns = role["Properties"]["ManagedPolicyArns"]
    assert arns == [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonAthenaFullAccess"]]}]


def test_execution_role_pulls_images_and_writes_the_job_log_group_only(synth):
    compute = synth.stack.compute
    statements = _statements_of(synth, compute.execution_role)
    actions = sorted(a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert actions == sorted(
        [
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
    logs = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert logs[0]["Resource"] == {"Fn::GetAtt": [synth.logical_id(compute.log_group), "Arn"]}


def _pass_role_statements(synth) -> list[tuple[str, dict]]:
    found = []
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a in ("iam:PassRole", "iam:*", "*") for a in actions):
                found.append((logical_id, statement))
    return found


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_passable_roles_are_the_job_roles_the_execution_role_and_the_allow_list(synth):
    compute = synth.stack.compute
    expected = [compute.job_roles[r.name].role_arn for r in synth.config.job_roles]
    expected += [compute.execution_role.role_arn]
    expected += [compute.secrets_execution_roles[g.name].role_arn for g in synth.config.secrets_allowed]
    expected += synth.config.allowed_roles_in(Aws.ACCOUNT_ID, Aws.PARTITION)
    assert compute.passable_role_arns == expected
    # a bare name in allowedRoleArns is a role of the account deployed to
    assert all(synth.resolve(arn) != name for arn in expected for name in synth.config.allowed_role_arns)


def test_the_launcher_may_pass_exactly_the_passable_roles(synth):
    statements = _pass_role_statements(synth)
    assert statements, "nobody may iam:PassRole: the launcher cannot register job definitions"
    expected = [synth.resolve(arn) for arn in synth.stack.compute.passable_role_arns]
    granted = [r for _, s in statements for r in _as_list(s["Resource"])]
    assert "*" not in granted
    assert sorted(map(str, granted)) == sorted(map(str, expected))
    for _, statement in statements:
        assert statement["Effect"] == "Allow" and _as_list(statement["Action"]) == ["iam:PassRole"]
    # only the launcher's role holds it
    launcher_role = {"Ref": synth.logical_id(synth.stack.launch.function.role)}
    holders = {logical_id for logical_id, _ in statements}
    for logical_id in holders:
        assert synth.json["Resources"][logical_id]["Properties"]["Roles"] == [launcher_role]


def test_default_role_resolves_to_the_configured_role(synth):
    compute = synth.stack.compute
    if synth.config.default_role in compute.job_roles:
        assert compute.default_role_arn == compute.job_roles[synth.config.default_role].role_arn
    else:
        assert compute.default_role_arn == synth.config.default_role


def test_job_log_group_name_and_retention(synth):
    compute = synth.stack.compute
    group = synth.json["Resources"][synth.logical_id(compute.log_group)]
    assert group["Properties"]["LogGroupName"] == f"/aws/batch/{synth.config.prefix}"
    assert group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"  # kept, but not after its own failed create
