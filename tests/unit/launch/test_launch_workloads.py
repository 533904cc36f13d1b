"""The jobs real workloads need (issue 28): secrets, in the contract, the plan and Batch's API shapes."""

from __future__ import annotations

import dataclasses

import botocore.session
import pytest
from botocore.validate import ParamValidator
from launch_examples import SETTINGS, TABLE, detail

from batchlane.common.secrets import SecretAccess, value_from
from batchlane.common.settings import Settings
from batchlane.common.volumes import VolumeGrant
from batchlane.launch.planner import plan_launch
from batchlane.launch.validation import validate
from batchlane.routing import decide
from batchlane.sandbox import batch_rules

EXEC_GENOMICS = "arn:aws:iam::123456789012:role/exec-genomics"
SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
GRANTS = (
    SecretAccess(
        name="genomics",
        projects=["genomics"],
        valueFrom=["ssm:/genomics/*", f"secretsmanager:{SM}:genomics/*"],
        executionRoleArn=EXEC_GENOMICS,
    ),
    SecretAccess(name="shared", projects=["*"], valueFrom=["ssm:/shared/*"], executionRoleArn=EXEC_GENOMICS + "2"),
)
VOLUMES = (
    VolumeGrant.model_validate(
        {
            "name": "reference",
            "projects": ["genomics"],
            "readOnly": True,
            "efs": {"fileSystemId": "fs-0123456789abcdef0"},
        }
    ),
    VolumeGrant.model_validate(
        {
            "name": "scratch",
            "projects": ["*"],
            "efs": {"fileSystemId": "fs-00000000aaaaaaaa1", "accessPointId": "fsap-0123456789abcdef0"},
        }
    ),
)
WITH_SECRETS = dataclasses.replace(SETTINGS, secrets_allowed=GRANTS, volumes=VOLUMES)
BATCH = botocore.session.get_session().get_service_model("batch")


def api_problems(operation: str, params: dict) -> str:
    """What botocore's own validation of Batch's service model says of a request ('' when none)."""
    report = ParamValidator().validate(params, BATCH.operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else ""


def planned(launch: dict, settings: Settings = WITH_SECRETS):
    request, role, problems = validate(launch, settings)
    assert problems == []
    plan, problems = plan_launch(request, role, decide(TABLE, "p", "d", "w", key="L"), settings, "bucket")
    assert problems == [] and plan is not None
    return plan


def problems_of(launch: dict, settings: Settings = WITH_SECRETS) -> list[tuple[str, str]]:
    request, _, problems = validate(launch, settings)
    assert request is None
    return [(p.field, p.message) for p in problems]


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("ssm:/genomics/db/password", "/genomics/db/password"),
        (f"secretsmanager:{SM}:genomics/api-AbCdEf", f"{SM}:genomics/api-AbCdEf"),
        (f"secretsmanager:{SM}:genomics/api-AbCdEf:token", f"{SM}:genomics/api-AbCdEf:token::"),
    ],
)
def test_a_secret_reference_becomes_batchs_value_from(reference, expected):
    assert value_from(reference) == expected


def test_secrets_live_in_the_job_definition_with_the_grants_execution_role():
    secrets = {"DB_PASSWORD": "ssm:/genomics/db", "API_TOKEN": f"secretsmanager:{SM}:genomics/api-AbCdEf:token"}
    plan = planned(detail(project="genomics", container={"image": "busybox", "secrets": secrets}))
    register = plan.definition.register_request()
    assert register["containerProperties"]["secrets"] == [
        {"name": "API_TOKEN", "valueFrom": f"{SM}:genomics/api-AbCdEf:token::"},
        {"name": "DB_PASSWORD", "valueFrom": "/genomics/db"},
    ]
    assert register["containerProperties"]["executionRoleArn"] == EXEC_GENOMICS
    submit = plan.submit_request("def")
    assert "secrets" not in submit["containerOverrides"]  # SubmitJob cannot carry secrets
    assert api_problems("RegisterJobDefinition", register) == ""
    assert api_problems("SubmitJob", submit) == ""
    # Secrets change the definition; without them a launch keeps the deployment's execution role.
    plain = planned(detail(project="genomics")).definition
    assert plain.name != plan.definition.name and plain.execution_role_arn == SETTINGS.execution_role_arn


