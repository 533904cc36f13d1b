"""Every function's environment in the template is what its handler reads (batchlane.common.environment)."""

from __future__ import annotations

import json

from batchlane.common.environment import (
    AggregatorEnvironment,
    CommonEnvironment,
    LauncherEnvironment,
    ReconcilerEnvironment,
)

# Each batchlane handler: its Powertools service name and the model it reads its environment with.
HANDLERS = {
    "batchlane.launch.handler.handler": ("launcher", LauncherEnvironment),
    "batchlane.status.handler.handler": ("aggregator", AggregatorEnvironment),
    "batchlane.status.handler.reconcile": ("reconciler", ReconcilerEnvironment),
}


def _functions(synth) -> dict[str, dict]:
    return {
        k: r["Properties"]
        for k, r in synth.resources("AWS::Lambda::Function").items()
        if r["Properties"].get("Handler", "").startswith("batchlane.")
    }


def test_every_handler_reads_its_environment_through_a_model(synth):
    assert sorted(p["Handler"] for p in _functions(synth).values()) == sorted(HANDLERS)


def test_each_environment_is_what_its_handler_reads_and_nothing_else(synth):
    for props in _functions(synth).values():
        written = props["Environment"]["Variables"]
        # At deploy time CloudFormation replaces each reference ({"Ref": ...}) with a resource's name.
        deployed = {k: v if isinstance(v, str) else f"name of {json.dumps(v)}" for k, v in written.items()}
        service, model = HANDLERS[props["Handler"]]
        common = CommonEnvironment.from_environ(deployed)
        read = model.from_environ(deployed)
        assert {**common.variables(), **read.variables()} == deployed, props["Handler"]
        assert (common.service_name, common.deployment) == (service, synth.config.name)


def test_environments_name_the_deployment_s_own_resources(synth):
    state = synth.stack.state
    resources = {
        "ROUTING_TABLE": state.routing_table,
        "EXECUTIONS_TABLE": state.executions_table,
        "DATA_BUCKET": state.bucket,
        "EVENT_BUS": state.bus,
    }
    for props in _functions(synth).values():
        written = props["Environment"]["Variables"]
        for variable, resource in resources.items():
            if variable in written:
                assert written[variable] == {"Ref": synth.logical_id(resource)}, (props["Handler"], variable)
