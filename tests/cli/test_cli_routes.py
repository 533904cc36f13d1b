"""`batchlane routes ...` in-process, against moto (and offline for `explain --config`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

EXPLAIN = ("routes", "explain")
MY_WORKFLOW_1 = ("--project", "my_queue_1", "--domain", "production", "--workflow", "my_workflow_1")


def one_line(text: str) -> bool:
    return text.endswith("\n") and text.count("\n") == 1 and "Traceback" not in text


# --- import ---------------------------------------------------------------------------------------


def test_import_seed_config_writes_queues_and_rules(cli, table, stored, configs):
    result = cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml")
    assert result.code == 0, result.err
    assert "3 queues, 4 rules" in result.out and "7 added." in result.out
    assert result.err == ""
    items = stored()
    assert sorted(items) == [
        "queue#critical",
        "queue#default",
        "queue#gpu_dynamic",
        "rule#0001",
        "rule#0002",
        "rule#0003",
        "rule#0004",
    ]
    assert items["queue#gpu_dynamic"] == {
        "pk": "routing",
        "sk": "queue#gpu_dynamic",
        "attributes": ["gpu"],
        "weight": Decimal(1),
        "enabled": True,
    }
    assert items["rule#0002"] == {
        "pk": "routing",
        "sk": "rule#0002",
        "project": "production",
        "workflow": "my_workflow_2",
        "tags": ["gpu"],
    }


def test_import_nested_helm_values(cli, table, stored, configs):
    result = cli("routes", "import", "--allow-unknown-queues", configs / "helm-values.yaml", "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["added"] == ["queue#batch-ondemand", "queue#batch-spot", "rule#0001", "rule#0002"]
    assert stored()["rule#0001"]["domain"] == "production"


def test_import_again_is_unchanged_and_changes_are_shown(cli, table, stored, configs, tmp_path):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    again = cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml")
    assert again.code == 0 and "7 unchanged." in again.out
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (configs / "seed-three-queues.yaml")
        .read_text()
        .replace("- gpu\n", "- gpu\n        - default\n", 1)
        .replace('"my_workflow_2"', '"my_workflow_22"')
    )
    result = cli("routes", "import", "--allow-unknown-queues", changed)
    assert result.code == 0
    assert "queue#gpu_dynamic  attributes [gpu] -> [gpu, default]" in result.out
    assert "rule#0002          workflow my_workflow_2 -> my_workflow_22" in result.out
    assert stored()["queue#gpu_dynamic"]["attributes"] == ["gpu", "default"]


def test_import_keeps_other_items_unless_replace(cli, table, stored, configs):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    kept = cli("routes", "import", "--allow-unknown-queues", configs / "seed-simple.yaml")
    assert kept.code == 0
    assert "kept     queue#critical" in kept.out and "--replace deletes it" in kept.out
    assert "rule#0001" in stored()  # the simple file's only rule overwrote rule 0001 ...
    assert stored()["rule#0001"]["tags"] == ["default"] and "rule#0004" in stored()  # ... the rest stays

    dry = cli("routes", "import", "--allow-unknown-queues", configs / "seed-simple.yaml", "--replace", "--dry-run")
    assert dry.code == 0 and "Dry run: nothing was written." in dry.out
    assert "deleted  rule#0004" in dry.out and "Would import" in dry.out
    assert len(stored()) == 8

    replaced = cli("routes", "import", "--allow-unknown-queues", configs / "seed-simple.yaml", "--replace", "--json")
    assert replaced.code == 0
    document = json.loads(replaced.out)
    assert document["deleted"] == [
        "queue#critical",
        "queue#default",
        "queue#gpu_dynamic",
        "rule#0002",
        "rule#0003",
        "rule#0004",
    ]
    assert sorted(stored()) == ["queue#tutorial", "rule#0001"]


def test_dry_run_writes_nothing(cli, table, stored, configs):
    result = cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml", "--dry-run")
    assert result.code == 0 and "7 added." in result.out
    assert stored() == {}


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "queues:\n  executionQueues:\n    - attributes: [a]\n",
            "queues.executionQueues[0].dynamic: the job queue name is missing",
        ),
        ("flyteadmin: {roleNameKey: x}\n", "no FlyteAdmin 'queues:' block"),
        ("queues: [", "not valid YAML"),
        ("- {sk: 'rule#1'}\n", "rule#1: tags must be a non-empty list of strings"),
    ],
)
def test_import_of_a_bad_file_is_one_line_exit_2_and_writes_nothing(cli, table, stored, tmp_path, content, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    result = cli("routes", "import", "--allow-unknown-queues", bad)
    assert result.code == 2 and message in result.err and one_line(result.err), result.err
    assert result.out == "" and stored() == {}


def test_import_warns_about_rules_that_can_never_route(cli, table, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "queues:\n  executionQueues: [{dynamic: q, attributes: [a]}]\n"
        "  workflowConfigs: [{domain: d, tags: [nope]}, {tags: [a]}]\n"
    )
    result = cli("routes", "import", "--allow-unknown-queues", config)
    assert result.code == 0
    assert (
        "warning: rule 0001 (domain=d): no enabled queue with weight > 0 carries any of its tags [nope]" in result.err
    )


# --- explain -------------------------------------------------------------------------------------------


def test_explain_from_the_table_matches_the_offline_config(cli, table, configs):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    for launch, queue in [
        (MY_WORKFLOW_1, "critical"),
        (("--project", "production", "--domain", "development", "--workflow", "my_workflow_2"), "gpu_dynamic"),
        (("--project", "x", "--domain", "production", "--workflow", "y"), "default"),
    ]:
        from_table = cli(*EXPLAIN, *launch, "--json")
        offline = cli(*EXPLAIN, *launch, "--json", "--config", configs / "seed-three-queues.yaml")
        assert from_table.code == offline.code == 0
        a, b = json.loads(from_table.out), json.loads(offline.out)
        assert a["queue"] == b["queue"] == queue
        assert a.pop("source").startswith("table batchlane-dev-routing")
        assert b.pop("source").endswith("(offline)")
        assert a == b


def test_explain_human_output(cli, table, configs):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    result = cli(*EXPLAIN, *MY_WORKFLOW_1)
    assert result.code == 0 and result.err == ""
    lines = dict(
        line.split(None, 1) if not line.startswith(("Routing", "Launch id")) else (line, "")
        for line in result.out.splitlines()
    )
    assert "Queue" in lines and lines["Queue"].strip() == "critical"
    assert (
        "Rule          0001 (project=my_queue_1, domain=production, workflow=my_workflow_1) -> tags [critical]"
        in result.out
    )
    assert "sample-launch (a fixed sample; pass --launch-id for a real one)" in result.out


def test_explain_json_shape(cli, configs):
    result = cli(
        *EXPLAIN, *MY_WORKFLOW_1, "--json", "--config", configs / "seed-three-queues.yaml", "--launch-id", "L1"
    )
    document = json.loads(result.out)
    assert {"queue", "tag", "candidates", "rule", "reason"} <= set(document)
    assert document["queue"] == "critical" and document["tag"] == "critical"
    assert document["rule"]["id"] == "0001" and document["rule"]["workflow"] == "my_workflow_1"
    assert document["candidates"] == [{"queue": "critical", "weight": 1, "enabled": True, "share": 1.0, "chosen": True}]
    assert document["launch"] == {
        "project": "my_queue_1",
        "domain": "production",
        "workflow": "my_workflow_1",
        "launchId": "L1",
        "sampleLaunchId": False,
    }


def test_explain_with_several_candidates_shows_shares_and_depends_on_the_launch_id(cli, tmp_path):
    config = tmp_path / "weighted.yaml"
    config.write_text(
        "queues:\n  executionQueues:\n"
        "    - {dynamic: small, attributes: [t]}\n    - {dynamic: big, attributes: [t], weight: 3}\n"
        '    - {dynamic: "off", attributes: [t], enabled: false}\n'
        "  workflowConfigs: [{tags: [t]}]\n"
    )
    result = cli(*EXPLAIN, "--project", "p", "--domain", "d", "--workflow", "w", "--config", config)
    assert result.code == 0
    assert "small  weight 1  share 25.0%" in result.out and "big    weight 3  share 75.0%" in result.out
    assert "off    weight 1  disabled" in result.out
    assert "each launch goes to one of them by its launch id" in result.out
    chosen = {
        json.loads(
            cli(
                *EXPLAIN,
                "--project",
                "p",
                "--domain",
                "d",
                "--workflow",
                "w",
                "--config",
                config,
                "--json",
                "--launch-id",
                f"id-{i}",
            ).out
        )["queue"]
        for i in range(40)
    }
    assert chosen == {"small", "big"}


def test_explain_no_match_exits_1_with_null_queue(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "queues:\n  executionQueues: [{dynamic: q, attributes: [a]}]\n  workflowConfigs: [{project: only, tags: [a]}]\n"
    )
    launch = ("--project", "p", "--domain", "d", "--workflow", "w", "--config", config)
    as_json = cli(*EXPLAIN, *launch, "--json")
    assert as_json.code == 1
    document = json.loads(as_json.out)
    assert document["queue"] is None and document["rule"] is None and document["candidates"] == []
    assert document["reason"] == "no routing rule applies to project=p, domain=d, workflow=w"
    human = cli(*EXPLAIN, *launch)
    assert human.code == 1 and "none: the launch would be rejected" in human.out


def test_explain_offline_needs_no_aws_at_all(cli, configs, unused_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", unused_endpoint)

    def no_aws(*args, **kwargs):
        raise AssertionError("explain --config must not create an AWS client")

    monkeypatch.setattr(boto3.session.Session, "client", no_aws)
    monkeypatch.setattr(boto3.session.Session, "resource", no_aws)
    result = cli(*EXPLAIN, *MY_WORKFLOW_1, "--config", configs / "seed-three-queues.yaml", "--json")
    assert result.code == 0 and json.loads(result.out)["queue"] == "critical"
    # ... whereas reading the table goes to that endpoint, and fails as an AWS error.
    monkeypatch.undo()
    monkeypatch.setenv("AWS_ENDPOINT_URL", unused_endpoint)
    unreachable = cli(*EXPLAIN, *MY_WORKFLOW_1)
    assert unreachable.code == 3 and one_line(unreachable.err) and unused_endpoint in unreachable.err


def test_explain_skips_malformed_table_items_with_warnings(cli, table, configs):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    table.put_item(Item={"pk": "routing", "sk": "rule#0000", "tags": {"gpu"}})  # a string set: order lost
    table.put_item(Item={"pk": "routing", "sk": "queue#broken", "attributes": ["critical"], "weight": -1})
    table.put_item(Item={"pk": "routing", "sk": "team#x", "tags": ["x"]})
    result = cli(*EXPLAIN, "--project", "a", "--domain", "b", "--workflow", "c", "--json")
    assert result.code == 0 and json.loads(result.out)["queue"] == "default"
    warnings = result.err.splitlines()
    assert warnings == [
        "warning: skipping malformed routing item queue#broken: weight must be a whole number >= 0",
        "warning: skipping malformed routing item rule#0000: tags must be a list (L), not a set: their order matters",
        "warning: skipping malformed routing item team#x: sk must start with 'queue#' or 'rule#'",
    ]


def test_explain_against_an_empty_table_warns_and_exits_1(cli, table):
    result = cli(*EXPLAIN, *MY_WORKFLOW_1)
    assert result.code == 1
    assert "has no routing items" in result.err


# --- list / set / delete / export ----------------------------------------------------------------------


def test_list_shows_queues_and_rules_in_precedence_order(cli, table, configs):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    assert cli("routes", "set", "rule", "9", "--tags", "critical", "--project", "p").code == 0
    assert cli("routes", "set", "rule", "8", "--tags", "default", "--domain", "d").code == 0
    document = json.loads(cli("routes", "list", "--json").out)
    assert [r["id"] for r in document["rules"]] == ["0001", "0003", "0002", "9", "8", "0004"]
    assert document["queues"][0] == {"name": "critical", "attributes": ["critical"], "weight": 1, "enabled": True}
    human = cli("routes", "list")
    assert human.code == 0
    rules = human.out.split("Rules (6,")[1].splitlines()[2:]
    assert [line.split()[0] for line in rules] == ["0001", "0003", "0002", "9", "8", "0004"]
    columns = {line.split()[0]: re.split(r"\s{2,}", line.strip()) for line in rules}
    assert columns["9"] == ["9", "project=p", "critical"]
    assert columns["0004"] == ["0004", "matches everything", "default"]


def test_set_queue_create_update_and_drain(cli, table, stored):
    created = cli("routes", "set", "queue", "--allow-unknown-queues", "gpu-a", "--attributes", "gpu,default", "--json")
    assert created.code == 0
    assert json.loads(created.out)["action"] == "created"
    assert stored()["queue#gpu-a"]["attributes"] == ["gpu", "default"]
    updated = cli("routes", "set", "queue", "--allow-unknown-queues", "gpu-a", "--weight", "0", "--disabled")
    assert updated.code == 0 and updated.out == "Updated queue gpu-a: weight 1 -> 0, enabled true -> false\n"
    item = stored()["queue#gpu-a"]
    assert (item["attributes"], item["weight"], item["enabled"]) == (["gpu", "default"], 0, False)
    assert cli(
        "routes", "set", "queue", "--allow-unknown-queues", "gpu-a", "--weight", "0", "--disabled"
    ).out.startswith("Queue gpu-a unchanged")
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "gpu-a", "--enabled", "--weight", "2").code == 0
    assert stored()["queue#gpu-a"]["enabled"] is True


def test_set_queue_keeps_a_hand_written_description(cli, table, stored):
    table.put_item(Item={"pk": "routing", "sk": "queue#q", "attributes": ["a"], "description": "team A"})
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "q", "--weight", "5").code == 0
    assert stored()["queue#q"]["description"] == "team A" and stored()["queue#q"]["weight"] == 5


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ("routes", "set", "queue", "--allow-unknown-queues", "new"),
            "queue new does not exist yet: give --attributes",
        ),
        (
            ("routes", "set", "queue", "--allow-unknown-queues", "bad name", "--attributes", "a"),
            "is not an AWS Batch job queue name",
        ),
        (
            ("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a,,b"),
            "expected a comma-separated list of names",
        ),
        (
            ("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a", "--weight", "-1"),
            "expected a whole number >= 0",
        ),
        (
            ("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a", "--enabled", "--disabled"),
            "not allowed with argument",
        ),
        (("routes", "set", "rule", "r 1", "--tags", "a"), "rule id 'r 1'"),
        (("routes", "set", "rule", "r1"), "the following arguments are required: --tags"),
        (("routes", "set", "rule", "r1", "--tags", "a", "--project", ""), "--project must not be empty"),
        (("routes", "delete", "table", "x"), "invalid choice: 'table'"),
        (("routes",), "the following arguments are required: COMMAND"),
        (("nope",), "invalid choice: 'nope'"),
    ],
)
def test_invalid_input_is_one_line_exit_2(cli, table, stored, argv, message):
    result = cli(*argv)
    assert result.code == 2 and message in result.err and one_line(result.err), result.err
    assert stored() == {}


def test_set_rule_replaces_and_warns_about_ties_and_dead_tags(cli, table, stored):
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a").code == 0
    first = cli("routes", "set", "rule", "r1", "--tags", "a", "--domain", "d")
    assert first.code == 0 and first.out == "Created rule r1: domain=d -> tags [a]\n" and first.err == ""
    replaced = cli("routes", "set", "rule", "r1", "--tags", "zz,a", "--project", "p")
    assert replaced.out == "Updated rule r1: project (none) -> p, domain d -> (none), tags [a] -> [zz, a]\n"
    assert stored()["rule#r1"] == {"pk": "routing", "sk": "rule#r1", "tags": ["zz", "a"], "project": "p"}
    tie = cli("routes", "set", "rule", "r0", "--tags", "zz", "--project", "p", "--json")
    assert json.loads(tie.out)["warnings"] == [
        "rule r0 (project=p): no enabled queue with weight > 0 carries any of its tags [zz]; "
        "launches it matches are rejected",
        "rule r1 has the same scope (project=p) as rule r0, which wins the tie (its id sorts first): "
        "rule r1 never applies",
    ]
    assert tie.err.count("warning: ") == 2


def test_delete(cli, table, stored):
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a").code == 0
    assert cli("routes", "set", "rule", "r", "--tags", "a").code == 0
    missing = cli("routes", "delete", "rule", "nope")
    assert missing.code == 1 and missing.err == "batchlane: no rule 'nope' in table batchlane-dev-routing\n"
    deleted = cli("routes", "delete", "queue", "q")
    assert deleted.code == 0 and deleted.out == "Deleted queue q\n"
    assert "rule r (matches everything): no enabled queue" in deleted.err
    assert cli("routes", "delete", "rule", "r", "--json").out.startswith("{")
    assert stored() == {}


def test_export_flyte_round_trips_through_import(cli, table, stored, configs, tmp_path):
    assert cli("routes", "import", "--allow-unknown-queues", configs / "seed-three-queues.yaml").code == 0
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "critical", "--weight", "3").code == 0
    assert (
        cli("routes", "set", "queue", "--allow-unknown-queues", "spare", "--attributes", "critical", "--disabled").code
        == 0
    )
    exported = cli("routes", "export")
    assert exported.code == 0 and exported.out.startswith("# FlyteAdmin queue configuration")
    assert "  - dynamic: critical\n    attributes:\n    - critical\n    weight: 3\n" in exported.out
    before = dict(stored())
    path = tmp_path / "export.yaml"
    path.write_text(exported.out)
    again = cli("routes", "import", "--allow-unknown-queues", path, "--replace")
    assert again.code == 0 and "8 unchanged." in again.out
    assert stored() == before
    # the export is a FlyteAdmin config that explain --config reads the same way
    offline = json.loads(cli(*EXPLAIN, *MY_WORKFLOW_1, "--config", path, "--json").out)
    assert [(c["queue"], c["share"]) for c in offline["candidates"]] == [("critical", 1.0), ("spare", 0.0)]


def test_export_renumbers_rule_ids_in_tie_break_order_and_items_keep_them(cli, table, stored, tmp_path):
    assert cli("routes", "set", "queue", "--allow-unknown-queues", "q", "--attributes", "a").code == 0
    assert cli("routes", "set", "rule", "team-b", "--tags", "a", "--domain", "d").code == 0
    assert cli("routes", "set", "rule", "team-a", "--tags", "a", "--project", "p").code == 0
    flyte = tmp_path / "flyte.yaml"
    flyte.write_text(cli("routes", "export", "--format", "flyte").out)
    items = tmp_path / "items.json"
    items.write_text(cli("routes", "export", "--format", "items").out)
    assert [i["sk"] for i in json.loads(items.read_text())] == ["queue#q", "rule#team-a", "rule#team-b"]
    assert cli("routes", "export", "--json").out == items.read_text()  # --json, as every command takes
    before = dict(stored())

    assert cli("routes", "import", "--allow-unknown-queues", flyte, "--replace").code == 0
    assert sorted(stored()) == ["queue#q", "rule#0001", "rule#0002"]
    assert stored()["rule#0001"]["project"] == "p"  # team-a sorted first, so it comes first in the file

    restored = cli("routes", "import", "--allow-unknown-queues", items, "--replace")
    assert restored.code == 0 and "deleted  rule#0001" in restored.out
    assert stored() == before


# --- global options and errors -----------------------------------------------------------------------


def test_table_override_and_options_after_the_command(cli, aws, stored, boto_session):
    ddb = boto_session.resource("dynamodb", region_name="eu-west-1")
    ddb.create_table(
        TableName="other",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    assert (
        cli(
            "--table",
            "other",
            "--region",
            "eu-west-1",
            "routes",
            "set",
            "queue",
            "--allow-unknown-queues",
            "q",
            "--attributes",
            "a",
        ).code
        == 0
    )
    listed = cli("routes", "list", "--json", "--table", "other", "--region", "eu-west-1")
    assert json.loads(listed.out)["table"] == "other" and len(json.loads(listed.out)["queues"]) == 1
    assert "queue#q" not in stored()


def test_missing_table_is_an_aws_error_exit_3(cli, aws):
    result = cli("routes", "list")
    assert result.code == 3 and one_line(result.err)
    assert "ResourceNotFoundException" in result.err and "batchlane-dev-routing" in result.err


def test_unknown_deployment_is_exit_2(cli, aws):
    result = cli("--deployment", "nope", "routes", "list")
    assert result.code == 2 and one_line(result.err) and "no deployment configuration" in result.err


def test_deployment_from_the_environment(cli, aws, monkeypatch):
    monkeypatch.setenv("BATCHLANE_DEPLOYMENT", "nope")
    assert cli("routes", "list").code == 2


def test_help_exits_0(cli):
    result = cli("routes", "explain", "--help")
    assert result.code == 0 and "--launch-id" in result.out and "depends on the launch id" in result.out


def test_console_script_explains_offline(configs, unused_endpoint):
    script = Path(sys.executable).parent / "batchlane"
    env = {**os.environ, "AWS_ENDPOINT_URL": unused_endpoint}
    done = subprocess.run(
        [
            str(script),
            *EXPLAIN,
            "--config",
            str(configs / "seed-three-queues.yaml"),
            "--project",
            "production",
            "--domain",
            "development",
            "--workflow",
            "my_workflow_2",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queue"] == "gpu_dynamic" and done.stderr == ""


# --- queue names checked against the deployment ------------------------------------------------------

SANDBOX_FLYTE_CONFIG = Path(__file__).resolve().parents[2] / "toolkit/batchlane/sandbox/examples/flyteadmin-queues.yaml"


def test_import_refuses_queues_the_deployment_does_not_have_and_writes_nothing(cli, table, stored, configs):
    result = cli("routes", "import", configs / "seed-three-queues.yaml")
    assert result.code == 2 and result.out == ""
    assert "deployment dev has no job queue named critical, default, gpu_dynamic" in result.err
    assert "batchlane-dev-critical" in result.err and "--allow-unknown-queues" in result.err
    assert stored() == {}
    dry = cli("routes", "import", configs / "seed-three-queues.yaml", "--dry-run")
    assert dry.code == 2 and "no job queue named" in dry.err  # a dry run says what the real one would do


def test_import_of_the_deployments_own_queue_names_needs_no_flag(cli, table, stored):
    result = cli("routes", "import", SANDBOX_FLYTE_CONFIG)
    assert result.code == 0, result.err
    assert "queue#batchlane-dev-critical" in stored()


def test_queues_listed_in_extra_job_queue_arns_may_be_named(cli, table, stored, configs, tmp_path, monkeypatch):
    import yaml

    from batchlane.deployment.config import CONFIG_DIR

    config = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text())
    config["extraJobQueueArns"] = [
        f"arn:aws:batch:us-east-1:123456789012:job-queue/{q}" for q in ("critical", "default", "gpu_dynamic")
    ]
    path = tmp_path / "with-flyte-queues.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("--deployment", path, "routes", "import", configs / "seed-three-queues.yaml")
    assert result.code == 0, result.err
    assert "queue#gpu_dynamic" in stored()


def test_set_queue_checks_the_name_too(cli, table, stored):
    refused = cli("routes", "set", "queue", "gpu-typo", "--attributes", "gpu")
    assert refused.code == 2 and "no job queue named gpu-typo" in refused.err and stored() == {}
    assert cli("routes", "set", "queue", "batchlane-dev-default", "--attributes", "default").code == 0


def test_explain_shows_what_routing_does_with_a_queue_hint(cli, configs):
    explain = (*EXPLAIN, *MY_WORKFLOW_1, "--config", configs / "seed-three-queues.yaml")
    honoured = cli(*explain, "--queue-hint", "critical")
    assert honoured.code == 0
    assert "Queue hint: hint critical honoured (routing chose it too); the launch goes to critical" in honoured.out
    ignored = cli(*explain, "--queue-hint", "gpu_dynamic", "--json")
    assert json.loads(ignored.out)["queueHint"] == {
        "hint": "gpu_dynamic",
        "queue": "critical",
        "reason": "hint gpu_dynamic ignored: not an enabled candidate with a share of tag critical",
    }
    assert "queueHint" not in json.loads(cli(*explain, "--json").out)
