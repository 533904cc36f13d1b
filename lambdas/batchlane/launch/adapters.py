"""Thin AWS adapters behind the launch service's ports."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from batchlane.common import aws
from batchlane.common.chunks import Chunks
from batchlane.common.errors import Refused, TransientError
from batchlane.common.executions import (
    EXPIRES_AT,
    JOB_FINAL_STATUSES,
    LAUNCH_SK,
    REJECTION_SK,
    SORT_KEY,
    SUBMITTING,
    SUMMARY_SK,
    ChunkRecord,
    LaunchRecord,
    chunk_sk,
    chunk_state_sk,
    key,
)
from batchlane.common.rate import Throttled, TokenBucket, backoff
from batchlane.common.values import to_dynamo
from batchlane.launch.planner import JobDefinitionSpec
from batchlane.launch.ports import LaunchInProgress, SubmitOutcomeUnknown, SubmittedJob

_DESERIALIZE = TypeDeserializer()


# Refusals that no retry will change: the request itself (ClientException, ValidationException)
# or its permissions (AccessDenied, AccessDeniedException: a queue outside the launcher's policy, a
# role IAM does not let it pass). Retried, they would only end in the DLQ with no answer sent.
_REFUSAL_CODES = ("ClientException", "ValidationException")
_REFUSAL_PREFIX = "AccessDenied"


def is_refusal(exc: ClientError) -> bool:
    code = aws.error_code(exc) or ""
    return code in _REFUSAL_CODES or code.startswith(_REFUSAL_PREFIX)


def _call(operation: str, fn, **kwargs):
    """Call AWS; throttling and 5xx become TransientError (the message is retried)."""
    try:
        return fn(**kwargs)
    except BotoCoreError as exc:
        aws.raise_if_transient(operation, exc)
        raise
    except ClientError as exc:
        aws.raise_if_transient(operation, exc)
        raise


def _refusable_call(operation: str, fn, **kwargs):
    """:func:`_call` for the calls that submit a launch (Batch, S3): a refusal becomes Refused, and
    the launch is rejected with AWS's message."""
    try:
        return _call(operation, fn, **kwargs)
    except ClientError as exc:
        if is_refusal(exc):
            error = exc.response.get("Error", {})
            raise Refused(operation, error.get("Message") or aws.error_code(exc) or "refused") from exc
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
        found = _refusable_call(
            "DescribeJobDefinitions", batch.describe_job_definitions, jobDefinitionName=name, status="ACTIVE"
        )
        revisions = sorted(found.get("jobDefinitions", []), key=lambda d: d["revision"])
        if revisions:
            arn = revisions[-1]["jobDefinitionArn"]
        else:
            arn = _refusable_call("RegisterJobDefinition", batch.register_job_definition, **spec.register_request())[
                "jobDefinitionArn"
            ]
        self._known[name] = arn
        return arn


