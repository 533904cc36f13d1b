"""The AWS calls a function makes, recorded below boto3 (every client, every retry's first attempt),
attributed to the function whose handler is running (tests only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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
Need = tuple[str, str, dict[str, str]]  # (action, resource ARN, condition context)


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
        buses = {e.get("EventBusName", "default") for e in p["Entries"]}
        return [("events:PutEvents", f"arn:aws:events:{arn}:event-bus/{b.rsplit('/', 1)[-1]}", {}) for b in buses]
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
    if call.operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{call.operation}", tables + t, {}) for t in p["RequestItems"]]
    index = f"/index/{p['IndexName']}" if p.get("IndexName") else ""
    return [(f"dynamodb:{call.operation}", tables + p["TableName"] + index, {})]


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
