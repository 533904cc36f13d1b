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


def test_flyteadmin_mode_on_the_seeds_three_queues_sends_everything_to_the_last_rule():
    table = parse_flyte_config(THREE_QUEUES)
    assert queues(table, SEED_LAUNCHES) == ["critical", "gpu_dynamic", "critical", "default"]
    assert queues(flyteadmin_table(table), SEED_LAUNCHES) == ["default"] * 4


def test_flyteadmin_mode_matches_domain_only_and_the_last_match_wins():
    table = flyteadmin_table(
        parse_flyte_config("""
queues:
  executionQueues:
    - {dynamic: a, attributes: [a]}
    - {dynamic: b, attributes: [b]}
    - {dynamic: c, attributes: [c]}
  workflowConfigs:
    - {tags: [c]}
    - {domain: production, project: ignored, tags: [a]}
    - {domain: production, workflowName: ignored, tags: [b]}
    - {domain: staging, tags: [a]}
""")
    )
    launches = [("p", "production", "w"), ("p", "staging", "w"), ("p", "development", "w")]
    assert queues(table, launches) == ["b", "a", "c"]


def test_the_diff_names_the_three_disagreements_of_the_seed():
    differences = mode_differences(parse_flyte_config(THREE_QUEUES), "k")
    assert [(d.rule.id, d.documented.queue, d.flyteadmin.queue) for d in differences] == [
        ("0001", "critical", "default"),
        ("0002", "gpu_dynamic", "default"),
        ("0003", "critical", "default"),
    ]


def test_routes_import_diff_prints_them_and_writes_nothing(capsys):
    assert main(["routes", "import", str(CONFIGS / "seed-three-queues.yaml"), "--diff"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 of 4 rules route differently") and out.count("flyteadmin  -> default") == 3


def test_routes_explain_in_flyteadmin_mode_offline(capsys):
    code = main(
        [
            "routes",
            "explain",
            "--config",
            str(CONFIGS / "seed-three-queues.yaml"),
            "--mode",
            "flyteadmin",
            "--project",
            "my_queue_1",
            "--domain",
            "production",
            "--workflow",
            "my_workflow_1",
        ]
    )
    assert code == 0 and "Queue         default" in capsys.readouterr().out


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
