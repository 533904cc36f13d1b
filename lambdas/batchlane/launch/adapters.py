"""Thin AWS adapters behind the launch service's ports."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from batchlane.common import aws
from batchlane.common.values import from_dynamo, to_dynamo
from batchlane.common.errors import Refused
from batchlane.launch.planner import JobDefinitionSpec
from batchlane.launch.ports import SubmittedJob

_DESERIALIZE = TypeDeserializer()


def _call(operation: str, fn, **kwargs):
    """Call AWS; throttling and 5xx become TransientError (the message is retried), and Batch's
    ClientException (a request it will never accept) becomes Refused (the launch is rejected)."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        aws.raise_if_transient(operation, exc)
        if aws.error_code(exc) == "ClientException":
            raise Refused(operation, exc.response.get("Error", {}).get("Message", "")) from exc
        raise


class BatchJobDefinitions:
    """Registered on demand, found by their content-derived name after a cold start."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def ensure(self, spec: JobDefinitionSpec) -> str:
        name = spec.name
        if name in self._known:
            return self._known[name]
        batch = aws.client("batch")
        found = _call("DescribeJobDefinitions", batch.describe_job_definitions, jobDefinitionName=name, status="ACTIVE")
        revisions = sorted(found.get("jobDefinitions", []), key=lambda d: d["revision"])
        if revisions:
            arn = revisions[-1]["jobDefinitionArn"]
        else:
            arn = _call("RegisterJobDefinition", batch.register_job_definition, **spec.register_request())["jobDefinitionArn"]
        self._known[name] = arn
        return arn


class BatchJobs:
    def submit(self, request: dict[str, Any]) -> SubmittedJob:
        response = _call("SubmitJob", aws.client("batch").submit_job, **request)
        return SubmittedJob(job_id=response["jobId"], job_arn=response["jobArn"])

    def find(self, queue: str, job_name: str) -> SubmittedJob | None:
        # With a filter, ListJobs returns jobs in every status (recently created ones included).
        pages = aws.client("batch").get_paginator("list_jobs").paginate(
            jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
        )
        try:
            for page in pages:
                for job in page.get("jobSummaryList", []):
                    if job.get("jobName") == job_name:
                        return SubmittedJob(job_id=job["jobId"], job_arn=job["jobArn"])
        except ClientError as exc:
            aws.raise_if_transient("ListJobs", exc)
            raise
        return None


class S3InputStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        _call("PutObject", aws.client("s3").put_object, Bucket=self.bucket, Key=key, Body=body,
              ContentType="application/x-ndjson")


class DynamoLedger:
    """The execution record's ``launch`` item (docs/contracts.md)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self):
        return aws.resource("dynamodb").Table(self.table_name)

    def claim(self, item: dict[str, Any]) -> dict[str, Any] | None:
        try:
            _call("PutItem", self._table.put_item, Item=to_dynamo(item),
                  ConditionExpression="attribute_not_exists(launchId)",
                  ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")  # the existing record, in low-level form: no extra read
            if old:
                return from_dynamo({k: _DESERIALIZE.deserialize(v) for k, v in old.items()})
            return self.get(item["launchId"]) or {}

    def take_over(self, item: dict[str, Any], old_token: str) -> bool:
        try:
            _call("PutItem", self._table.put_item, Item=to_dynamo(item),
                  ConditionExpression="#s = :submitting AND leaseToken = :old",
                  ExpressionAttributeNames={"#s": "state"},
                  ExpressionAttributeValues={":submitting": "SUBMITTING", ":old": old_token})
            return True
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise

    def complete(self, launch_id: str, token: str, fields: dict[str, Any]) -> dict[str, Any]:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": to_dynamo(v) for i, v in enumerate(fields.values())}
        response = _call(
            "UpdateItem", self._table.update_item,
            Key={"launchId": launch_id, "sk": "launch"},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))) + " REMOVE leaseUntil",
            ConditionExpression="leaseToken = :token",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":token": token},
            ReturnValues="ALL_NEW",
        )
        return from_dynamo(response["Attributes"])

    def release(self, launch_id: str, token: str) -> None:
        try:
            self._table.delete_item(Key={"launchId": launch_id, "sk": "launch"},
                                    ConditionExpression="leaseToken = :token",
                                    ExpressionAttributeValues={":token": token})
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise

    def get(self, launch_id: str) -> dict[str, Any] | None:
        item = _call("GetItem", self._table.get_item, Key={"launchId": launch_id, "sk": "launch"},
                     ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None