class BatchJobs:
    """SubmitJob paced by a token bucket per Lambda container (``rate`` per second: the
    deployment's submit rate over the event source mapping's maximum concurrency), and throttles
    absorbed: a 429 did not create the job, so it is retried here with jittered back-off while
    the invocation has time, then raised as :class:`Throttled` (the claim is released, the message
    delayed). Each thread has its own bucket and deadline: in Lambda a container runs one
    invocation at a time; the sandbox runs concurrent invocations as threads of one process."""

    # Throttle retries of one submission stop after this long, so one launch cannot spend its
    # batch's time; the SQS back-off takes over from there.
    THROTTLE_RETRY_SECONDS = 10.0
    THROTTLE_BACKOFF = (0.05, 1.0)  # base, cap: seconds

    def __init__(self, rate: float | None = None, *, clock=time.monotonic, sleep=time.sleep, rng=random.random) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._local = threading.local()

    def _bucket(self) -> TokenBucket | None:
        if self.rate is None:
            return None
        bucket = getattr(self._local, "bucket", None)
        if bucket is None:
            bucket = self._local.bucket = TokenBucket(self.rate, clock=self._clock, sleep=self._sleep)
        return bucket

    @property
    def deadline(self) -> float:
        """The last moment (on this adapter's clock) a submission may wait until."""
        return getattr(self._local, "deadline", float("inf"))

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._local.deadline = value

    def submit(self, request: dict[str, Any]) -> SubmittedJob:
        """One SubmitJob per attempt, no SDK retry: after a lost response a retry would create a
        second job. Only a throttled attempt (which created nothing) is made again."""
        bucket = self._bucket()
        give_up = min(self.deadline, self._clock() + self.THROTTLE_RETRY_SECONDS)
        attempt = 0
        while True:
            if bucket is not None and not bucket.take(self.deadline):
                raise Throttled("SubmitJob: no submission slot before the invocation's deadline")
            try:
                response = aws.single_attempt_client("batch").submit_job(**request)
                return SubmittedJob(job_id=response["jobId"], job_arn=response["jobArn"])
            except ClientError as exc:
                if aws.is_throttle(exc):
                    attempt += 1
                    pause = backoff(attempt, base=self.THROTTLE_BACKOFF[0], cap=self.THROTTLE_BACKOFF[1], rng=self._rng)
                    if self._clock() + pause > give_up:
                        raise Throttled(f"SubmitJob: {aws.error_code(exc) or 429} ({attempt} attempts)") from exc
                    self._sleep(pause)
                    continue
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if not aws.is_transient(exc) and (400 <= status < 500 or is_refusal(exc)):
                    raise Refused(
                        "SubmitJob", exc.response.get("Error", {}).get("Message", "") or aws.error_code(exc)
                    ) from exc
                raise SubmitOutcomeUnknown(f"SubmitJob: {aws.error_code(exc) or status}") from exc
            except BotoCoreError as exc:
                if aws.never_sent(exc):
                    raise TransientError(f"SubmitJob: {type(exc).__name__}") from exc
                raise SubmitOutcomeUnknown(f"SubmitJob: {type(exc).__name__}") from exc

    def find(self, queue: str, job_name: str) -> SubmittedJob | None:
        # With a filter, ListJobs returns jobs in every status (recently created ones included).
        pages = (
            aws.client("batch")
            .get_paginator("list_jobs")
            .paginate(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [job_name]}])
        )
        found: list[dict[str, Any]] = []
        try:
            for page in pages:
                found += [job for job in page.get("jobSummaryList", []) if job.get("jobName") == job_name]
        except (ClientError, BotoCoreError) as exc:
            aws.raise_if_transient("ListJobs", exc)
            raise
        if not found:
            return None
        first = min(found, key=lambda job: (job.get("createdAt") or 0, job["jobId"]))
        return SubmittedJob(job_id=first["jobId"], job_arn=first["jobArn"])


class S3InputStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        content_type = "application/octet-stream" if key.endswith(".idx") else "application/x-ndjson"
        _refusable_call(
            "PutObject", aws.client("s3").put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
        )


Claimable = LaunchRecord | ChunkRecord


def _model(sk: str) -> type[LaunchRecord] | type[ChunkRecord]:
    return LaunchRecord if sk == LAUNCH_SK else ChunkRecord


def _token_of(low_level_item: dict[str, Any]) -> str | None:
    return low_level_item.get("leaseToken", {}).get("S")


