"""Tenancy in the synthesized template (docs/security.md), evaluated against the tenancy model: for
every team's policy, job role and function, which keys and items it may read and write, for
ordinary and adversarial ids (``outputs``, ``dev``, ``inputs.jsonl``, ...): a grant that crosses
teams or projects fails here."""

from __future__ import annotations

import itertools
import re
from fnmatch import fnmatchcase
from functools import cache

from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED
from batchlane.common.executions import BY_TEAM_INDEX, launch_key, team_prefix
from batchlane.common.tenancy import CHILDREN, INPUTS, OUTPUTS, PARTS, LaunchData

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


@cache
def _iam_regex(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _iam_matches(pattern: str, resource: str) -> bool:
    """IAM's resource matching: ``*`` any run of characters (slashes too), ``?`` one character."""
    return _iam_regex(pattern).fullmatch(resource) is not None


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


# Ids, projects and domains that imitate a fixed segment, a file, a typed segment or another tenant.
HOSTILE_IDS = ("L1", "outputs", "children", "inputs.jsonl", "outputs.json", "dev", "genomics", "t=genomics", "p=x")
DOMAINS = ("development", "dev", "prod")
KINDS = (INPUTS, CHILDREN, OUTPUTS, PARTS)


def _keys(teams, projects):
    """Every object key of every kind, for these teams and projects, the adversarial ids and domains."""
    for team, project, domain, launch_id in itertools.product(teams, projects, DOMAINS, HOSTILE_IDS):
        data = LaunchData(team, project, domain, launch_id)
        for kind in KINDS:
            suffix = {INPUTS: "inputs.jsonl", CHILDREN: "0/outputs.json", OUTPUTS: "outputs.json", PARTS: "000000"}
            yield team, project, kind, f"{data.prefix(kind)}{suffix[kind]}"


def test_job_roles_read_only_their_projects_inputs_and_write_only_their_children_outputs(dev):
    """Every job role, against the tenancy model, for every team, project, kind and hostile id."""
    synth = dev
    roles = {r.name: r.projects for r in synth.config.job_roles}
    teams = [t.name for t in synth.config.teams]
    projects = sorted({p for ps in roles.values() for p in ps if "*" not in p} | {"other", "dev", "outputs"})
    crossing = []
    for name, patterns in roles.items():
        statements = _flattened(synth, _role_statements(synth, synth.stack.compute.job_roles[name]))
        for _team, project, kind, key in _keys(teams, projects):
            ours = any(fnmatchcase(project, p) for p in patterns)
            for action, expected in (
                ("s3:GetObject", ours and kind == INPUTS),
                ("s3:PutObject", ours and kind == CHILDREN),
            ):
                if _statements_allow(statements, action, f"{BUCKET}/{key}") != expected:
                    crossing.append((name, action, key, expected))
    assert crossing == []


def _role_statements(synth, role) -> list[dict]:
    ref = {"Ref": synth.logical_id(role)}
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _managed(synth, name: str) -> list[dict]:
    [statements] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["ManagedPolicyName"] == name
    ]
    return statements


def _flattened(synth, statements) -> list[tuple[list[str], list[str], list[str] | None]]:
    """Each statement's actions, resources as text and LeadingKeys patterns (None: no condition)."""
    out = []
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        like = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        leading = None if like is None else (like if isinstance(like, list) else [like])
        out.append((actions, [_flat(synth, r) for r in resources], leading))
    return out


def _statements_allow(statements, action: str, resource: str, leading_key: str | None = None) -> bool:
    """Whether these (flattened) Allow statements allow ``action`` on ``resource`` (with the
    partition key ``leading_key``, for a statement conditioned on dynamodb:LeadingKeys)."""
    for actions, resources, leading in statements:
        if not any(_iam_matches(a, action) for a in actions):
            continue
        if not any(_iam_matches(r, resource) for r in resources):
            continue
        if leading is not None and (leading_key is None or not any(_iam_matches(p, leading_key) for p in leading)):
            continue
        return True
    return False


