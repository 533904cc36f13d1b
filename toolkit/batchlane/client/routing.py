"""The routing table read and written directly with boto3: clients (``batchlane routes``, the
sandbox demo) want fresh, consistent reads, not the launcher's cached provider. Item shapes:
``batchlane.routing.items``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from batchlane.common.values import from_dynamo
from batchlane.routing.items import KEY_ATTR, PARTITION, SORT_ATTR

# The launch id a routing decision is explained for when none is given. With several candidate
# queues for the tag the choice depends on the launch id, so the explanation says so.
SAMPLE_LAUNCH_ID = "sample-launch"


class RoutingTableStore:
    def __init__(self, dynamodb_resource, table_name: str) -> None:
        self.name = table_name
        self.table = dynamodb_resource.Table(table_name)

    def items(self) -> dict[str, dict[str, Any]]:
        """Every routing item, ``{sk: item}`` (one consistent Query of the routing partition)."""
        from boto3.dynamodb.conditions import Key

        request: dict[str, Any] = {"KeyConditionExpression": Key(KEY_ATTR).eq(PARTITION), "ConsistentRead": True}
        found: dict[str, dict[str, Any]] = {}
        while True:
            response = self.table.query(**request)
            for item in response.get("Items", []):
                found[item[SORT_ATTR]] = from_dynamo(item)
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def write(self, puts: Iterable[Mapping[str, Any]] = (), deletes: Iterable[str] = ()) -> None:
        """BatchWriteItem (25 per call, unprocessed items retried by boto3's batch writer)."""
        with self.table.batch_writer() as batch:
            for item in puts:
                batch.put_item(Item=dict(item))
            for sk in deletes:
                batch.delete_item(Key={KEY_ATTR: PARTITION, SORT_ATTR: sk})

    def put(self, item: Mapping[str, Any]) -> None:
        self.table.put_item(Item=dict(item))

    def delete(self, sk: str) -> bool:
        """Delete one item; False when there was none."""
        from botocore.exceptions import ClientError

        try:
            self.table.delete_item(
                Key={KEY_ATTR: PARTITION, SORT_ATTR: sk},
                ConditionExpression="attribute_exists(#sk)",
                ExpressionAttributeNames={"#sk": SORT_ATTR},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
