"""The deployment configuration: the examples load, and a wrong value names the key and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from batchlane.deployment.config import CONFIG_DIR, ConfigError, load_config
from batchlane.routing.items import table_from_items
from stacks.routing_seed import seed_items, to_attribute_value

CONFIGS = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))

BASE = {
    "name": "t",
    "computeEnvironments": [
        {"name": "ondemand", "kind": "ec2"},
        {
            "name": "spot",
            "kind": "ec2",
            "purchaseOption": "spot",
            "allocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
        },
        {"name": "gpu", "kind": "gpu", "instanceTypes": ["g5"]},
        {"name": "fargate", "kind": "fargate"},
    ],
    "jobQueues": [
        {"name": "default", "computeEnvironments": ["spot", "ondemand"], "attributes": ["default"]},
        {"name": "fargate", "computeEnvironments": ["fargate"], "attributes": ["fargate"]},
    ],
    "routingRules": [{"tags": ["default"]}],
    "jobRoles": [{"name": "default"}],
}


def load(tmp_path: Path, raw: dict):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def broken(tmp_path: Path, change) -> str:
    raw = copy.deepcopy(BASE)
    change(raw)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, raw)
    return str(info.value)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_example_configuration_loads(name):
    config = load_config(name)
    assert config.job_queues and config.compute_environments


def test_the_two_examples_exist():
    assert {"dev", "fargate-existing-vpc"} <= set(CONFIGS)


def test_dev_reproduces_the_seed_guides_three_queues():
    config = load_config("dev")
    queues = {q.name: q for q in config.job_queues}
    assert {"gpu_dynamic", "critical", "default"} <= set(queues)
    assert queues["gpu_dynamic"].attributes == ["gpu"]
    assert queues["critical"].attributes == ["critical"]
    assert queues["default"].attributes == ["default"]
    kinds = {ce.name: ce.kind.value for ce in config.compute_environments}
    assert kinds[queues["gpu_dynamic"].compute_environments[0]] == "gpu"
    # the seed's workflowConfigs, in order, ending with the catch-all; its tags after default are where
    # a job the default queue cannot run falls through to (a GPU, platform FARGATE: routing by need)
    assert [r.tags for r in config.routing_rules] == [
        ["critical"],
        ["gpu"],
        ["critical"],
        ["default", "gpu", "fargate"],
    ]


def test_fargate_example_uses_an_existing_vpc_and_only_fargate():
    config = load_config("fargate-existing-vpc")
    assert config.network.existing_vpc is not None and config.network.new_vpc is None
    assert all(ce.kind.is_fargate for ce in config.compute_environments)


def test_a_missing_configuration_lists_the_available_ones():
    with pytest.raises(ConfigError, match="available: .*dev"):
        load_config("nope")


def test_unknown_key_is_an_error(tmp_path):
    message = broken(tmp_path, lambda r: r["jobQueues"][0].update(priorty=3))
    assert "jobQueues.0.priorty" in message and "Extra inputs are not permitted" in message


def test_wrong_compute_kind_names_the_key_and_the_allowed_values(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][0].update(kind="ec3"))
    assert "computeEnvironments.0.kind" in message
    for allowed in ("ec2", "gpu", "fargate"):
        assert allowed in message


def test_wrong_allocation_strategy_names_the_allowed_values(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][1].update(allocationStrategy="CHEAPEST"))
    assert "allocationStrategy" in message and "SPOT_PRICE_CAPACITY_OPTIMIZED" in message


def test_spot_allocation_strategy_on_on_demand_compute_is_rejected(tmp_path):
    message = broken(
        tmp_path, lambda r: r["computeEnvironments"][0].update(allocationStrategy="SPOT_CAPACITY_OPTIMIZED")
    )
    assert "applies to purchaseOption spot only" in message and "BEST_FIT_PROGRESSIVE" in message


def test_gpu_image_on_cpu_compute_is_rejected_with_the_allowed_images(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][0].update(imageType="ECS_AL2023_NVIDIA"))
    assert "imageType" in message and "ECS_AL2023, ECS_AL2" in message


def test_instance_settings_on_fargate_are_rejected(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][3].update(instanceTypes=["m6i"]))
    assert "'fargate' is fargate" in message and "instanceTypes" in message


def test_bad_instance_type_is_rejected(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][0].update(instanceTypes=["big one"]))
    assert "instanceTypes" in message and "big one" in message


def test_queue_naming_an_unknown_compute_environment_lists_the_known_ones(tmp_path):
    message = broken(tmp_path, lambda r: r["jobQueues"][0].update(computeEnvironments=["spto"]))
    assert "jobQueues.default.computeEnvironments: unknown spto" in message
    assert "allowed: ondemand, spot, gpu, fargate" in message


def test_queue_cannot_mix_fargate_and_ec2(tmp_path):
    message = broken(tmp_path, lambda r: r["jobQueues"][0].update(computeEnvironments=["spot", "fargate"]))
    assert "cannot mix Fargate and EC2" in message


def test_queue_takes_at_most_three_compute_environments(tmp_path):
    message = broken(
        tmp_path, lambda r: r["jobQueues"][0].update(computeEnvironments=["spot", "ondemand", "gpu", "spot"])
    )
    assert "jobQueues.0.computeEnvironments" in message and "at most 3" in message


def test_runnable_time_limit_is_bounded_like_batch(tmp_path):
    message = broken(tmp_path, lambda r: r["jobQueues"][0].update(runnableTimeLimitSeconds=90_000))
    assert "runnableTimeLimitSeconds" in message and "86400" in message
    message = broken(tmp_path, lambda r: r["jobQueues"][0].update(runnableTimeLimitSeconds=60))
    assert "runnableTimeLimitSeconds" in message and "600" in message


def test_duplicate_batch_queue_names_are_rejected(tmp_path):
    message = broken(tmp_path, lambda r: r["jobQueues"][1].update(queueName="batchlane-t-default"))
    assert "Batch queue name 'batchlane-t-default' is used twice" in message


def test_rule_tags_must_be_carried_by_a_queue(tmp_path):
    message = broken(tmp_path, lambda r: r["routingRules"].append({"tags": ["gpu"]}))
    assert "routingRules[1].tags" in message and "queue attributes: default, fargate" in message


def test_network_needs_exactly_one_of_new_or_existing_vpc(tmp_path):
    message = broken(tmp_path, lambda r: r.update(network={}))
    assert "give one of newVpc or existingVpc" in message
    existing = {"vpcId": "vpc-0123456789abcdef0", "availabilityZones": ["us-east-1a"], "subnetIds": ["subnet-01234567"]}
    message = broken(tmp_path, lambda r: r.update(network={"newVpc": {}, "existingVpc": existing}))
    assert "not both" in message


def test_existing_vpc_ids_are_checked(tmp_path):
    existing = {"vpcId": "vpc-0123456789abcdef0", "availabilityZones": ["us-east-1a"], "subnetIds": ["sub-1"]}
    message = broken(tmp_path, lambda r: r.update(network={"existingVpc": existing}))
    assert "network.existingVpc.subnetIds" in message and "sub-1" in message


def test_default_role_must_be_a_job_role_or_an_allowed_arn(tmp_path):
    message = broken(tmp_path, lambda r: r.update(defaultRole="admin"))
    assert "defaultRole: 'admin' is neither a jobRoles name (default) nor one of allowedRoleArns" in message


def test_allowed_role_arns_must_be_role_arns(tmp_path):
    message = broken(tmp_path, lambda r: r.update(allowedRoleArns=["arn:aws:iam::123456789012:user/bob"]))
    assert "allowedRoleArns" in message and "user/bob" in message


def test_log_retention_lists_the_allowed_values(tmp_path):
    message = broken(tmp_path, lambda r: r.update(logRetentionDays=10))
    assert "logRetentionDays must be one of 1, 3, 5, 7, 14, 30" in message


def test_every_problem_is_reported_at_once(tmp_path):
    def change(raw):
        raw["computeEnvironments"][0]["kind"] = "ec3"
        raw["logRetentionDays"] = 10

    message = broken(tmp_path, change)
    assert "computeEnvironments.0.kind" in message and "logRetentionDays" in message


# ---- the routing seed's items: exactly the codec's shape ------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_seed_items_round_trip_through_the_item_codec(name):
    config = load_config(name)
    items = seed_items(config)
    table, problems = table_from_items({i["sk"]: i for i in items})
    assert problems == []
    assert {q.name for q in table.queues} == {config.queue_name(q) for q in config.job_queues}
    assert len(table.rules) == len(config.routing_rules)
    by_name = {q.name: q for q in table.queues}
    for q in config.job_queues:
        seeded = by_name[config.queue_name(q)]
        assert (list(seeded.attributes), seeded.weight, seeded.enabled) == (q.attributes, q.weight, q.enabled)


def test_seed_rule_ids_keep_file_order():
    config = load_config("dev")
    rules = [i for i in seed_items(config) if i["sk"].startswith("rule#")]
    assert [r["sk"] for r in rules] == ["rule#0001", "rule#0002", "rule#0003", "rule#0004"]
    assert rules[0] == {
        "pk": "routing",
        "sk": "rule#0001",
        "tags": ["critical"],
        "project": "my_queue_1",
        "domain": "production",
        "workflow": "my_workflow_1",
    }


def test_attribute_values_are_dynamodb_json():
    assert to_attribute_value({"a": ["x"], "w": 2, "e": True}) == {
        "M": {"a": {"L": [{"S": "x"}]}, "w": {"N": "2"}, "e": {"BOOL": True}}
    }


def test_one_function_key_keeps_that_functions_other_defaults(tmp_path):
    config = load(tmp_path, {**BASE, "aggregator": {"memoryMb": 1024}, "reconciler": {"memoryMb": 1024}})
    assert (config.aggregator.memory_mb, config.aggregator.batch_size, config.aggregator.batching_window_seconds) == (
        1024,
        100,
        2,
    )
    assert (config.reconciler.memory_mb, config.reconciler.timeout_seconds) == (1024, 300)


def test_a_launcher_batch_lambda_would_refuse_names_the_key(tmp_path):
    message = broken(tmp_path, lambda raw: raw.update(launcher={"batchSize": 50}))
    assert "launcher: batchSize 50 needs batchingWindowSeconds" in message
    config = load(tmp_path, {**BASE, "launcher": {"batchSize": 50, "batchingWindowSeconds": 1}})
    assert config.launcher.batch_size == 50


def test_gpu_on_spot_is_a_purchase_option_of_the_gpu_kind(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["computeEnvironments"][2].update(purchaseOption="spot", allocationStrategy="SPOT_CAPACITY_OPTIMIZED")
    gpu = load(tmp_path, raw).compute_environments[2]
    assert gpu.spot and gpu.capabilities.capacity == "spot" and gpu.capabilities.gpus == 8


def test_max_vcpus_below_every_instance_type_is_refused(tmp_path):
    message = broken(tmp_path, lambda r: r["computeEnvironments"][2].update(maxVcpus=2))
    assert "computeEnvironments.2" in message and "maxVcpus 2 is below the vCPUs of every instance of g5" in message


@pytest.mark.parametrize("name", CONFIGS)
def test_example_configurations_name_no_foreign_account(name):
    """Copied into a real account, an example must not point its grants at someone else's."""
    import re

    assert not re.findall(r"\b\d{12}\b", (CONFIG_DIR / f"{name}.yaml").read_text())
