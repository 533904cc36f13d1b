"""Routing items read from DynamoDB through Powertools' parameter provider, with its cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchlane.common import aws
from batchlane.common.values import from_dynamo
from batchlane.routing.engine import RoutingTable
from batchlane.routing.items import KEY_ATTR, PARTITION, QUEUE_PREFIX, SORT_ATTR, table_from_items


class RoutingItemsProvider(DynamoDBProvider):
    """Powertools' provider, but returning whole items: routing items are flat and hand-edited,
    and one item without a ``value`` attribute must not break the whole read."""

    # Powertools types the values as strings (one ``value`` attribute per item); whole items are what
    # this provider is for, and the caller reads them as such.
    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        sdk_options["KeyConditionExpression"] = Key(self.key_attr).eq(path)
        items: list[dict] = []
        while True:
            response = self.table.query(**sdk_options)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            sdk_options["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return {item[self.sort_attr]: from_dynamo(item) for item in items}


class DynamoRoutingSource:
    def __init__(
        self, table_name: str, *, on_malformed: Callable[[list[str]], None] = lambda problems: None, boto3_client=None
    ) -> None:
        self.provider = RoutingItemsProvider(
            table_name, key_attr=KEY_ATTR, sort_attr=SORT_ATTR, value_attr="unused", boto3_client=boto3_client
        )
        self._on_malformed = on_malformed
        self._parsed: tuple[object, RoutingTable] | None = None

    def table(self, max_age: int) -> RoutingTable:
        # Without a transform, get_multiple hands back what _get_multiple returned: whole items.
        items = cast(dict[str, dict[str, Any]], self.provider.get_multiple(PARTITION, max_age=max_age))
        # The provider hands back the same cached object while it is fresh: parse (and report
        # malformed items) once per read from DynamoDB, not once per launch.
        if self._parsed is None or self._parsed[0] is not items:
            table, problems = table_from_items(items)
            if problems:
                self._on_malformed(problems)
            self._parsed = (items, table)
        return self._parsed[1]


class DynamoQueueHealth:
    """Writes a queue item's health (``unhealthyUntil``, ``blockedReason``): the aggregator's part
    of the routing table. Only existing queue items are touched, and a mark is only extended."""

    def __init__(self, table_name: str, *, boto3_resource=None) -> None:
        self.table_name = table_name
        self._resource = boto3_resource

    def mark_unhealthy(self, queue: str, reason: str, until: int) -> bool:
        table = (self._resource or aws.resource("dynamodb")).Table(self.table_name)
        try:
            table.update_item(
                Key={KEY_ATTR: PARTITION, SORT_ATTR: QUEUE_PREFIX + queue},
                UpdateExpression="SET unhealthyUntil = :until, blockedReason = :reason",
                ConditionExpression="attribute_exists(#sk) "
                "AND (attribute_not_exists(unhealthyUntil) OR unhealthyUntil < :until)",
                ExpressionAttributeNames={"#sk": SORT_ATTR},
                ExpressionAttributeValues={":until": until, ":reason": reason or "jobs reported blocked"},
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