class ExecutionsLedger:
    """The executions table's ``launch`` item and the ``chunk#<c>`` items of a chunked map task
    (batchlane.common.executions): both claimed, taken over and completed the same way."""

    def __init__(self, table_name: str, *, retention_seconds: int = 0) -> None:
        self.table_name = table_name
        self.retention_seconds = retention_seconds  # the table's TTL attribute expiresAt; 0: never

    def _item(self, record: Claimable) -> dict[str, Any]:
        item = record.to_item()
        if self.retention_seconds:
            item[EXPIRES_AT] = int(time.time()) + self.retention_seconds
        return to_dynamo(item)

    @property
    def _table(self):
        return aws.resource("dynamodb").Table(self.table_name)

    def claim(self, record: Claimable) -> Claimable | None:
        sk = record.to_item()[SORT_KEY]
        try:
            _call(
                "PutItem",
                self._table.put_item,
                Item=self._item(record),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")  # the existing record, in low-level form: no extra read
            if old:
                if _token_of(old) == record.lease_token:
                    return None  # botocore retried our own claim after its answer was lost: it is ours
                return _model(sk).from_item({k: _DESERIALIZE.deserialize(v) for k, v in old.items()})
            existing = self._get(record.key, sk)
            if existing is None:
                raise LaunchInProgress(f"launch {record.key}: the record changed while it was claimed") from exc
            return existing

    def take_over(self, record: Claimable, old_token: str | None) -> bool:
        try:
            _call(
                "PutItem",
                self._table.put_item,
                Item=self._item(record),
                ConditionExpression="#s = :submitting AND leaseToken = :old",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":submitting": SUBMITTING, ":old": old_token or ""},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                # A retry of our own take-over whose answer was lost finds our token: it is ours.
                return _token_of(exc.response.get("Item") or {}) == record.lease_token
            raise

    def complete(self, launch_key: str, token: str, fields: dict[str, Any], sk: str = LAUNCH_SK) -> Claimable:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": to_dynamo(v) for i, v in enumerate(fields.values())}
        try:
            response = _call(
                "UpdateItem",
                self._table.update_item,
                Key=key(launch_key, sk),
                UpdateExpression="SET "
                + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
                + " REMOVE leaseUntil",
                ConditionExpression="leaseToken = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":token": token},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                # Another delivery took the claim over (we were slower than the lease): it finds our job.
                raise LaunchInProgress(f"launch {launch_key} ({sk}) was taken over before it was recorded") from exc
            raise
        return _model(sk).from_item(response["Attributes"])

    def release(self, launch_key: str, token: str | None, sk: str = LAUNCH_SK) -> None:
        try:
            _call(
                "DeleteItem",
                self._table.delete_item,
                Key=key(launch_key, sk),
                ConditionExpression="leaseToken = :token",
                ExpressionAttributeValues={":token": token or ""},
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise

    def _get(self, launch_key: str, sk: str) -> Claimable | None:
        item = _call("GetItem", self._table.get_item, Key=key(launch_key, sk), ConsistentRead=True).get("Item")
        return _model(sk).from_item(item) if item else None

    def get(self, launch_key: str) -> LaunchRecord | None:
        record = self._get(launch_key, LAUNCH_SK)
        return record if isinstance(record, LaunchRecord) else None

    def get_chunk(self, launch_key: str, chunk: int) -> ChunkRecord | None:
        record = self._get(launch_key, chunk_sk(chunk))
        return record if isinstance(record, ChunkRecord) else None

    def phase(self, launch_key: str) -> str | None:
        """The phase of the launch's status summary (written by the aggregator; None: none yet)."""
        item = _call(
            "GetItem",
            self._table.get_item,
            Key=key(launch_key, SUMMARY_SK),
            ConsistentRead=True,
            ProjectionExpression="#p",
            ExpressionAttributeNames={"#p": "phase"},
        ).get("Item")
        return (item or {}).get("phase")

    def chunk_ended(self, launch_key: str, chunks: Chunks, chunk: int) -> bool:
        item = _call(
            "GetItem",
            self._table.get_item,
            Key=key(launch_key, chunk_state_sk(chunks, chunk)),
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item")
        return (item or {}).get("status") in JOB_FINAL_STATUSES

    def note_rerun(self, launch_key: str, rerun_id: str) -> None:
        # A string set: adding the same id again changes nothing. Never creates a launch item.
        try:
            _call(
                "UpdateItem",
                self._table.update_item,
                Key=key(launch_key, LAUNCH_SK),
                UpdateExpression="ADD reruns :r",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":r": {rerun_id}},
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise

    def record_rejection(self, launch_key: str, problems: list[dict[str, str]]) -> None:
        item = {**key(launch_key, REJECTION_SK), "problems": problems, "rejectedAt": int(time.time() * 1000)}
        if self.retention_seconds:
            item[EXPIRES_AT] = int(time.time()) + self.retention_seconds
        _call("PutItem", self._table.put_item, Item=to_dynamo(item))
