"""Function environments: what the stacks write is what the handlers read, and a missing or
wrong variable is named at cold start."""

from __future__ import annotations

import importlib

import pytest

from batchlane.common.environment import (
    AggregatorEnvironment,
    CommonEnvironment,
    FunctionEnvironmentError,
    LauncherEnvironment,
    ReconcilerEnvironment,
)
from batchlane.deployment.config import StateNames, load_config

NAMES = StateNames(routing_table="rt", executions_table="ex", data_bucket="bk", event_bus="bus")
CONFIG = load_config("dev")
ENVIRONMENTS = {
    "launcher": CONFIG.launcher_environment(NAMES),
    "aggregator": CONFIG.aggregator_environment(NAMES),
    "reconciler": CONFIG.reconciler_environment(NAMES),
}


@pytest.mark.parametrize("function", ENVIRONMENTS)
def test_round_trip_through_the_environment(function):
    written = ENVIRONMENTS[function]
    variables = written.variables()
    assert all(isinstance(v, str) for v in variables.values())
    read = type(written).from_environ({**variables, "PATH": "/usr/bin", "AWS_REGION": "us-east-1"})
    assert read == written and read.variables() == variables


def test_the_launcher_is_told_the_config_s_values_and_the_resource_names():
    assert ENVIRONMENTS["launcher"].variables() == {
        "SETTINGS_PATH": "/batchlane/dev",
        "SETTINGS_MAX_AGE": str(CONFIG.routing_cache_seconds),
        "ROUTING_TABLE": "rt",
        "EXECUTIONS_TABLE": "ex",
        "DATA_BUCKET": "bk",
        "EVENT_BUS": "bus",
        "LEASE_SECONDS": str(3 * CONFIG.launcher.timeout_seconds),
        "RETENTION_SECONDS": str(86_400 * CONFIG.data_retention_days),  # expiresAt: the data bucket's lifecycle
        "SUBMIT_RATE_PER_SECOND": "40.0",
        "MAX_CONCURRENCY": str(CONFIG.launcher_max_concurrency),
    }


def test_the_aggregator_is_told_queue_health_and_retention():
    variables = ENVIRONMENTS["aggregator"].variables()
    assert variables["ROUTING_TABLE"] == "rt"
    assert variables["UNHEALTHY_SECONDS"] == str(CONFIG.status.unhealthy_seconds) == "900"
    assert variables["RETENTION_SECONDS"] == str(86_400 * CONFIG.data_retention_days)


def test_the_reconciler_gets_the_aggregator_s_variables_and_its_own():
    aggregator, reconciler = ENVIRONMENTS["aggregator"].variables(), ENVIRONMENTS["reconciler"].variables()
    assert reconciler == {
        **aggregator,
        "SILENT_SECONDS": str(CONFIG.status.silent_seconds),
        "RECONCILE_REQUEST_BUDGET": str(CONFIG.status.reconcile_request_budget),
    }


def test_a_missing_variable_is_named():
    variables = ENVIRONMENTS["launcher"].variables()
    del variables["LEASE_SECONDS"], variables["ROUTING_TABLE"]
    with pytest.raises(FunctionEnvironmentError) as info:
        LauncherEnvironment.from_environ(variables)
    assert str(info.value) == "LauncherEnvironment: ROUTING_TABLE is not set; LEASE_SECONDS is not set"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEASE_SECONDS", "soon"),
        ("LEASE_SECONDS", "0"),
        ("SETTINGS_MAX_AGE", "-1"),
        ("SETTINGS_MAX_AGE", "1.5"),
        ("EVENT_BUS", ""),
    ],
)
def test_a_wrong_value_is_named_with_what_it_is(variable, value):
    with pytest.raises(FunctionEnvironmentError, match=rf"^LauncherEnvironment: {variable}='{value}': "):
        LauncherEnvironment.from_environ({**ENVIRONMENTS["launcher"].variables(), variable: value})


def test_only_the_variable_names_count_not_the_field_names():
    variables = ENVIRONMENTS["aggregator"].variables()
    executions = variables.pop("EXECUTIONS_TABLE")
    with pytest.raises(FunctionEnvironmentError, match="EXECUTIONS_TABLE is not set"):
        AggregatorEnvironment.from_environ({**variables, "executions_table": executions})


def test_the_launch_cache_size_is_optional_and_not_written_unless_given():
    variables = ENVIRONMENTS["reconciler"].variables()
    assert "LAUNCH_CACHE_SIZE" not in variables
    assert ReconcilerEnvironment.from_environ(variables).launch_cache_size == 4096
    assert AggregatorEnvironment.from_environ({**variables, "LAUNCH_CACHE_SIZE": "10"}).launch_cache_size == 10


def test_common_variables_check_the_log_level():
    common = CommonEnvironment(
        service_name="launcher", metrics_namespace="batchlane", log_level="INFO", deployment="dev"
    )
    assert list(common.variables()) == [
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "BATCHLANE_DEPLOYMENT",
    ]
    with pytest.raises(FunctionEnvironmentError, match="POWERTOOLS_LOG_LEVEL='LOUD'"):
        CommonEnvironment.from_environ({**common.variables(), "POWERTOOLS_LOG_LEVEL": "LOUD"})


def test_cdk_tokens_pass_as_names():
    token = "${Token[TOKEN.42]}"
    names = StateNames(routing_table=token, executions_table=token, data_bucket=token, event_bus=token)
    assert CONFIG.launcher_environment(names).variables()["ROUTING_TABLE"] == token


@pytest.mark.parametrize(
    ("module", "entry", "variable"),
    [
        ("batchlane.launch.handler", "runtime", "LEASE_SECONDS"),
        ("batchlane.status.handler", "runtime", "PROGRESS_MIN_SIZE"),
        ("batchlane.status.handler", "reconciler", "SILENT_SECONDS"),
    ],
)
def test_a_handler_fails_at_cold_start_naming_the_variable(monkeypatch, module, entry, variable):
    handler = importlib.import_module(module)
    for name, value in {**ENVIRONMENTS["launcher"].variables(), **ENVIRONMENTS["reconciler"].variables()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(variable)
    handler.runtime.cache_clear()
    getattr(handler, entry).cache_clear()
    try:
        with pytest.raises(FunctionEnvironmentError, match=f"{variable} is not set"):
            getattr(handler, entry)()
    finally:
        handler.runtime.cache_clear()
        getattr(handler, entry).cache_clear()
