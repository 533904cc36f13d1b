"""Flyte's resource strings to batchlane's resources (pure: no flytekit needed)."""

from __future__ import annotations

import pytest

from batchlane.flyte.resources import ResourceError, batch_resources, gpus, memory_mib, vcpus


@pytest.mark.parametrize("text, expected", [("500m", 0.5), ("2", 2.0), ("0.25", 0.25), ("1500m", 1.5)])
def test_cpu(text, expected):
    assert vcpus(text) == expected


@pytest.mark.parametrize(
    "text, expected", [("4Gi", 4096), ("512Mi", 512), ("1G", 954), ("1e9", 954), ("2147483648", 2048), ("1.5Gi", 1536)]
)
def test_memory_in_mib_rounded_up(text, expected):
    assert memory_mib(text) == expected


def test_the_larger_of_request_and_limit_is_what_batch_gets():
    assert batch_resources({"cpu": "500m", "memory": "1Gi"}, {"cpu": "2", "memory": "4Gi"}) == {
        "vcpu": 2.0,
        "memory": 4096,
    }
    assert batch_resources({"memory": "8Gi"}, {"memory": "4Gi", "gpu": "1"}) == {"memory": 8192, "gpu": 1}
    assert batch_resources({}, {}) == {}


@pytest.mark.parametrize("call, text", [(vcpus, "lots"), (memory_mib, "4GB"), (gpus, "0.5"), (vcpus, "")])
def test_what_is_not_a_quantity_says_so(call, text):
    with pytest.raises(ResourceError):
        call(text)


def test_whole_vcpus_round_up_as_flytes_batch_plugin_does():
    # EC2 takes whole vCPUs; Flyte's plugin sends Quantity.Value(), which rounds up.
    assert batch_resources({"cpu": "500m"}, {}, whole_vcpus=True) == {"vcpu": 1.0}
    assert batch_resources({"cpu": "1500m"}, {"cpu": "1"}, whole_vcpus=True) == {"vcpu": 2.0}
    assert batch_resources({"cpu": "2"}, {}, whole_vcpus=True) == {"vcpu": 2.0}
    assert batch_resources({"cpu": "250m"}, {}) == {"vcpu": 0.25}  # Fargate keeps fractions
