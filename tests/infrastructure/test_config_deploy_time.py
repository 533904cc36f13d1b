"""Config mistakes AWS would only refuse at deploy time fail at synth, with the key named (issue 11)."""

from __future__ import annotations

import copy

import pytest
from test_config import BASE, broken, load

from batchlane.deployment.config import load_config


def test_a_job_role_name_longer_than_iam_allows_is_named(tmp_path):
    message = broken(tmp_path, lambda raw: raw.update(name="d" * 20, jobRoles=[{"name": "r" * 40}]))
    assert f"jobRoles.{'r' * 40}.name" in message and "has 85 characters; IAM allows 64" in message


@pytest.mark.parametrize("weight", [0, 0.00001, 1000, 999.99995])
def test_fair_share_weights_outside_batch_s_range_are_refused(tmp_path, weight):
    def change(raw):
        raw["jobQueues"][0]["fairShare"] = {"shares": {"team_a": weight}}

    message = broken(tmp_path, change)
    assert "jobQueues.0.fairShare.shares.team_a" in message


def test_fair_share_weights_at_the_limits_are_accepted(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["jobQueues"][0]["fairShare"] = {"shares": {"low": 0.0001, "high": 999.9999}}
    assert load(tmp_path, raw).job_queues[0].fair_share.shares == {"low": 0.0001, "high": 999.9999}


def test_a_share_id_no_launch_can_name_is_refused(tmp_path):
    def change(raw):
        raw["jobQueues"][0]["fairShare"] = {"shares": {"team-a": 1}}

    message = broken(tmp_path, change)
    assert "jobQueues.0.fairShare.shares.team-a" in message and "[A-Za-z0-9_]" in message


def test_fargate_without_nat_needs_interface_endpoints(tmp_path):
    message = broken(tmp_path, lambda raw: raw.update(network={"newVpc": {"natGateways": 0}}))
    assert "network.newVpc.natGateways: 0 with Fargate compute (fargate)" in message
    assert "interfaceEndpoints" in message
    raw = copy.deepcopy(BASE)
    raw["network"] = {"newVpc": {"natGateways": 0, "interfaceEndpoints": True}}
    assert load(tmp_path, raw).network.new_vpc.interface_endpoints


def test_every_deploy_time_problem_is_listed_at_once(tmp_path):
    def change(raw):
        raw.update(name="d" * 20, jobRoles=[{"name": "r" * 40}])
        raw["network"] = {"newVpc": {"natGateways": 0}}

    message = broken(tmp_path, change)
    assert "IAM allows 64" in message and "natGateways: 0" in message


def test_extra_job_queue_arns_are_checked(tmp_path):
    message = broken(tmp_path, lambda raw: raw.update(extraJobQueueArns=["flyte queue", "arn:aws:sqs:x"]))
    assert "extraJobQueueArns" in message and "not job queue ARNs or names: flyte queue, arn:aws:sqs:x" in message


def test_bare_names_are_roles_and_queues_of_the_account_and_region_deployed_to(tmp_path):
    raw = {**BASE, "allowedRoleArns": ["team-role"], "extraJobQueueArns": ["flyte"], "defaultRole": "team-role"}
    config = load(tmp_path, raw)
    assert config.allowed_roles_in("111122223333") == ["arn:aws:iam::111122223333:role/team-role"]
    assert config.extra_queues_in("111122223333") == ["arn:aws:batch:us-east-1:111122223333:job-queue/flyte"]
    params = config.settings_parameters("111122223333")
    assert params["default-role-arn"] == "arn:aws:iam::111122223333:role/team-role"
    assert "arn:aws:iam::111122223333:role/team-role" in params["allowed-role-arns"].split(",")
    assert "flyte" in config.routable_queue_names


def test_execution_retention_defaults_to_the_data_bucket_s_lifecycle(tmp_path):
    config = load_config("dev")
    assert config.execution_retention_seconds == 86_400 * config.data_retention_days
    raw = copy.deepcopy(BASE)
    raw["executionRetentionDays"] = 7
    assert load(tmp_path, raw).execution_retention_seconds == 7 * 86_400


def test_launcher_reserved_concurrency_below_its_event_source_concurrency_is_refused(tmp_path):
    message = broken(tmp_path, lambda raw: raw.update(launcherMaxConcurrency=8, launcher={"reservedConcurrency": 5}))
    assert "launcher.reservedConcurrency: 5 is below launcherMaxConcurrency (8)" in message
    raw = copy.deepcopy(BASE)
    raw.update(launcherMaxConcurrency=8, launcher={"reservedConcurrency": 8})
    assert load(tmp_path, raw).launcher.reserved_concurrency == 8


def test_aggregator_reserved_concurrency_below_its_event_source_concurrency_is_refused(tmp_path):
    message = broken(
        tmp_path, lambda raw: raw.update(aggregatorMaxConcurrency=20, aggregator={"reservedConcurrency": 10})
    )
    assert "aggregator.reservedConcurrency: 10 is below aggregatorMaxConcurrency (20)" in message
