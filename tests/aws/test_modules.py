"""The Terraform modules on a real account: what moto and the local mode cannot prove."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from pytest_terraform import terraform


def attributes(band: str, event_type: str) -> dict[str, Any]:
    return {
        "band": {"DataType": "String", "StringValue": band},
        "eventType": {"DataType": "String", "StringValue": event_type},
    }


@terraform("data_messaging", scope="session")
def test_tables_have_streams_recovery_and_customer_managed_encryption(data_messaging: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    users = dynamodb.describe_table(TableName=data_messaging.outputs["users_table_name"]["value"])["Table"]
    assert users["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert users["SSEDescription"]["SSEType"] == "KMS"
    backups = dynamodb.describe_continuous_backups(TableName=users["TableName"])["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    emails = dynamodb.describe_table(TableName=data_messaging.outputs["emails_table_name"]["value"])["Table"]
    assert {index["IndexName"] for index in emails["GlobalSecondaryIndexes"]} == {"byUser", "byStatus"}


@terraform("data_messaging", scope="session")
def test_sns_delivers_only_at_risk_events_raw_to_the_encrypted_queue(data_messaging: Any) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = data_messaging.outputs["events_topic_arn"]["value"]
    queue = data_messaging.outputs["email_requests_queue_url"]["value"]
    sns.publish(
        TopicArn=topic, Message=json.dumps({"n": "good"}), MessageAttributes=attributes("good", "client.updated")
    )
    sns.publish(
        TopicArn=topic, Message=json.dumps({"n": "gone"}), MessageAttributes=attributes("critical", "client.deleted")
    )
    sns.publish(
        TopicArn=topic, Message=json.dumps({"n": "risky"}), MessageAttributes=attributes("at_risk", "client.created")
    )
    received: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not received:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            received.append(message["Body"])
    time.sleep(5)
    received += [m["Body"] for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5).get("Messages", [])]
    assert received == [json.dumps({"n": "risky"})]  # raw: the body is the message itself, no SNS envelope
