"""The AWS calls a function makes, recorded below boto3 (every client, every retry's first attempt),
attributed to the function whose handler is running (tests only)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from batchlane.common.executions import PARTITION_KEY

# The function whose handler runs now: process-wide, not a context variable, so that the threads a
# handler's pools start (which do not copy the context) are attributed to it too. One at a time.
_RUNNING: list[str] = []


@dataclass(frozen=True)
class Call:
    function: str
    service: str  # the IAM service prefix (dynamodb, s3, batch, events, ssm, sqs)
    operation: str
    params: dict = field(hash=False, compare=False)


@contextmanager
def recording() -> Iterator[list[Call]]:
    """Every API call made while a handler wrapped by :func:`as_function` runs (its threads' too),
    until the block ends."""
    from botocore.client import BaseClient

    calls: list[Call] = []
    original = BaseClient._make_api_call

    def record(self: Any, operation: str, params: dict) -> Any:
        if _RUNNING:
            calls.append(Call(_RUNNING[-1], self.meta.service_model.signing_name, operation, dict(params)))
        return original(self, operation, params)

    BaseClient._make_api_call = record
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


def as_function(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler``, its calls attributed to function ``name``."""

    def run(*args: Any, **kwargs: Any) -> Any:
        _RUNNING.append(name)
        try:
            return handler(*args, **kwargs)
        finally:
            _RUNNING.pop()

    return run


# --- what IAM authorizes for each call ----------------------------------------------------------

_DYNAMODB_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_S3_OBJECT = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
}
_BATCH_STAR = {"DescribeJobDefinitions", "DescribeJobs", "ListJobs", "DescribeJobQueues"}
Need = tuple[str, str, dict[str, Any]]  # (action, resource ARN, condition context)


def authorizations(call: Call, account: str, region: str) -> list[Need]:
    """The (action, resource, context) IAM evaluates for ``call``; an operation this table does not
    know fails the test that meets it (add it here)."""
    p, arn = call.params, f"{region}:{account}"
    if call.service == "dynamodb":
        return _dynamodb(call, f"arn:aws:dynamodb:{arn}:table/")
    if call.service == "s3":
        if call.operation in _S3_OBJECT:
            return [(_S3_OBJECT[call.operation], f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", {})]
        if call.operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", {"s3:prefix": p.get("Prefix", "")})]
    if call.service == "batch":
        return _batch(call, f"arn:aws:batch:{arn}:")
    if call.service == "events" and call.operation == "PutEvents":
        return [
            (
                "events:PutEvents",
                f"arn:aws:events:{arn}:event-bus/{e.get('EventBusName', 'default').rsplit('/', 1)[-1]}",
                {"events:source": e["Source"], "events:detail-type": e["DetailType"]},
            )
            for e in p["Entries"]
        ]
    if call.service == "ssm" and call.operation == "GetParametersByPath":
        return [("ssm:GetParametersByPath", f"arn:aws:ssm:{arn}:parameter{p['Path']}", {})]
    if call.service == "ssm" and call.operation in ("GetParameter", "GetParameters"):
        names = p.get("Names") or [p["Name"]]
        return [(f"ssm:{call.operation}", f"arn:aws:ssm:{arn}:parameter/{n.lstrip('/')}", {}) for n in names]
    if call.service == "sqs":
        name = p.get("QueueName") or p["QueueUrl"].rsplit("/", 1)[-1]
        return [(f"sqs:{call.operation}", f"arn:aws:sqs:{arn}:{name}", {})]
    raise AssertionError(f"the IAM check does not know {call.service}:{call.operation}: add it to authorizations")


def _dynamodb(call: Call, tables: str) -> list[Need]:
    p = call.params
    if call.operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_DYNAMODB_TRANSACT[kind]}", tables + body["TableName"], {})
            for item in p["TransactItems"]
            for kind, body in item.items()
        ]
    if call.operation == "BatchGetItem":
        return [
            (f"dynamodb:{call.operation}", tables + t, _leading_keys(r["Keys"])) for t, r in p["RequestItems"].items()
        ]
    if call.operation == "BatchWriteItem":
        return [(f"dynamodb:{call.operation}", tables + t, {}) for t in p["RequestItems"]]
    index = f"/index/{p['IndexName']}" if p.get("IndexName") else ""
    keys = [p[k] for k in ("Key", "Item") if k in p]
    context = _leading_keys(keys) if keys else _query_leading_keys(p) if not index else {}
    return [(f"dynamodb:{call.operation}", tables + p["TableName"] + index, context)]


def _leading_keys(keys: list[dict]) -> dict[str, list[str]]:
    """``dynamodb:LeadingKeys``: the partition keys of these items (the executions table's ``pk``),
    in the client's form (``{"S": ...}``) or the resource API's (plain values)."""
    return {"dynamodb:LeadingKeys": [_plain(k[PARTITION_KEY]) for k in keys if PARTITION_KEY in k]}


def _plain(value: Any) -> Any:
    return value["S"] if isinstance(value, dict) and "S" in value else value


def _query_leading_keys(p: dict) -> dict[str, list[str]]:
    """A Query's partition key: the value its key condition binds to ``pk`` (an expression, or the
    resource API's condition object, built as boto3 builds it)."""
    condition, names, values = (
        p.get("KeyConditionExpression", ""),
        p.get("ExpressionAttributeNames", {}),
        p.get("ExpressionAttributeValues", {}),
    )
    if not isinstance(condition, str):
        from boto3.dynamodb.conditions import ConditionExpressionBuilder

        built = ConditionExpressionBuilder().build_expression(condition, is_key_condition=True)
        condition, names, values = (
            built.condition_expression,
            built.attribute_name_placeholders,
            built.attribute_value_placeholders,
        )
    for name, value in re.findall(r"([#\w]+) = (:\w+)", condition):
        if names.get(name, name) == PARTITION_KEY:
            return {"dynamodb:LeadingKeys": [_plain(values[value])]}
    return {}


def _batch(call: Call, prefix: str) -> list[Need]:
    p = call.params
    if call.operation in _BATCH_STAR:
        return [(f"batch:{call.operation}", "*", {})]
    if call.operation == "SubmitJob":
        queue = p["jobQueue"] if p["jobQueue"].startswith("arn:") else f"{prefix}job-queue/{p['jobQueue']}"
        definition = p["jobDefinition"]
        definition = definition if definition.startswith("arn:") else f"{prefix}job-definition/{definition}"
        submit: list[Need] = [("batch:SubmitJob", queue, {}), ("batch:SubmitJob", definition, {})]
        return submit + ([("batch:TagResource", f"{prefix}job/new", {})] if p.get("tags") else [])
    if call.operation == "RegisterJobDefinition":
        definition = f"{prefix}job-definition/{p['jobDefinitionName']}"
        needs: list[Need] = [("batch:RegisterJobDefinition", definition, {})]
        needs += [("batch:TagResource", definition, {})] if p.get("tags") else []
        container = p.get("containerProperties", {})
        roles = [container[k] for k in ("jobRoleArn", "executionRoleArn") if container.get(k)]
        return needs + [("iam:PassRole", r, {"iam:PassedToService": "batch.amazonaws.com"}) for r in roles]
    if call.operation in ("TerminateJob", "CancelJob"):
        return [(f"batch:{call.operation}", f"{prefix}job/{p['jobId']}", {})]
    raise AssertionError(f"the IAM check does not know batch:{call.operation}: add it to authorizations")
