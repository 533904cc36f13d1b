"""Tenancy in the synthesized template (docs/security.md), evaluated against the tenancy model: for
every team's policy, job role and function, which keys and items it may read and write, for
ordinary and adversarial ids (``outputs``, ``dev``, ``inputs.jsonl``, ...): a grant that crosses
teams or projects fails here."""

from __future__ import annotations

import re
from functools import cache

import pytest

from access_table import (
    COLUMNS,
    CONNECTOR_POLICY,
    DOC,
    ITEMS,
    READ,
    REGENERATE,
    WRITE,
    Principal,
    Universe,
    connector_policy,
    documented,
    markdown,
    reach,
)
from batchlane.common.event_types import ABORT_REQUESTED, LAUNCH_REQUESTED
from batchlane.common.tenancy import CHILDREN, INPUTS, OUTPUTS, PARTS, LaunchData
from batchlane.deployment.contract import FLYTE_CONNECTOR_SOURCE

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


@pytest.fixture(scope="module")
def reached(dev):
    """Every principal of the dev template, and what it reads and writes (tests/support/access_table.py)."""
    return reach(dev)


def _only(cells, allowed: dict[tuple[str, str], tuple]) -> list[tuple[str, str]]:
    """The (column, mode) pairs whose reach is not exactly ``allowed``'s categories (nothing when absent)."""
    return [(c, m) for c in COLUMNS for m in (READ, WRITE) if not cells[c, m].only(*allowed.get((c, m), ()))]


def test_the_security_docs_table_is_the_templates(reached):
    table = markdown(reached)
    assert documented(table) == DOC.read_text(), f"run: {REGENERATE}\n{table}"


def test_the_flyte_tests_check_the_connector_against_the_templates_policy(dev):
    """tests/flyte checks every call of the connector against this file (its venv cannot synthesize)."""
    assert CONNECTOR_POLICY.read_text() == connector_policy(dev), f"run: {REGENERATE}"


def test_job_roles_read_only_their_projects_inputs_and_write_only_their_children_outputs(reached):
    """Every job role, for every team, project, domain, kind and hostile id."""
    own = (None, True)
    roles = [(p, cells) for p, cells in reached if p.kind == "job role"]
    assert roles and all(_only(cells, {(INPUTS, READ): (own,), (CHILDREN, WRITE): (own,)}) == [] for _, cells in roles)


def test_a_teams_policy_reaches_only_its_own_launches_data_and_items(reached, dev):
    """Every team's policy, for every team's keys and items, the hostile ids included; the Flyte
    connector's team reads its launches' items only (its data is Flyte's)."""
    own = ((True, True), (True, False))
    client = {(INPUTS, READ): own, (INPUTS, WRITE): own, (CHILDREN, READ): own, (OUTPUTS, READ): own}
    connectors = {t.name for t in dev.config.teams if set(t.sources) == {FLYTE_CONNECTOR_SOURCE}}
    teams = [(p, cells) for p, cells in reached if p.kind == "team"]
    crossing = {
        p.name: _only(cells, ({} if p.team in connectors else client) | {(ITEMS, READ): ((True, None),)})
        for p, cells in teams
    }
    assert teams and connectors and crossing == {p.name: [] for p, _ in teams}


def test_a_grant_that_crosses_shows_in_the_table(dev):
    """A genomics job role granted a pattern of the layout before issue 23, ``launches/*outputs*``:
    every project's assembled outputs and children's outputs, and the inputs and parts of any
    launch whose id imitates ``outputs``."""
    crossing = {
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::batchlane-data/launches/*outputs*",
    }
    genomics = Principal("job role", "x", [crossing], projects=lambda project, _domain: project == "genomics")
    cells = Universe.of(dev).reach(genomics)
    assert str(cells[OUTPUTS, WRITE]) == str(cells[CHILDREN, WRITE]) == "all"
    for kind in (INPUTS, PARTS):
        assert str(cells[kind, WRITE]) == "some keys of other projects, some keys of own projects"
        assert not cells[kind, WRITE].only()
    assert str(cells[INPUTS, READ]) == "—" and cells[INPUTS, READ].only()


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
        connector = set(team.sources) == {FLYTE_CONNECTOR_SOURCE}
        client = set() if connector else {"OwnInputs", "OwnOutputs", "ListOwnLaunches"}
        assert {"OwnLaunchItems"} | client == set(statements) - {"PutOwnRequestsOnly"}


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


def test_a_team_lists_only_its_own_launches_and_operators_every_teams(reached, dev):
    """`batchlane launches`: a Query of the listing index, whose partition key is a team's prefix."""
    universe = Universe.of(dev)
    listers = {p.name: [t for t in universe.teams if universe.lists(p, t)] for p, _ in reached}
    for team in dev.config.teams:
        connector = set(team.sources) == {FLYTE_CONNECTOR_SOURCE}
        assert listers[f"`{team.name}` (`producer-{team.name}`)"] == ([] if connector else [team.name])
    operator = next(name for name in listers if "operator-read" in name)
    assert listers[operator] == universe.teams
