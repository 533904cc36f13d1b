"""The tenancy rules (batchlane.common.tenancy) and their SSM parameters, pure."""

from __future__ import annotations

import json

import pytest

from batchlane.common.executions import launch_key, split_launch_key, team_prefix
from batchlane.common.settings import Settings
from batchlane.common.tenancy import CHILDREN, DATA_KINDS, INPUTS, LaunchData, Producer, Tenancy

TEAMS = {
    "teams": [
        {"name": "platform", "sources": ["flyte.propeller"], "launch": [{"project": "*"}], "abort": "any"},
        {
            "name": "genomics",
            "sources": ["genomics.pipelines", "genomics.cli"],
            "account": "111111111111",
            "launch": [{"project": "genomics*", "domain": "production"}, {"project": "shared"}],
        },
        {"name": "vision", "sources": ["vision.pipelines"], "launch": [{"project": "vision"}]},
    ]
}
TENANCY = Tenancy.from_json(json.dumps(TEAMS))
GENOMICS = Producer(source="genomics.pipelines", account="111111111111")
VISION = Producer(source="vision.pipelines", account="222222222222")
PLATFORM = Producer(source="flyte.propeller")


@pytest.mark.parametrize(
    ("producer", "project", "domain"),
    [
        (GENOMICS, "genomics", "production"),
        (GENOMICS, "genomics-rna", "production"),
        (GENOMICS, "shared", "dev"),
        (Producer(source="genomics.cli", account="111111111111"), "shared", "x"),
        (PLATFORM, "anything", "at-all"),
        (VISION, "vision", "development"),
    ],
)
def test_a_team_may_launch_where_its_patterns_match(producer, project, domain):
    assert TENANCY.launch_problem(producer, project, domain) is None


def test_a_team_may_not_launch_elsewhere_and_the_problem_names_producer_and_place():
    problem = TENANCY.launch_problem(GENOMICS, "vision", "production")
    assert problem == (
        'producer "genomics.pipelines" (account 111111111111) (team genomics) may not launch into '
        'project "vision", domain "production" (it may launch into: genomics*/production, shared/*)'
    )
    assert TENANCY.launch_problem(GENOMICS, "genomics", "development") is not None  # the domain matters too


def test_patterns_are_case_sensitive():
    assert TENANCY.launch_problem(VISION, "Vision", "d") is not None


def test_an_unknown_source_or_account_or_none_is_nobody():
    assert "not a source of any team" in TENANCY.launch_problem(Producer(source="x.y"), "vision", "d")
    assert "account 111111111111 only" in TENANCY.launch_problem(
        Producer(source="genomics.pipelines", account="999999999999"), "genomics", "production"
    )
    assert "carries no source" in TENANCY.launch_problem(None, "vision", "d")
    assert "not a source" in TENANCY.abort_problem(Producer(source="x.y"), GENOMICS, "genomics", "production")


def test_without_teams_everyone_may_launch_anywhere_and_abort_anything():
    open_ = Tenancy()
    assert open_.launch_problem(Producer(source="anyone"), "p", "d") is None
    assert open_.launch_problem(None, "p", "d") is None
    assert open_.abort_problem(Producer(source="anyone"), GENOMICS, "p", "d") is None


def test_aborts_only_by_the_launching_team_or_an_admin_team():
    launched = TENANCY.identify(GENOMICS)[0]
    assert launched.team == "genomics"
    assert TENANCY.abort_problem(Producer(source="genomics.cli", account="111111111111"), launched, "g", "d") is None
    assert TENANCY.abort_problem(PLATFORM, launched, "g", "d") is None
    problem = TENANCY.abort_problem(VISION, launched, "genomics", "production")
    assert problem.startswith(
        'producer "vision.pipelines" (account 222222222222) (team vision) may not abort it: '
        "it was launched by 'genomics.pipelines' (team genomics)"
    )


def test_a_launch_recorded_before_tenancy_may_be_aborted_by_a_team_of_its_project():
    assert TENANCY.abort_problem(VISION, None, "vision", "development") is None
    assert "before producers were recorded" in TENANCY.abort_problem(VISION, None, "genomics", "production")


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ([{"name": "a", "sources": ["s"]}, {"name": "a", "sources": ["t"]}], "team name 'a' is used twice"),
        ([{"name": "a", "sources": ["s"]}, {"name": "b", "sources": ["s"]}], "source 's' belongs to two teams"),
        ([{"name": "a", "sources": ["batchlane"]}], "reserved"),
        ([{"name": "a", "sources": ["aws.batch"]}], "reserved"),
        ([{"name": "a", "sources": ["my.*"]}], "String should match pattern"),
        ([{"name": "a", "sources": []}], "at least 1 item"),
        ([{"name": "a", "sources": ["s"], "launch": [{"project": "a/b"}]}], "String should match pattern"),
        ([{"name": "a", "sources": ["s"], "abort": "all"}], "'own' or 'any'"),
        ([{"name": "a", "sources": ["s"], "admin": True}], "Extra inputs are not permitted"),
    ],
)
def test_a_bad_producers_parameter_names_what_is_wrong(teams, message):
    with pytest.raises(ValueError, match="SSM parameter producers") as caught:
        Settings.from_parameters({"producers": json.dumps({"teams": teams})})
    assert message in str(caught.value)


