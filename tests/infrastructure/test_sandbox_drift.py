"""The sandbox provisions what the stack deploys: the synthesized template (dev) against what
``batchlane.sandbox.provision`` creates in the emulator, read back through the AWS APIs.

Compared: the tables' key schemas, attribute types, indexes and time to live; for every event
path (rule -> buffer -> function) the rule's bus and event pattern, the delivery's retry policy
and dead-letter queue, the buffer's visibility timeout, retention and ``maxReceiveCount``, the
DLQ's retention, the event source mapping's batch size and window, the function's handler,
timeout and own environment (keys and values; resource names resolved). The Powertools
variables every function gets are not compared (the sandbox sets its own log level and turns
tracing off), nor names CloudFormation chooses (queues, rules, the bucket).

The last tests change one side on purpose (an event pattern, an environment key, a table key, a
batch size) and check that the comparison names the difference.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from batchlane.common.environment import CommonEnvironment

BUCKET = "<data bucket>"  # CloudFormation names the bucket; the sandbox names it after the account
COMMON = {field.alias for field in CommonEnvironment.model_fields.values()}


# --- the template's facts ------------------------------------------------------------------------


class TemplateFacts:
    def __init__(self, template: dict) -> None:
        self.resources = template["Resources"]

    def of_type(self, type_: str) -> dict[str, dict]:
        return {k: v["Properties"] for k, v in self.resources.items() if v["Type"] == type_}

    def ref(self, value: Any) -> str | None:
        """The logical id a Ref / GetAtt points at."""
        if isinstance(value, dict):
            if "Ref" in value:
                return value["Ref"]
            if "Fn::GetAtt" in value:
                return value["Fn::GetAtt"][0]
        return None

    def value(self, value: Any) -> Any:
        """A template value as the sandbox has it: a resource reference becomes the resource's name."""
        target = self.ref(value)
        if target is None:
            return value
        resource = self.resources[target]
        props = resource["Properties"]
        return {
            "AWS::DynamoDB::Table": lambda: props["TableName"],
            "AWS::Events::EventBus": lambda: props["Name"],
            "AWS::S3::Bucket": lambda: BUCKET,
            "AWS::Batch::JobQueue": lambda: props["JobQueueName"],
        }.get(resource["Type"], lambda: f"<{target}>")()

    def tables(self) -> dict[str, dict]:
        return {
            p["TableName"]: _table_facts(
                p["KeySchema"],
                p["AttributeDefinitions"],
                p.get("GlobalSecondaryIndexes", []),
                (p.get("TimeToLiveSpecification") or {}).get("AttributeName"),
            )
            for p in self.of_type("AWS::DynamoDB::Table").values()
        }

    def functions(self) -> dict[str, dict]:
        return {
            p["Handler"]: {
                "timeout": p["Timeout"],
                "environment": {k: self.value(v) for k, v in p["Environment"]["Variables"].items() if k not in COMMON},
            }
            for p in self.of_type("AWS::Lambda::Function").values()
            if p.get("Handler", "").startswith("batchlane.")
        }

    def paths(self) -> dict[tuple[str, str], dict]:
        queues, functions = self.of_type("AWS::SQS::Queue"), self.of_type("AWS::Lambda::Function")
        mappings = {self.ref(m["EventSourceArn"]): m for m in self.of_type("AWS::Lambda::EventSourceMapping").values()}
        paths = {}
        for rule in self.of_type("AWS::Events::Rule").values():
            for target in rule.get("Targets", []):
                queue_id = self.ref(target["Arn"])
                if queue_id not in mappings:
                    continue
                mapping, queue = mappings[queue_id], queues[queue_id]
                redrive = queue["RedrivePolicy"]
                dlq_id = self.ref(redrive["deadLetterTargetArn"])
                handler = functions[self.ref(mapping["FunctionName"])]["Handler"]
                bus = "batchlane" if "EventBusName" in rule else "default"
                # A path's own rule comes first; its extra rules onto the same buffer (contract.EventPath.
                # extra_rules, e.g. chunk-due) are compared in test_launch_path.
                paths.setdefault(
                    (handler, bus),
                    _path_facts(
                        pattern=self._pattern(rule["EventPattern"]),
                        retry=target["RetryPolicy"],
                        target_dlq=self.ref(target["DeadLetterConfig"]["Arn"]) == dlq_id,
                        visibility=queue["VisibilityTimeout"],
                        retention=queue["MessageRetentionPeriod"],
                        max_receive_count=redrive["maxReceiveCount"],
                        dlq_retention=queues[dlq_id]["MessageRetentionPeriod"],
                        batch_size=mapping["BatchSize"],
                        window=mapping.get("MaximumBatchingWindowInSeconds", 0),
                        partial_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
                    ),
                )
        return paths

    def _pattern(self, pattern: Any) -> Any:
        if isinstance(pattern, dict) and self.ref(pattern) is None:
            return {k: self._pattern(v) for k, v in pattern.items()}
        if isinstance(pattern, list):
            return sorted((self._pattern(v) for v in pattern), key=_order)
        return self.value(pattern)


