"""LaunchService with fakes: who may launch where, with which role, from which inputs (docs/security.md)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from launch_examples import ROLE, SETTINGS, TABLE, detail

from batchlane.common.event_types import LAUNCH_REJECTED, LAUNCHED
from batchlane.common.executions import LaunchRecord, launch_key
from batchlane.common.tenancy import INPUTS, InputsLocationGrant, LaunchData, Producer, Tenancy
from batchlane.launch.service import LaunchService
from launch_fakes import FakeDefinitions, FakeInputs, FakeJobs, FakeLedger, FakeRouting, FakeSettings
from port_fakes import FakeAnnouncer, FakeCounter

OTHER_ROLE = "arn:aws:iam::123456789012:role/vision"
GENOMICS_ROLE = "arn:aws:iam::123456789012:role/genomics"  # genomics' own: its launches' default
TENANCY = Tenancy.model_validate(
    {
        "teams": [
            {
                "name": "genomics",
                "sources": ["genomics.pipelines", "genomics.cli"],
                "launch": [{"project": "genomics"}],
            },
            {"name": "vision", "sources": ["vision.pipelines"], "launch": [{"project": "vision"}]},
        ]
    }
)
TENANT_SETTINGS = dataclasses.replace(
    SETTINGS,
    producers=TENANCY,
    allowed_role_arns=frozenset({ROLE, OTHER_ROLE, GENOMICS_ROLE}),
    role_projects={ROLE: ("*",), OTHER_ROLE: ("vision",), GENOMICS_ROLE: ("genomics",)},
    inputs_locations=(InputsLocationGrant(projects=["genomics"], uri="s3://reference/cohorts/"),),
)
GENOMICS = Producer(source="genomics.pipelines", account="123456789012")
VISION = Producer(source="vision.pipelines", account="123456789012")
OWN = LaunchData("genomics", "genomics", "production", "L")  # genomics' launch L
OWN_INPUTS = f"s3://data/{OWN.prefix(INPUTS)}"


@pytest.fixture
def svc():
    return LaunchService(
        settings=FakeSettings(TENANT_SETTINGS),
        routing=FakeRouting(TABLE),
        definitions=FakeDefinitions(),
        inputs=FakeInputs(),
        jobs=FakeJobs(),
        ledger=FakeLedger(),
        announcer=FakeAnnouncer(),
        metrics=FakeCounter(),
        bucket="data",
        lease_seconds=180,
        clock=lambda: 1_800_000_000.0,
    )


def genomics(**overrides):
    return detail(project="genomics", domain="production", **overrides)


def problems(result) -> list[tuple[str, str]]:
    return [(p["field"], p["message"]) for p in result["problems"]]


def test_a_producer_launches_into_its_project_and_is_recorded_with_its_team(svc):
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "launched"
    record = svc.ledger.get(launch_key("genomics", "L"))
    assert record.producer == Producer(source="genomics.pipelines", account="123456789012", team="genomics")
    assert LaunchRecord.from_item(record.to_item()).producer == record.producer  # round trip through the item
    assert record.to_item()["pk"] == "genomics#L" and record.team == "genomics"
    assert svc.inputs.objects.keys() == {OWN.inputs_key}
    [launched] = svc.announcer.of(LAUNCHED)
    assert launched["outputsUri"] == f"s3://data/{OWN.children_prefix}" and launched["team"] == "genomics"
    tags = svc.jobs.requests[0]["tags"]
    assert (tags["batchlane:launchId"], tags["batchlane:team"]) == ("L", "genomics")


def test_another_teams_launch_under_the_same_id_is_its_own_launch(svc):
    vision = {**detail(project="vision"), "launchId": "L"}
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "launched"
    assert svc.handle(vision, VISION)["outcome"] == "launched"  # not "already used for a different request"
    ours, theirs = svc.ledger.get(launch_key("genomics", "L")), svc.ledger.get(launch_key("vision", "L"))
    assert (ours.team, theirs.team) == ("genomics", "vision") and ours.job_id != theirs.job_id
    assert ours.job_name != theirs.job_name and ours.outputs_uri != theirs.outputs_uri
    assert len(svc.inputs.objects) == 2  # neither overwrote the other's inputs
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "duplicate"  # each keeps its own answer
    assert [a["team"] for a in svc.announcer.of(LAUNCHED)] == ["genomics", "vision", "genomics"]


@pytest.mark.parametrize(
    "producer", [None, Producer(source="stranger"), VISION], ids=["no source", "unknown source", "other project"]
)
def test_a_refused_producer_writes_nothing_not_even_a_rejection(svc, producer):
    assert svc.handle(genomics(), producer)["outcome"] == "rejected"
    assert svc.ledger.rejections == {} and svc.ledger.records == {}
    [rejected] = svc.announcer.of(LAUNCH_REJECTED)
    # Only the refused producer's own client takes the answer: its team's, or none for a stranger.
    assert rejected["team"] == (None if producer is not VISION else "vision")
    # The victim's own launch under that id is then recorded and answered as if nothing had happened.
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "launched"


def test_a_teams_own_rejection_is_recorded_under_its_key_only(svc):
    assert svc.handle(genomics(retries=12), GENOMICS)["outcome"] == "rejected"
    assert list(svc.ledger.rejections) == [launch_key("genomics", "L")]


def test_a_producer_not_allowed_for_the_project_is_rejected_before_any_aws_call(svc):
    result = svc.handle(genomics(retries=12), VISION)
    assert problems(result)[0] == (
        "source",
        'producer "vision.pipelines" (account 123456789012) (team vision) '
        'may not launch into project "genomics", domain "production" '
        "(it may launch into: vision/*)",
    )
    assert [f for f, _ in problems(result)] == ["source", "retries"]  # every problem, still
    assert svc.routing.reads == 0 and svc.ledger.reads == 0  # no routing read, no record lookup
    assert svc.jobs.requests == [] and svc.inputs.objects == {} and svc.ledger.records == {}
    assert svc.announcer.of(LAUNCH_REJECTED)[0]["problems"][0]["field"] == "source"


@pytest.mark.parametrize("producer", [None, Producer(source="stranger"), Producer(source="batchlane.cli")])
def test_an_unknown_producer_is_rejected(svc, producer):
    result = svc.handle(genomics(), producer)
    assert result["outcome"] == "rejected" and problems(result)[0][0] == "source"
    assert svc.jobs.requests == []


def test_the_same_request_from_another_producer_is_not_a_duplicate(svc):
    svc.handle(genomics(), GENOMICS)
    assert svc.handle(genomics(), Producer(source="genomics.cli", account="123456789012"))["outcome"] == "rejected"
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "duplicate"
    assert len(svc.jobs.jobs) == 1


def test_a_role_of_another_project_is_rejected(svc):
    result = svc.handle(genomics(role=OTHER_ROLE), GENOMICS)
    assert problems(result) == [
        (
            "role",
            f'"{OTHER_ROLE}" is not a job role of project "genomics" '
            "(it serves projects: vision); name a role of this project",
        )
    ]
    assert svc.handle(detail(project="vision", launchId="V", role=OTHER_ROLE), VISION)["outcome"] == "launched"


def test_a_team_never_falls_back_to_a_default_role_serving_other_projects(svc):
    assert svc.handle(genomics(), GENOMICS)["outcome"] == "launched"
    [spec] = svc.definitions.registered.values()
    assert spec.job_role_arn == GENOMICS_ROLE  # genomics' own role, not the default serving every project
    svc.settings.settings = dataclasses.replace(TENANT_SETTINGS, role_projects={ROLE: ("*",)})
    [(field, message)] = problems(svc.handle(genomics(launchId="M"), GENOMICS))
    assert field == "role" and "no job role serves project" in message


def test_the_default_role_must_serve_the_project_too(svc):
    svc.settings.settings = dataclasses.replace(TENANT_SETTINGS, role_projects={ROLE: ("vision",)})
    [(field, message)] = problems(svc.handle(genomics(), GENOMICS))
    assert field == "role" and "the default role" in message


@pytest.mark.parametrize(
    "uri",
    [
        f"{OWN_INPUTS}in.jsonl",  # the launch's own inputs prefix
        "s3://reference/cohorts/2026/c1.jsonl",  # allow-listed for genomics
    ],
)
def test_inputs_location_inside_own_prefix_or_allow_listed_is_taken(svc, uri):
    assert svc.handle(genomics(inputsLocation={"uri": uri, "size": 3}), GENOMICS)["outcome"] == "launched"


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://data/{LaunchData('genomics', 'genomics', 'production', 'OTHER').inputs_key}",  # another launch's
        f"s3://data/{LaunchData('genomics', 'genomics', 'production', 'L2').inputs_key}",  # an id that starts the same
        f"s3://data/{LaunchData('vision', 'genomics', 'production', 'L').inputs_key}",  # another team's, same id
        f"s3://data/{LaunchData('genomics', 'vision', 'production', 'L').inputs_key}",  # another project's data
        f"s3://data/{OWN.children_prefix}0/outputs.json",  # its own children's outputs: not inputs
        "s3://data/launches/genomics/production/L/inputs.jsonl",  # the layout before launch keys
        "s3://reference/cohorts-other/c1.jsonl",
        "s3://elsewhere/x.jsonl",
    ],
)
def test_inputs_location_elsewhere_is_rejected(svc, uri):
    [(field, message)] = problems(svc.handle(genomics(inputsLocation={"uri": uri, "size": 3}), GENOMICS))
    assert field == "inputsLocation.uri" and OWN_INPUTS in message
    assert "s3://reference/cohorts/" in message


@pytest.mark.parametrize(
    "uri",
    [
        f"{OWN_INPUTS}../../p=vision/d=production/l=X/inputs.jsonl",  # out by dot segments
        f"{OWN_INPUTS}./inputs.jsonl",
        f"{OWN_INPUTS}/inputs.jsonl",
        "s3://reference/cohorts/../secret/c.jsonl",  # under an allow-listed location, by its string
    ],
)
def test_a_location_with_dot_or_empty_segments_is_rejected_whatever_its_prefix(svc, uri):
    [(field, message)] = problems(svc.handle(genomics(inputsLocation={"uri": uri, "size": 3}), GENOMICS))
    assert field == "inputsLocation.uri" and "segment" in message


def test_the_inputs_index_is_checked_like_the_inputs(svc):
    own = OWN_INPUTS
    other = LaunchData("vision", "vision", "production", "X").index_key
    outside = {"uri": f"{own}inputs.jsonl", "size": 3, "index": f"s3://data/{other}"}
    dotted = {"uri": f"{own}inputs.jsonl", "size": 3, "index": f"{own}../M/inputs.idx"}
    assert [f for f, _ in problems(svc.handle(genomics(inputsLocation=outside), GENOMICS))] == ["inputsLocation.index"]
    assert [f for f, _ in problems(svc.handle(genomics(inputsLocation=dotted), GENOMICS))] == ["inputsLocation.index"]
    inside = {"uri": f"{own}inputs.jsonl", "size": 3, "index": f"{own}inputs.idx"}
    assert svc.handle(genomics(inputsLocation=inside), GENOMICS)["outcome"] == "launched"


@pytest.mark.parametrize("field", ["project", "domain"])
@pytest.mark.parametrize("name", [".", ".."])
def test_a_dot_segment_cannot_name_a_project_or_domain(svc, field, name):
    launch = {**genomics(), field: name}
    assert field in [f for f, _ in problems(svc.handle(launch, GENOMICS))]


def test_inputs_allowed_for_one_project_are_not_for_another(svc):
    result = svc.handle(
        detail(project="vision", inputsLocation={"uri": "s3://reference/cohorts/c.jsonl", "size": 2}), VISION
    )
    assert [f for f, _ in problems(result)] == ["inputsLocation.uri"]


@pytest.mark.parametrize(
    "name",
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "ECS_CONTAINER_METADATA_URI",
        "aws_access_key_id",
        "BATCHLANE_OUTPUTS_URI",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ],
)
def test_reserved_environment_variables_are_refused_each_with_its_reason(svc, name):
    [(field, message)] = problems(
        svc.handle(genomics(container={"image": "busybox", "environment": {name: "x"}}), GENOMICS)
    )
    assert field == f"container.environment.{name}" and message.startswith(f"{name} is reserved: it ")


def test_every_reserved_name_is_its_own_problem_and_others_pass(svc):
    environment = {
        "AWS_SESSION_TOKEN": "forged",
        "AWS_ENDPOINT_URL_STS": "http://evil",
        "AWS_REGION": "eu-west-1",
        "PYTHONPATH": "/app",
        "LD_LIBRARY_PATH": "/usr/local/cuda/lib64",  # the image's loader: not batchlane's to guard
        "PATH": "/opt/conda/bin:/usr/bin",
        "MY_SETTING": "1",
    }
    result = svc.handle(genomics(container={"image": "busybox", "environment": environment}), GENOMICS)
    assert sorted(f for f, _ in problems(result)) == [
        "container.environment.AWS_ENDPOINT_URL_STS",
        "container.environment.AWS_SESSION_TOKEN",
    ]


def test_a_record_written_before_tenancy_reads_back_without_a_producer():
    item = {
        "launchId": "old",
        "sk": "launch",
        "state": "SUBMITTED",
        "jobName": "t",
        "queue": "q",
        "outputsUri": "s3://data/launches/old/outputs/",
    }
    assert LaunchRecord.from_item(item).producer is None


def test_the_producers_parameter_round_trips_the_config_form():
    assert Tenancy.from_json(json.dumps(TENANCY.model_dump())) == TENANCY
