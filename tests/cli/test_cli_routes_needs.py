"""`batchlane routes explain` with the job's needs, capabilities and queue health (issue 11), offline
on the items a deployment seeds (the same items the launcher reads)."""

from __future__ import annotations

import json

import pytest

from batchlane.deployment.config import load_config
from batchlane.routing.items import items_from_table

EXPLAIN = ("routes", "explain")
ANY_LAUNCH = ("--project", "any", "--domain", "development", "--workflow", "wf")


@pytest.fixture
def seeded(tmp_path):
    def write(name: str, *, edit=lambda items: None):
        items = items_from_table(load_config(name).routing_table())
        edit(items)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(items))
        return path

    return write


def test_in_dev_a_fargate_launch_goes_to_the_fargate_queue(cli, seeded):
    result = cli(*EXPLAIN, *ANY_LAUNCH, "--platform", "FARGATE", "--config", seeded("dev"))
    assert result.code == 0
    assert "batchlane-dev-default cannot run the job (it runs EC2, the job asks for FARGATE)" in result.out
    document = json.loads(cli(*EXPLAIN, *ANY_LAUNCH, "--platform", "FARGATE", "--json", "--config", seeded("dev")).out)
    assert document["queue"] == "batchlane-dev-fargate" and document["platform"] == "FARGATE"
    assert document["needs"] == {"platform": "FARGATE", "vcpu": 1, "memory": 2048, "gpu": 0}


def test_in_dev_a_gpu_launch_reaches_the_gpu_queue_and_never_a_queue_without_gpus(cli, seeded):
    document = json.loads(cli(*EXPLAIN, *ANY_LAUNCH, "--gpu", "1", "--json", "--config", seeded("dev")).out)
    assert document["queue"] == "batchlane-dev-gpu_dynamic"
    critical_only = ("--project", "my_queue_1", "--domain", "production", "--workflow", "my_workflow_1")
    result = cli(*EXPLAIN, *critical_only, "--gpu", "1", "--config", seeded("dev"))
    assert result.code == 1 and "none: the launch would be rejected" in result.out
    assert "1 GPU asked, 0 available" in result.out


def test_fractional_vcpu_skips_ec2_queues(cli, seeded):
    document = json.loads(
        cli(*EXPLAIN, *ANY_LAUNCH, "--vcpu", "0.5", "--memory", "1024", "--json", "--config", seeded("dev")).out
    )
    assert document["queue"] == "batchlane-dev-fargate"
    assert "EC2 takes whole vCPUs, 0.5 asked" in document["reason"]


def test_in_the_fargate_example_a_launch_without_platform_gets_the_queue_s(cli, seeded):
    result = cli(
        *EXPLAIN, "--project", "p", "--domain", "d", "--workflow", "w", "--config", seeded("fargate-existing-vpc")
    )
    assert result.code == 0 and "FARGATE (the queue's)" in result.out


def test_explain_shows_a_queue_avoided_as_unhealthy(cli, seeded):
    def add_blocked_peer(items):
        items.append(
            {
                "pk": "routing",
                "sk": "queue#peer",
                "attributes": ["default"],
                "unhealthyUntil": 4_000_000_000,
                "blockedReason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            }
        )

    result = cli(*EXPLAIN, *ANY_LAUNCH, "--config", seeded("dev", edit=add_blocked_peer))
    assert result.code == 0
    assert "avoided, unhealthy: blocked (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY)" in result.out
    assert "avoided unhealthy peer" in result.out


@pytest.mark.parametrize("argv", [("--vcpu", "0"), ("--memory", "1.5"), ("--gpu", "-1"), ("--platform", "LAMBDA")])
def test_wrong_needs_are_usage_errors(cli, seeded, argv):
    assert cli(*EXPLAIN, *ANY_LAUNCH, *argv, "--config", seeded("dev")).code == 2


def test_in_dev_eight_gpus_find_no_queue_and_explain_names_the_instances_offered(cli, seeded):
    result = cli(*EXPLAIN, *ANY_LAUNCH, "--gpu", "8", "--config", seeded("dev"))
    assert result.code == 1 and "none: the launch would be rejected" in result.out
    assert "batchlane-dev-gpu_dynamic cannot run the job (8 GPU asked, 4 available)" in " ".join(result.out.split())
    fits = cli(*EXPLAIN, *ANY_LAUNCH, "--gpu", "4", "--config", seeded("dev"))
    assert fits.code == 0 and "fits on g5.12xlarge" in fits.out


def test_explain_passes_over_a_fair_share_queue_for_a_launch_without_a_share_identifier(cli, seeded):
    research = ("--project", "research", "--domain", "d", "--workflow", "w", "--config", seeded("fargate-existing-vpc"))
    result = cli(*EXPLAIN, *research)
    assert result.code == 0 and "Batch requires a shareIdentifier" in result.out
    assert json.loads(cli(*EXPLAIN, *research, "--json").out)["queue"] == "batchlane-fargate-default"
    shared = json.loads(cli(*EXPLAIN, *research, "--share", "team_a", "--json").out)
    assert shared["queue"] == "batchlane-fargate-shared" and shared["needs"]["shareIdentifier"] is True