def _order(value: Any) -> str:
    """A pattern's lists compared as sets: their values (strings, or the dicts of an ``$or``) in one order."""
    return json.dumps(value, sort_keys=True, default=str)


def _table_facts(key_schema, attributes, indexes, ttl) -> dict:
    types = {a["AttributeName"]: a["AttributeType"] for a in attributes}

    def keys(schema):
        return [(k["AttributeName"], types.get(k["AttributeName"]), k["KeyType"]) for k in schema]

    return {
        "keys": keys(key_schema),
        "ttl": ttl,
        "indexes": {
            i["IndexName"]: (
                keys(i["KeySchema"]),
                i["Projection"]["ProjectionType"],
                *([sorted(i["Projection"]["NonKeyAttributes"])] if "NonKeyAttributes" in i["Projection"] else []),
            )
            for i in indexes
        },
    }


def _path_facts(
    *,
    pattern,
    retry,
    target_dlq,
    visibility,
    retention,
    max_receive_count,
    dlq_retention,
    batch_size,
    window,
    partial_failures,
) -> dict:
    return {
        "pattern": pattern,
        "retry": (int(retry["MaximumRetryAttempts"]), int(retry["MaximumEventAgeInSeconds"])),
        "target dead-letter queue is the buffer's": target_dlq,
        "visibility": int(visibility),
        "retention": int(retention),
        "maxReceiveCount": int(max_receive_count),
        "dlq retention": int(dlq_retention),
        "batch size": int(batch_size),
        "batching window": int(window),
        "partial batch failures": partial_failures,
    }


# --- the sandbox's facts -------------------------------------------------------------------------


def sandbox_facts(config) -> dict:
    """Provision the deployment in a fresh emulator (as the sandbox does, with the stacks'
    visibility timeout) and read back what is there."""
    from batchlane.sandbox.emulator import Emulator, EndpointSession
    from batchlane.sandbox.provision import provision, provision_event_paths, reconciler_environment

    emulator = Emulator(region=config.region).start()
    try:
        session = EndpointSession(emulator.endpoint, config.region)
        deployment = provision(config, session)
        buffers = provision_event_paths(deployment, session)
        names = {deployment.bucket: BUCKET}
        functions = {
            b.handler: {
                "timeout": b.timeout_seconds,
                "environment": {k: names.get(v, v) for k, v in b.environment.items()},
            }
            for b in buffers.values()
        }
        functions["batchlane.status.handler.reconcile"] = {
            "timeout": config.reconciler.timeout_seconds,
            "environment": {k: names.get(v, v) for k, v in reconciler_environment(deployment).items()},
        }
        return {
            "tables": _sandbox_tables(session, config),
            "functions": functions,
            "paths": {
                (b.handler, "default" if b.bus == "default" else "batchlane"): _sandbox_path(session, b)
                for b in buffers.values()
            },
        }
    finally:
        emulator.stop()