def test_role_projects_and_inputs_locations_parameters():
    settings = Settings.from_parameters(
        {
            "job-role-projects": json.dumps({"arn:r1": ["genomics"], "arn:r2": ["*"]}),
            "inputs-locations": json.dumps([{"projects": ["genomics"], "uri": "s3://ref-data/cohorts/"}]),
        }
    )
    assert settings.role_serves("arn:r1", "genomics") and not settings.role_serves("arn:r1", "vision")
    assert settings.role_serves("arn:r2", "vision")
    assert not settings.role_serves("arn:unmapped", "genomics")  # listed roles only, once the parameter exists
    assert Settings().role_serves("arn:anything", "any")  # no parameter: a deployment before tenancy
    [grant] = settings.inputs_locations
    assert grant.covers("genomics", "s3://ref-data/cohorts/c1.jsonl")
    assert not grant.covers("vision", "s3://ref-data/cohorts/c1.jsonl")
    assert not grant.covers("genomics", "s3://ref-data/cohorts-evil/c1.jsonl")
    with pytest.raises(ValueError, match="SSM parameter inputs-locations"):
        Settings.from_parameters({"inputs-locations": json.dumps([{"projects": ["g"], "uri": "s3://b/no-slash"}])})


def test_launch_keys_are_scoped_by_team_and_an_id_cannot_reach_past_its_segment():
    assert launch_key("genomics", "L1") == "genomics#L1"
    assert launch_key("genomics", "L1") != launch_key("vision", "L1")
    assert launch_key(None, "L1") == "_#L1"  # a deployment without teams
    for hostile in ("a#b", "a/b", "x%23y", "outputs", "vision#L1"):
        pk = launch_key("genomics", hostile)
        assert pk.startswith(team_prefix("genomics")) and pk.count("#") == 1 and "/" not in pk
        assert split_launch_key(pk) == ("genomics", hostile)


def test_launch_data_keys_are_typed_so_no_value_can_imitate_a_fixed_segment():
    data = LaunchData("genomics", "genomics", "production", "L1")
    assert data.inputs_key == "launches/inputs/t=genomics/p=genomics/d=production/l=L1/inputs.jsonl"
    assert data.children_prefix == "launches/children/t=genomics/p=genomics/d=production/l=L1/"
    assert data.assembled_key == "launches/outputs/t=genomics/p=genomics/d=production/l=L1/outputs.json"
    assert data.part_key(3) == "launches/parts/t=genomics/p=genomics/d=production/l=L1/000003"
    # A project named "a/b" lives in one segment; "*" is never an IAM wildcard; "=" never a type.
    assert LaunchData("t", "a/b", "c", "L").prefix(INPUTS) == "launches/inputs/t=t/p=a%2Fb/d=c/l=L/"
    assert "p=a%2A/" in LaunchData("t", "a*", "d", "L").prefix(CHILDREN)
    assert "/l=p%3Dx/" in LaunchData("t", "p", "d", "p=x").prefix(CHILDREN)
    # Every value of every kind is below its kind's fixed prefix, whatever it is named.
    for kind in DATA_KINDS:
        assert LaunchData("t", "outputs", "inputs", "children").prefix(kind).startswith(f"launches/{kind}/t=t/")


def _dev_with(**changes):
    from batchlane.deployment.config import DeploymentConfig, load_config

    raw = load_config("dev").model_dump(by_alias=True, exclude_unset=True, mode="json")
    return DeploymentConfig.model_validate({**raw, **changes})


def test_the_config_writes_the_tenancy_parameters_the_launcher_reads():
    config = _dev_with()
    settings = Settings.from_parameters(config.settings_parameters("123456789012"))
    assert [t.name for t in settings.producers.teams] == [t.name for t in config.teams]
    genomics_role = "arn:aws:iam::123456789012:role/batchlane-dev-us-east-1-job-genomics"
    assert settings.role_serves(genomics_role, "genomics") and not settings.role_serves(genomics_role, "flytesnacks")
    assert [g.uri for g in settings.inputs_locations] == [g.uri for g in config.inputs_locations]
    assert Settings.from_parameters(_dev_with(teams=[]).settings_parameters("1" * 12)).producers.is_open


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ([{"name": "a", "sources": ["s"]}, {"name": "b", "sources": ["s"]}], "source 's' belongs to two teams"),
        ([{"name": "a b", "sources": ["s"]}], "teams.0.name"),
        ([{"name": "a", "sources": ["s"], "launch": [{"project": "x", "domian": "y"}]}], "teams.0.launch.0.domian"),
    ],
)
def test_a_bad_teams_section_fails_naming_the_key(teams, message):
    with pytest.raises(ValueError, match=message):
        _dev_with(teams=teams)


def test_tenancy_parameters_must_fit_a_standard_ssm_parameter():
    many = [
        {"name": f"team{i}", "sources": [f"team{i}.source-with-a-long-name"], "launch": [{"project": f"p{i}"}]}
        for i in range(60)
    ]
    with pytest.raises(ValueError, match="SSM parameter producers would hold"):
        _dev_with(teams=many)
