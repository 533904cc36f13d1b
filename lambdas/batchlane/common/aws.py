"""boto3 clients with one retry policy, and the line between transient and permanent errors."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from batchlane.common.errors import TransientError

# Requests a client keeps connections for: as many as the threads that share one (the aggregator
# reads children's outputs with this many). botocore's default of 10 would make every request beyond
# the tenth open a new TLS connection and drop it afterwards ("Connection pool is full").
MAX_POOL_CONNECTIONS = 32
# botocore retries quickly a few times; past that the SQS message is retried later. For calls whose
# repetition is harmless (reads, idempotent writes, conditional writes that know their own first
# success): docs/exactly-once.md lists every call and its policy.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 4},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
# For calls that are not idempotent (SubmitJob, PutEvents): a retry after a lost response duplicates
# the effect. botocore's ``max_attempts`` counts retries (1 would mean two attempts): the total is set.
_SINGLE_ATTEMPT = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
# Throttling: the request was turned away before AWS processed it (docs/throughput.md).
_THROTTLE_CODES = {
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
}
_TRANSIENT_CODES = _THROTTLE_CODES | {
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalFailure",
    "ServerException",
    "TransactionConflictException",
}


def low_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item of plain values (ints, not floats) in DynamoDB's low-level form."""
    from boto3.dynamodb.types import TypeSerializer

    from batchlane.common.values import to_dynamo

    serialize = TypeSerializer().serialize
    return {k: serialize(v) for k, v in to_dynamo(item).items()}


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's low-level form as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    from batchlane.common.values import from_dynamo

    deserialize = TypeDeserializer().deserialize
    return from_dynamo({k: deserialize(v) for k, v in item.items()})


@cache
def client(service: str):
    return boto3.client(
        service, config=_CONFIG, region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )


@cache
def single_attempt_client(service: str):
    """A client that never retries: the caller decides what an unknown outcome means."""
    return boto3.client(
        service,
        config=_SINGLE_ATTEMPT,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@cache
def resource(service: str):
    return boto3.resource(
        service, config=_CONFIG, region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh AWS mock per test)."""
    client.cache_clear()
    single_attempt_client.cache_clear()
    resource.cache_clear()
    _queue_url.cache_clear()


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or status == 429 or status >= 500
    return isinstance(exc, (BotoConnectionError, BotoCoreError))


def is_throttle(exc: BaseException) -> bool:
    """AWS refused the call for its rate (HTTP 429 or a throttling code): the call did not happen."""
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in _THROTTLE_CODES or status == 429


def defer_message(queue_arn: str, receipt_handle: str, seconds: int) -> bool:
    """Make an SQS message in hand visible again in ``seconds`` (ChangeMessageVisibility), instead
    of the queue's visibility timeout. Best effort: False if it could not be done (the message then
    comes back after the visibility timeout, which is safe, only later)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    try:
        sqs = client("sqs")
        sqs.change_message_visibility(
            QueueUrl=_queue_url(name, account),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(43_200, int(seconds))),
        )
        return True
    except (ClientError, BotoCoreError):
        return False


@cache
def _queue_url(name: str, account: str) -> str:
    return client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def raise_if_transient(operation: str, exc: BaseException) -> None:
    """Throttling, 5xx and connection errors become TransientError: the message is retried later."""
    if is_transient(exc):
        detail = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        raise TransientError(f"{operation}: {detail}") from exc


def never_sent(exc: BaseException) -> bool:
    """The request cannot have reached AWS (no connection was made): it had no effect."""
    return isinstance(exc, (EndpointConnectionError, ConnectTimeoutError))


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")
