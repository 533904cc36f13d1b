"""Tenancy in the synthesized template (docs/security.md): per-team producer policies with
``events:source`` conditions, and job roles scoped to their projects' launch data."""

from __future__ import annotations

import re

import pytest

from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED

BUCKET = "arn:aws:s3:::BUCKET"


def _flat(synth, value) -> str:
    """A resolved IAM resource as text, the data bucket's ARN written BUCKET."""
    bucket = {"Fn::GetAtt": [synth.logical_id(synth.stack.state.bucket), "Arn"]}
    if isinstance(value, str):
        return value
    if value == bucket:
        return BUCKET
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if "Fn::Join" in value:
        return "".join(_flat(synth, part) for part in value["Fn::Join"][1])
    return "<" + str(value) + ">"


def _iam_matches(pattern: str, resource: str) -> bool:
    """IAM's resource matching: ``*`` any run of characters (slashes too), ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, resource) is not None


def role_allows(synth, role, action: str, resource: str, flatten) -> bool:
    """Whether the role's policies allow ``action`` on ``resource`` (each statement's resources as
    text through ``flatten``)."""
    ref = {"Ref": synth.logical_id(role)}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if any(_iam_matches(a, action) for a in actions) and any(
                _iam_matches(flatten(r), resource) for r in resources
            ):
                return True
    return False


def _allowed(synth, role, action: str, key: str, bucket: str = BUCKET + "/") -> bool:
    """Whether the role's policies allow ``action`` on this object of the data bucket (or of ``bucket``)."""
    return role_allows(synth, role, action, f"{bucket}{key}", lambda r: _flat(synth, r))


@pytest.mark.parametrize(
    ("role", "own", "other"), [("genomics", "genomics", "flytesnacks"), ("flytesnacks", "flytesnacks", "genomics")]
)
def test_a_project_job_role_cannot_write_under_another_projects_prefix(dev, role, own, other):
    synth = dev
    job_role = synth.stack.compute.job_roles[role]
    output = "development/L1/outputs/0/outputs.json"
    assert _allowed(synth, job_role, "s3:PutObject", f"launches/{own}/{output}")
    assert _allowed(synth, job_role, "s3:GetObject", f"launches/{own}/development/L1/inputs.jsonl")
    assert not _allowed(synth, job_role, "s3:PutObject", f"launches/{other}/{output}")
    assert not _allowed(synth, job_role, "s3:GetObject", f"launches/{other}/development/L1/inputs.jsonl")
    # Not even in its own project may a job forge inputs or the assembled outputs.
    assert not _allowed(synth, job_role, "s3:PutObject", f"launches/{own}/development/L1/inputs.jsonl")
    assert not _allowed(synth, job_role, "s3:PutObject", f"launches/{own}/development/L1/outputs.json")


def test_a_role_reads_the_inputs_locations_allowed_for_its_projects_only(dev):
    synth = dev
    roles = synth.stack.compute.job_roles
    cohort = "genomics-reference-data/cohorts/c1.jsonl"

    assert _allowed(synth, roles["genomics"], "s3:GetObject", cohort, bucket="arn:aws:s3:::")
    assert _allowed(synth, roles["default"], "s3:GetObject", cohort, bucket="arn:aws:s3:::")  # every project
    assert not _allowed(synth, roles["flytesnacks"], "s3:GetObject", cohort, bucket="arn:aws:s3:::")
    assert not _allowed(synth, roles["genomics"], "s3:PutObject", cohort, bucket="arn:aws:s3:::")


def test_a_role_reads_and_writes_the_flyte_data_of_its_projects_only(dev):
    """flyteData (config/dev.yaml): Flyte's metadata and raw data, for flytesnacks' roles."""
    roles = dev.stack.compute.job_roles
    outputs = "metadata/flytesnacks/development/exec1/n0/data/0/0/outputs.pb"
    for action in ("s3:GetObject", "s3:PutObject"):
        assert _allowed(dev, roles["flytesnacks"], action, outputs, bucket="arn:aws:s3:::flyte-metadata/")
        assert _allowed(dev, roles["default"], action, "ab/cd/file.parquet", bucket="arn:aws:s3:::flyte-raw-data/")
        assert not _allowed(dev, roles["genomics"], action, outputs, bucket="arn:aws:s3:::flyte-metadata/")
    other_project = "metadata/genomics/development/exec1/n0/data/0/0/outputs.pb"
    assert not _allowed(dev, roles["flytesnacks"], "s3:PutObject", other_project, bucket="arn:aws:s3:::flyte-metadata/")
    assert not _allowed(dev, roles["flytesnacks"], "s3:DeleteObject", outputs, bucket="arn:aws:s3:::flyte-metadata/")


def test_each_team_has_a_producer_policy_conditioned_on_its_own_sources(synth):
    policies = {
        p["Properties"]["ManagedPolicyName"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::IAM::ManagedPolicy").values()
    }
    bus = synth.resolve(synth.stack.state.bus.event_bus_arn)
    for team in synth.config.teams:
        statements = {s["Sid"]: s for s in policies[synth.config.producer_policy_name(team.name)]}
        put = statements["PutOwnRequestsOnly"]
        assert put["Action"] == "events:PutEvents" and put["Resource"] == bus  # the bus itself, no wildcard
        sources = put["Condition"]["StringEquals"]["events:source"]
        assert sorted(sources if isinstance(sources, list) else [sources]) == sorted(team.sources)
        assert put["Condition"]["StringEquals"]["events:detail-type"] == [LAUNCH_REQUESTED, ABORT_REQUESTED]
        keys = [
            _flat(synth, r)
            for r in (
                statements["OwnProjectsLaunchData"]["Resource"]
                if isinstance(statements["OwnProjectsLaunchData"]["Resource"], list)
                else [statements["OwnProjectsLaunchData"]["Resource"]]
            )
        ]
        assert keys == [f"{BUCKET}/launches/{s.project}/{s.domain}/*" for s in team.launch]


def test_genomics_producers_cannot_put_inputs_into_another_projects_data(dev):
    synth = dev
    [statement] = [
        s
        for p in synth.resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["ManagedPolicyName"] == synth.config.producer_policy_name("genomics")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "OwnProjectsLaunchData"
    ]
    [resource] = [_flat(synth, statement["Resource"])]
    assert _iam_matches(resource, f"{BUCKET}/launches/genomics/development/L/inputs/in.jsonl")
    assert not _iam_matches(resource, f"{BUCKET}/launches/flytesnacks/development/L/inputs/in.jsonl")


def test_the_aggregator_reads_the_producers_setting(synth):
    fn = synth.logical_id(synth.stack.status.function)
    role = synth.json["Resources"][fn]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = [
        a
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert "ssm:GetParametersByPath" in actions