def test_every_secret_problem_is_listed_in_one_rejection():
    secrets = {
        "OTHER": "ssm:/vision/key",  # not allowed for genomics
        "BAD": "vault:/x",  # not a reference
        "AWS_BATCH_JOB_ID": "ssm:/genomics/p",  # reserved name
        "DUP": "ssm:/genomics/dup",  # also a plain variable
    }
    launch = detail(project="genomics", container={"image": "busybox", "environment": {"DUP": "1"}, "secrets": secrets})
    found = dict(problems_of(launch))
    assert set(found) == {
        "container.secrets.OTHER",
        "container.secrets.BAD",
        "container.secrets.AWS_BATCH_JOB_ID",
        "container.secrets.DUP",
    }
    assert "not a secret project" in found["container.secrets.OTHER"]
    assert "ssm:/genomics/*" in found["container.secrets.OTHER"]
    assert "is not a secret reference" in found["container.secrets.BAD"]
    assert "reserved" in found["container.secrets.AWS_BATCH_JOB_ID"]
    assert "also set in container.environment" in found["container.secrets.DUP"]


def test_secrets_of_two_grants_are_refused_and_no_grant_means_no_secrets():
    launch = detail(
        project="genomics", container={"image": "busybox", "secrets": {"A": "ssm:/genomics/a", "B": "ssm:/shared/b"}}
    )
    assert [f for f, _ in problems_of(launch)] == ["container.secrets"]
    one = detail(container={"image": "busybox", "secrets": {"A": "ssm:/shared/a"}})
    assert "allowed: none" in problems_of(one, SETTINGS)[0][1]


def test_secrets_allowed_is_read_from_its_ssm_parameter():
    text = '[{"name": "g", "projects": ["genomics"], "valueFrom": ["ssm:/g/*"], "executionRoleArn": "%s"}]'
    settings = Settings.from_parameters({"secrets-allowed": text % EXEC_GENOMICS})
    assert settings.secrets_allowed[0].allows("ssm:/g/db") and not settings.secrets_allowed[0].allows("ssm:/h/db")
    with pytest.raises(ValueError, match="secrets-allowed"):
        Settings.from_parameters({"secrets-allowed": '[{"name": "g", "projects": ["g"], "valueFrom": ["vault:x"]}]'})


TRAINING = {
    "image": "busybox",
    "resources": {"memory": 16384},
    "sharedMemoryMiB": 8192,
    "tmpfs": [{"path": "/scratch", "sizeMiB": 1024, "mountOptions": ["rw", "noexec"]}],
    "ulimits": {"nofile": {"soft": 65536, "hard": 65536}, "memlock": {"soft": 0, "hard": 2147483647}},
    "initProcessEnabled": True,
    "mounts": [{"volume": "reference", "path": "/ref", "readOnly": True}, {"volume": "scratch", "path": "/work"}],
}


def test_mounts_and_linux_parameters_live_in_the_job_definition_as_batch_takes_them():
    plan = planned(detail(project="genomics", container=TRAINING))
    register = plan.definition.register_request()
    properties = register["containerProperties"]
    assert properties["linuxParameters"] == {
        "sharedMemorySize": 8192,
        "tmpfs": [{"containerPath": "/scratch", "size": 1024, "mountOptions": ["rw", "noexec"]}],
        "initProcessEnabled": True,
    }
    assert properties["ulimits"] == [
        {"name": "memlock", "softLimit": 0, "hardLimit": 2147483647},
        {"name": "nofile", "softLimit": 65536, "hardLimit": 65536},
    ]
    assert properties["volumes"] == [
        {
            "name": "reference",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-0123456789abcdef0",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"iam": "ENABLED"},
            },
        },
        {
            "name": "scratch",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-00000000aaaaaaaa1",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"iam": "ENABLED", "accessPointId": "fsap-0123456789abcdef0"},
            },
        },
    ]
    assert properties["mountPoints"] == [
        {"sourceVolume": "reference", "containerPath": "/ref", "readOnly": True},
        {"sourceVolume": "scratch", "containerPath": "/work", "readOnly": False},
    ]
    assert api_problems("RegisterJobDefinition", register) == ""
    assert api_problems("SubmitJob", plan.submit_request("def")) == ""
    assert batch_rules.definition_problems(register) == []  # what Batch refuses beyond the API's shapes


def test_ec2_only_parameters_route_to_ec2_and_are_refused_on_fargate():
    from batchlane.launch.planner import routing_needs

    request, _, _ = validate(detail(project="genomics", container=TRAINING), WITH_SECRETS)
    assert routing_needs(request).platform == "EC2"
    fargate = {**TRAINING, "platform": "FARGATE", "resources": {"vcpu": 4, "memory": 16384}}
    found = dict(problems_of(detail(project="genomics", container=fargate)))
    assert {f for f in found if "Fargate" in found[f]} == {
        "container.sharedMemoryMiB",
        "container.tmpfs",
        "container.ulimits",
    }


