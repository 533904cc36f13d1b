"""The emulator's item-level rollback: a cancelled transaction leaves every item as it was, a
committed one writes every item, exactly as moto's own whole-table rollback does."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from batchlane.sandbox import moto_speedups


@pytest.fixture
def table():
    moto_speedups.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "gone"}, "n": {"N": "9"}})
        yield client


def items(client) -> dict[str, str]:
    return {i["sk"]["S"]: i["n"]["N"] for i in client.scan(TableName="t")["Items"]}


def writes(condition_on_last: str) -> list[dict]:
    return [
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "new"}, "n": {"N": "5"}}}},
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "gone"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}, "n": {"N": "7"}},
                 "ConditionExpression": condition_on_last}},
    ]


def test_the_speedup_is_installed_once():
    moto_speedups.install()
    moto_speedups.install()
    assert moto_speedups.installed()


def test_a_cancelled_transaction_puts_back_every_item_it_touched(table):
    with pytest.raises(ClientError) as raised:
        table.transact_write_items(TransactItems=writes("attribute_exists(pk)"))
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "ConditionalCheckFailed" in str(raised.value)
    assert items(table) == {"1": "1", "gone": "9"}  # the update, the put and the delete undone


def test_a_committed_transaction_writes_every_item(table):
    table.transact_write_items(TransactItems=writes("attribute_not_exists(pk)"))
    assert items(table) == {"1": "2", "new": "5", "x": "7"}


def test_two_operations_on_one_item_are_refused_and_nothing_is_written(table):
    twice = writes("attribute_not_exists(pk)")[:1] * 2
    with pytest.raises(ClientError):
        table.transact_write_items(TransactItems=twice)
    assert items(table) == {"1": "1", "gone": "9"}