def test_a_teams_policy_reaches_only_its_own_launches_data_and_items(dev):
    """Every team's policy, for every team's keys and items, the adversarial ids included."""
    synth = dev
    teams = [t.name for t in synth.config.teams]
    table = _flat(synth, synth.resolve(synth.stack.state.executions_table.table_arn))
    crossing = []
    for team in teams:
        statements = _flattened(synth, _managed(synth, synth.config.producer_policy_name(team)))
        for owner, _, kind, key in _keys(teams, ["genomics", "flytesnacks", "dev"]):
            ours = owner == team
            for action, expected in (
                ("s3:PutObject", ours and kind == INPUTS),
                ("s3:GetObject", ours and kind in (INPUTS, OUTPUTS, CHILDREN)),
            ):
                if _statements_allow(statements, action, f"{BUCKET}/{key}") != expected:
                    crossing.append((team, action, key, expected))
        for owner, launch_id in itertools.product(teams, HOSTILE_IDS):
            pk = launch_key(owner, launch_id)
            for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"):
                if _statements_allow(statements, action, table, leading_key=pk) != (owner == team):
                    crossing.append((team, action, pk, owner == team))
            if _statements_allow(statements, "dynamodb:PutItem", table, leading_key=pk):
                crossing.append((team, "dynamodb:PutItem", pk, False))
        # `batchlane launches`: a Query of the listing index, whose partition key is the owner's prefix.
        for owner in [*teams, "platformx", "genomic"]:
            for action, index in (("dynamodb:Query", BY_TEAM_INDEX), ("dynamodb:Query", "byJobId")):
                allowed = _statements_allow(statements, action, f"{table}/index/{index}", team_prefix(owner))
                if allowed != (owner == team and index == BY_TEAM_INDEX):
                    crossing.append((team, action, index, owner, allowed))
    assert crossing == []


def test_operators_list_every_teams_launches_and_nothing_else_through_indexes(dev):
    synth = dev
    table = _flat(synth, synth.resolve(synth.stack.state.executions_table.table_arn))
    statements = _flattened(synth, _managed(synth, synth.config.account_wide_name("operator-read")))
    for team in synth.config.teams:
        assert _statements_allow(statements, "dynamodb:Query", f"{table}/index/{BY_TEAM_INDEX}", team_prefix(team.name))
    assert not _statements_allow(statements, "dynamodb:Query", f"{table}/index/byJobId")
    assert not _statements_allow(statements, "dynamodb:Scan", f"{table}/index/{BY_TEAM_INDEX}")


def test_only_the_aggregator_writes_assembled_outputs_and_parts_and_only_the_launcher_inputs(dev):
    synth = dev
    key = LaunchData("genomics", "genomics", "development", "outputs")
    aggregator, launcher = synth.stack.status.function.role, synth.stack.launch.function.role
    assert _allowed(synth, aggregator, "s3:PutObject", key.assembled_key)
    assert _allowed(synth, aggregator, "s3:GetObject", key.assembled_key)  # a rerun merges its original's
    assert _allowed(synth, aggregator, "s3:PutObject", key.part_key(0))
    assert not _allowed(synth, aggregator, "s3:PutObject", key.inputs_key)
    assert not _allowed(synth, aggregator, "s3:PutObject", f"{key.children_prefix}0/outputs.json")
    assert _allowed(synth, launcher, "s3:PutObject", key.inputs_key)
    assert not _allowed(synth, launcher, "s3:PutObject", key.assembled_key)
    for role in synth.stack.compute.job_roles.values():
        assert not _allowed(synth, role, "s3:PutObject", key.assembled_key)
        assert not _allowed(synth, role, "s3:PutObject", key.part_key(0))


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
        assert {"OwnInputs", "OwnOutputs", "OwnLaunchItems"} <= set(statements)


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