def _sandbox_tables(session, config) -> dict:
    ddb = session.client("dynamodb")
    tables = {}
    for name in ddb.list_tables()["TableNames"]:
        table = ddb.describe_table(TableName=name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        tables[name] = _table_facts(
            table["KeySchema"],
            table["AttributeDefinitions"],
            table.get("GlobalSecondaryIndexes", []),
            ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
        )
    return tables


def _sandbox_path(session, buffer) -> dict:
    events, sqs = session.client("events"), session.client("sqs")
    pattern = json.loads(events.describe_rule(Name=buffer.rule, EventBusName=buffer.bus)["EventPattern"])
    [target] = events.list_targets_by_rule(Rule=buffer.rule, EventBusName=buffer.bus)["Targets"]
    queue = sqs.get_queue_attributes(QueueUrl=buffer.queue_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=buffer.dlq_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(queue["RedrivePolicy"])

    def queue_names(value):
        if isinstance(value, dict):
            return {k: queue_names(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((queue_names(v) for v in value), key=_order)
        return value.rsplit("/", 1)[-1] if isinstance(value, str) and ":job-queue/" in value else value

    return _path_facts(
        pattern=queue_names(pattern),
        retry=target["RetryPolicy"],
        target_dlq=target["DeadLetterConfig"]["Arn"] == redrive["deadLetterTargetArn"] == buffer.dlq_arn,
        visibility=queue["VisibilityTimeout"],
        retention=queue["MessageRetentionPeriod"],
        max_receive_count=redrive["maxReceiveCount"],
        dlq_retention=dlq["MessageRetentionPeriod"],
        batch_size=buffer.batch_size,
        window=buffer.batching_window_seconds,
        partial_failures=True,
    )  # the sandbox's poller always honours batchItemFailures


# --- the comparison ------------------------------------------------------------------------------


def drift(deployed: dict, sandbox: dict) -> list[str]:
    """Every fact on which the template and the sandbox differ, named."""
    problems = []
    for kind in ("tables", "functions", "paths"):
        for key in sorted(set(deployed[kind]) | set(sandbox[kind]), key=str):
            if key not in sandbox[kind]:
                problems.append(f"{kind} {key}: in the stack, not in the sandbox")
            elif key not in deployed[kind]:
                problems.append(f"{kind} {key}: in the sandbox, not in the stack")
            else:
                problems += _differences(f"{kind} {key}", deployed[kind][key], sandbox[kind][key])
    return problems


def _differences(where: str, deployed: Any, sandbox: Any) -> list[str]:
    if isinstance(deployed, dict) and isinstance(sandbox, dict):
        return [
            p
            for k in sorted(set(deployed) | set(sandbox), key=str)
            for p in _differences(f"{where} {k}", deployed.get(k, "<absent>"), sandbox.get(k, "<absent>"))
        ]
    return [] if deployed == sandbox else [f"{where}: stack {deployed!r}, sandbox {sandbox!r}"]


@pytest.fixture(scope="module")
def sandbox(dev):
    return sandbox_facts(dev.config)


def deployed_facts(template: dict) -> dict:
    facts = TemplateFacts(template)
    return {"tables": facts.tables(), "functions": facts.functions(), "paths": facts.paths()}


def test_the_sandbox_provisions_what_the_stack_deploys(dev, sandbox):
    deployed = deployed_facts(dev.json)
    assert len(deployed["paths"]) == 3 and len(deployed["tables"]) == 2 and len(deployed["functions"]) == 3
    assert drift(deployed, sandbox) == []


def _changed(template: dict, type_: str, change) -> dict:
    """A copy of the template in which every resource of ``type_`` is passed to ``change``."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == type_:
            change(resource["Properties"])
    return template


def test_a_stack_that_changes_an_event_pattern_drifts(dev, sandbox):
    def launch_rule(props):
        if props.get("EventPattern", {}).get("detail-type") == ["Task Launch Requested"]:
            props["EventPattern"]["detail-type"] = ["Task Launch Wanted"]

    problems = drift(deployed_facts(_changed(dev.json, "AWS::Events::Rule", launch_rule)), sandbox)
    assert problems == [
        "paths ('batchlane.launch.handler.handler', 'batchlane') pattern detail-type: "
        "stack ['Task Launch Wanted'], sandbox ['Task Launch Requested']"
    ]


def test_a_stack_that_changes_a_function_environment_key_drifts(dev, sandbox):
    def launcher(props):
        if props.get("Handler") == "batchlane.launch.handler.handler":
            props["Environment"]["Variables"]["ROUTING_TABLE_NAME"] = props["Environment"]["Variables"].pop(
                "ROUTING_TABLE"
            )

    problems = drift(deployed_facts(_changed(dev.json, "AWS::Lambda::Function", launcher)), sandbox)
    assert problems == [
        "functions batchlane.launch.handler.handler environment ROUTING_TABLE: "
        "stack '<absent>', sandbox 'batchlane-dev-routing'",
        "functions batchlane.launch.handler.handler environment ROUTING_TABLE_NAME: "
        "stack 'batchlane-dev-routing', sandbox '<absent>'",
    ]


def test_a_stack_that_changes_a_table_key_or_index_drifts(dev, sandbox):
    def executions(props):
        if props["TableName"].endswith("-executions"):
            props["GlobalSecondaryIndexes"][0]["KeySchema"][0]["AttributeName"] = "batchJobId"
            props["AttributeDefinitions"].append({"AttributeName": "batchJobId", "AttributeType": "S"})

    problems = drift(deployed_facts(_changed(dev.json, "AWS::DynamoDB::Table", executions)), sandbox)
    assert problems == [
        "tables batchlane-dev-executions indexes byJobId: stack ([('batchJobId', 'S', 'HASH')], 'KEYS_ONLY'), "
        "sandbox ([('jobId', 'S', 'HASH')], 'KEYS_ONLY')"
    ]


def test_a_sandbox_that_stops_following_the_contract_drifts(dev, monkeypatch):
    """The other side: the sandbox provisions an abort batch size of its own (the stack: the contract's)."""
    from batchlane.deployment import contract

    original = contract.event_paths

    def sandbox_paths(config, arns):
        paths = original(config, arns)
        return {**paths, "abort": contract.EventPath(**{**paths["abort"].__dict__, "batch_size": 5})}

    monkeypatch.setattr(contract, "event_paths", sandbox_paths)
    problems = drift(deployed_facts(dev.json), sandbox_facts(dev.config))
    assert problems == ["paths ('batchlane.status.handler.handler', 'batchlane') batch size: stack 10, sandbox 5"]
