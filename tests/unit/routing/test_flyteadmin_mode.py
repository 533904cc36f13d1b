"""FlyteAdmin's own allocator beside batchlane's documented routing, unknown keys, Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlane.cli.main import main
from batchlane.flyteadmin import FlyteConfigError, flyteadmin_table, mode_differences, parse_flyte_config
from batchlane.routing import decide

CONFIGS = Path(__file__).parent / "configs"
THREE_QUEUES = (CONFIGS / "seed-three-queues.yaml").read_text()


def queues(table, launches):
    return [decide(table, *launch, key="k").queue for launch in launches]


SEED_LAUNCHES = [
    ("my_queue_1", "production", "my_workflow_1"),
    ("production", "development", "my_workflow_2"),
    ("my_queue_3", "production", "my_workflow_3"),
    ("other", "staging", "wf"),
]


def test_flyteadmin_mode_on_the_seeds_three_queues_reads_the_domain_only():
    table = parse_flyte_config(THREE_QUEUES)
    assert queues(table, SEED_LAUNCHES) == ["critical", "gpu_dynamic", "critical", "default"]
    # production's last rule says critical; the project-only rule has no domain: only the catch-all counts
    assert queues(flyteadmin_table(table), SEED_LAUNCHES) == ["critical", "default", "critical", "default"]


def test_flyteadmin_mode_takes_the_domains_last_rule_and_the_catch_all_only_without_one():
    table = flyteadmin_table(
        parse_flyte_config("""
queues:
  executionQueues:
    - {dynamic: a, attributes: [a]}
    - {dynamic: b, attributes: [b]}
    - {dynamic: c, attributes: [c]}
  workflowConfigs:
    - {tags: [a]}
    - {domain: production, project: ignored, tags: [a]}
    - {domain: production, workflowName: ignored, tags: [b]}
    - {domain: staging, tags: [a]}
    - {tags: [c]}
""")
    )
    launches = [("p", "production", "w"), ("p", "staging", "w"), ("p", "development", "w")]
    assert queues(table, launches) == ["b", "a", "c"]


HELM_LAYOUT = """
configmap:
  adminServer:
    queues:
      executionQueues:
        - {dynamic: critical, attributes: [critical]}
        - {dynamic: default, attributes: [default]}
      workflowConfigs:
        - {domain: production, tags: [critical]}
        - {tags: [default]}
"""


def test_flyteadmin_mode_on_the_helm_layout_a_domain_rule_then_the_catch_all():
    table = flyteadmin_table(parse_flyte_config(HELM_LAYOUT))
    assert queues(table, [("p", "production", "w"), ("p", "development", "w")]) == ["critical", "default"]


def test_flyteadmins_own_test_vectors_from_the_config():
    """flyteadmin/pkg/manager/impl/executions/queues_test.go, the cases decided by the config alone
    (no matchable-attribute override): TestGetQueueDefaults' unmatched project goes to the
    catch-all's queue; TestGetQueue's config has no workflowConfigs, so nothing is chosen."""
    defaults = flyteadmin_table(
        parse_flyte_config("""
queues:
  executionQueues:
    - {dynamic: queue1-dynamic, attributes: [attr1]}
    - {dynamic: queue2-dynamic, attributes: [attr2]}
    - {dynamic: queue3-dynamic, attributes: [attr3]}
    - {dynamic: default-dynamic, attributes: [default]}
  workflowConfigs:
    - {tags: [default]}
""")
    )
    assert queues(defaults, [("unmatched", "domain", "workflow")]) == ["default-dynamic"]
    bare = flyteadmin_table(parse_flyte_config("queues:\n  executionQueues: [{dynamic: q, attributes: [attribute]}]\n"))
    assert queues(bare, [("project", "domain", "name2")]) == [None]


def test_the_diff_names_the_one_disagreement_of_the_seed():
    differences = mode_differences(parse_flyte_config(THREE_QUEUES), "k")
    assert [(d.rule.id, d.documented.queue, d.flyteadmin.queue) for d in differences] == [
        ("0002", "gpu_dynamic", "default"),
    ]


def test_routes_import_diff_prints_them_and_writes_nothing(capsys):
    assert main(["routes", "import", str(CONFIGS / "seed-three-queues.yaml"), "--diff"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 of 4 rules route differently") and out.count("flyteadmin  -> default") == 1


def test_routes_explain_in_flyteadmin_mode_offline(capsys):
    code = main(
        [
            "routes",
            "explain",
            "--config",
            str(CONFIGS / "seed-three-queues.yaml"),
            "--format",
            "flyte",
            "--mode",
            "flyteadmin",
            "--project",
            "production",
            "--domain",
            "development",
            "--workflow",
            "my_workflow_2",
        ]
    )
    assert code == 0 and "Queue         default" in capsys.readouterr().out


def test_routes_explain_reads_a_multi_document_manifest_under_auto(tmp_path, capsys):
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: flyte}\n---\n" + HELM_LAYOUT)
    argv = ["routes", "explain", "--config", str(manifest), "--mode", "flyteadmin"]
    assert main([*argv, "--project", "p", "--domain", "production", "--workflow", "w"]) == 0
    assert "Queue         critical" in capsys.readouterr().out


@pytest.mark.parametrize(
    "entry, key", [("{Domain: production, tags: [a]}", "Domain"), ("{project: p, workflow: w, tags: [a]}", "workflow")]
)
def test_an_unknown_key_is_an_error_naming_it(entry, key):
    text = f"queues:\n  executionQueues: [{{dynamic: a, attributes: [a]}}]\n  workflowConfigs:\n    - {entry}\n"
    with pytest.raises(FlyteConfigError, match=f"workflowConfigs\\[0\\]: unknown key '{key}'"):
        parse_flyte_config(text)


def test_an_unknown_queue_key_is_an_error_too():
    with pytest.raises(FlyteConfigError, match="unknown key 'priority'"):
        parse_flyte_config("queues:\n  executionQueues: [{dynamic: a, attributes: [a], priority: 3}]\n")


def test_a_multi_document_manifest_with_the_config_in_a_configmap_string():
    embedded = "\n".join("        " + line for line in THREE_QUEUES.splitlines())
    manifest = f"""apiVersion: v1
kind: Namespace
metadata: {{name: flyte}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: flyte-admin-config}}
data:
  adminServer.yaml: |
{embedded}
"""
    table = parse_flyte_config(manifest)
    assert [q.name for q in table.queues] == ["gpu_dynamic", "critical", "default"] and len(table.rules) == 4
