"""One Limits model: the deployment config's ``limits`` and the SSM ``limits`` parameter agree."""

from __future__ import annotations

import json

import pytest

from batchlane.common.settings import Limits, Settings
from batchlane.deployment.config import ConfigError, load_config


def test_the_parameter_the_config_writes_reads_back_as_the_same_limits():
    config = load_config("dev")
    written = config.settings_parameters("123456789012")["limits"]
    assert Limits.from_json(written) == config.limits
    assert Settings.from_parameters({"limits": written}).limits == config.limits


def test_keys_left_out_keep_their_defaults():
    limits = Limits.from_json('{"maxArraySize": 500}')
    assert limits.max_array_size == 500
    assert limits.default_timeout_seconds == Limits().default_timeout_seconds


def test_an_unknown_key_is_named_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"limits: unknown key 'maxArray' \(allowed: maxArraySize, maxOverridesChars"):
        Limits.from_json('{"maxArray": 1}')


@pytest.mark.parametrize("value", ["true", "10.0", '"10"'])
def test_only_whole_numbers(value):
    with pytest.raises(ValueError, match=r"^limits\.maxArraySize must be a whole number$"):
        Limits.from_json(f'{{"maxArraySize": {value}}}')


def test_the_parameter_obeys_the_configs_bounds():
    with pytest.raises(ValueError, match=r"limits\.maxArraySize: Input should be less than or equal to 10000"):
        Limits.from_json('{"maxArraySize": 20000}')
    with pytest.raises(ValueError, match="defaultTimeoutSeconds must not exceed maxTimeoutSeconds"):
        Limits.from_json('{"maxTimeoutSeconds": 3600, "defaultTimeoutSeconds": 7200}')


def test_not_an_object():
    with pytest.raises(ValueError, match="limits must be a JSON object"):
        Limits.from_json("[1]")


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"maxArray": 1}, "limits.maxArray: Extra inputs are not permitted"),
        ({"maxArraySize": "10"}, "limits.maxArraySize: Input should be a valid integer"),
        (
            {"maxTimeoutSeconds": 3600, "defaultTimeoutSeconds": 7200},
            "limits: defaultTimeoutSeconds must not exceed maxTimeoutSeconds",
        ),
    ],
)
def test_the_config_rejects_what_the_parameter_rejects(tmp_path, limits, expected):
    dev = load_config("dev").model_dump(by_alias=True, exclude_unset=True, mode="json")
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({**dev, "limits": limits}))  # JSON is YAML
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)