def test_every_refused_mount_and_parameter_is_named_in_one_rejection():
    container = {
        "image": "busybox",
        "privileged": True,
        "devices": [{"hostPath": "/dev/fuse"}],
        "sharedMemoryMiB": 4096,  # above the default 2048 MiB of memory
        "ulimits": {"rtprio": {"soft": 1, "hard": 1}},
        "mounts": [
            {"volume": "reference", "path": "/ref"},  # a read-only volume mounted writable
            {"volume": "secret-data", "path": "/data"},  # not declared
            {"volume": "scratch", "path": "/ref"},  # the same path twice
            {"volume": "scratch", "path": "/h", "hostPath": "/etc"},
        ],
    }
    found = dict(problems_of(detail(project="genomics", container=container)))
    assert found["container.privileged"].startswith("refused: batchlane never runs a privileged container")
    assert found["container.devices"].startswith("refused: host devices")
    assert found["container.mounts[3].hostPath"].startswith("refused: host paths")
    assert "at most the container's memory" in found["container.sharedMemoryMiB"]
    assert "'nofile', 'memlock', 'stack', 'core' or 'nproc'" in found["container.ulimits.rtprio"]
    assert "volume reference is read-only" in found["container.mounts[0].readOnly"]
    assert "is not a volume project" in found["container.mounts[1].volume"]
    assert "mounted twice" in found["container.mounts[2].path"]


def test_a_ulimit_keeps_soft_within_hard_and_hard_within_the_documented_maximum():
    ulimits = {"nofile": {"soft": 10, "hard": 5}, "nproc": {"soft": 1, "hard": 2_000_000}}
    [(field, message)] = problems_of(detail(container={"image": "busybox", "ulimits": ulimits}))
    assert field == "container.ulimits"
    assert message == "nofile: soft 10 is above hard 5; nproc: at most 1048576"


def test_an_arm64_launch_routes_only_to_a_queue_with_arm64_instances():
    from batchlane.deployment.capabilities import environment_capabilities, queue_capabilities
    from batchlane.launch.planner import routing_needs
    from batchlane.routing import Queue, RoutingTable, Rule

    def caps(*types):
        return queue_capabilities([environment_capabilities(False, list(types), 256, False)])

    table = RoutingTable(
        (
            Queue("intel", ("default",), capabilities=caps("m6i")),
            Queue("graviton", ("default",), capabilities=caps("m7g")),
        ),
        (Rule("0001", ("default",)),),
    )
    for launch_id in ("a", "b", "c", "d"):
        arm, _, _ = validate(
            detail(launchId=launch_id, container={"image": "busybox", "architecture": "ARM64"}), SETTINGS
        )
        intel, _, _ = validate(
            detail(launchId=launch_id, container={"image": "busybox", "architecture": "X86_64"}), SETTINGS
        )
        assert decide(table, "p", "d", "w", key=launch_id, needs=routing_needs(arm)).queue == "graviton"
        assert decide(table, "p", "d", "w", key=launch_id, needs=routing_needs(intel)).queue == "intel"


def test_fargate_gets_its_architecture_and_storage_in_the_definition_and_ec2_refuses_storage():
    container = {"image": "busybox", "platform": "FARGATE", "architecture": "ARM64", "ephemeralStorageGiB": 50}
    register = planned(detail(container=container)).definition.register_request()
    assert register["containerProperties"]["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": "ARM64",
    }
    assert register["containerProperties"]["ephemeralStorage"] == {"sizeInGiB": 50}
    assert api_problems("RegisterJobDefinition", register) == "" and batch_rules.definition_problems(register) == []
    refused = detail(container={"image": "busybox", "platform": "EC2", "ephemeralStorageGiB": 50})
    assert [f for f, _ in problems_of(refused)] == ["container.ephemeralStorageGiB"]
    assert [f for f, _ in problems_of(detail(container={"image": "busybox", "ephemeralStorageGiB": 20}))] == [
        "container.ephemeralStorageGiB"
    ]


def test_a_queue_items_architectures_round_trip_and_a_bad_one_is_named():
    from batchlane.routing import Capabilities, Queue
    from batchlane.routing.items import MalformedItem, queue_from_item, queue_item

    queue = Queue("q", ("default",), capabilities=Capabilities("EC2", architectures=("ARM64",)))
    assert queue_from_item("q", queue_item(queue)).capabilities.architectures == ("ARM64",)
    with pytest.raises(MalformedItem, match="capabilities.architectures must be a list of X86_64, ARM64"):
        queue_from_item("q", {"attributes": ["a"], "capabilities": {"architectures": ["SPARC"]}})
