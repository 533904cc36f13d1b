"""The emulator's changes to moto answer as moto does: a cancelled transaction leaves every item
as it was and a committed one writes every item (as moto's whole-table rollback does); queues still
count their messages and FIFO queues still deduplicate by content; EventBridge still delivers the
default input to its targets."""

from __future__ import annotations

import json

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
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "gone"}, "n": {"N": "9"}})
        yield client


def items(client) -> dict[str, str]:
    return {i["sk"]["S"]: i["n"]["N"] for i in client.scan(TableName="t")["Items"]}


def writes(condition_on_last: str) -> list[dict]:
    return [
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "new"}, "n": {"N": "5"}}}},
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "gone"}}}},
        {
            "Put": {
                "TableName": "t",
                "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}, "n": {"N": "7"}},
                "ConditionExpression": condition_on_last,
            }
        },
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


@pytest.fixture
def sqs():
    moto_speedups.install()
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_a_queue_still_counts_its_messages(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
    sqs.send_message(QueueUrl=url, MessageBody="late", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("2", "1", "1")


def test_a_fifo_queue_still_drops_a_message_it_has_seen(sqs):
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "2"
    )


def test_a_fifo_queue_without_content_deduplication_still_needs_an_id(sqs):
    url = sqs.create_queue(QueueName="strict.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError, match="MessageDeduplicationId"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")


def test_a_rule_still_delivers_each_event_to_its_queue_as_the_default_input(sqs):
    events = boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="r", EventPattern='{"source": ["s"]}')
    events.put_targets(Rule="r", Targets=[{"Id": "1", "Arn": arn}])
    for n in range(2):  # the second goes through the compiled input paths
        events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": f'{{"n": {n}}}'}])
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["detail"]["n"] for b in bodies) == [0, 1]
    assert {(b["source"], b["detail-type"], b["region"]) for b in bodies} == {("s", "d", "us-east-1")}


def test_a_queue_still_stops_at_a_message_past_its_retention(sqs):
    from moto.sqs.models import sqs_backends

    url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
    queue = sqs_backends["123456789012"]["us-east-1"].get_queue("kept")
    queue._messages[2].sent_timestamp -= 61_000  # sent 61 s ago: past its 60 s retention
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["0", "1"]


def test_a_deleted_message_is_gone_a_second_delete_is_accepted_and_a_forged_handle_is_refused(sqs):
    url = sqs.create_queue(QueueName="d", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # visible again at once: a new handle
    assert first["Body"] in [m["Body"] for m in again]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # its old handle still deletes it
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="forged")
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in left) == sorted({"0", "1", "2"} - {first["Body"]})


def test_a_batch_delete_deletes_its_messages_and_names_each_invalid_handle(sqs):
    url = sqs.create_queue(QueueName="b")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(5)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    entries = [{"Id": f"e{n}", "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=[*entries, {"Id": "bad", "ReceiptHandle": "forged"}])
    assert sorted(s["Id"] for s in answer["Successful"]) == ["e0", "e1", "e2"]
    assert [(f["Id"], f["Code"]) for f in answer["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    again = sqs.delete_message_batch(QueueUrl=url, Entries=entries)  # a day later: already deleted, accepted
    assert len(again["Successful"]) == 3 and not again.get("Failed")
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("2", "0")


def test_a_handle_of_another_queue_deletes_nothing_there(sqs):
    a, b = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("qa", "qb"))
    sqs.send_message(QueueUrl=a, MessageBody="in a")
    sqs.send_message(QueueUrl=b, MessageBody="in b")
    handle = sqs.receive_message(QueueUrl=a)["Messages"][0]["ReceiptHandle"]
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=b, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=a, ReceiptHandle=handle)
    counts = [sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in (a, b)]
    assert [(c["ApproximateNumberOfMessages"], c["ApproximateNumberOfMessagesNotVisible"]) for c in counts] == [
        ("0", "0"),
        ("1", "0"),
    ]
