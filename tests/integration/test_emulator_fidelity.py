"""The emulator answers as AWS does where the Terraform reads back what it wrote (localmode/emulator_fidelity.py):
each test fails on moto as it comes."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localmode import emulator_fidelity

ACCOUNT = "123456789012"


@pytest.fixture
def moto() -> Iterator[None]:
    emulator_fidelity.install()
    with mock_aws():
        yield


def _queue_with_dead_letters(sqs: Any) -> tuple[str, str]:
    dead = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5}, separators=(",", ":"))
    work = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    return work, dead


def test_a_queue_answers_the_redrive_allow_policy_it_was_given(moto: None) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    work, dead = _queue_with_dead_letters(sqs)
    work_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [work_arn]}, separators=(",", ":"))

    sqs.set_queue_attributes(QueueUrl=dead, Attributes={"RedriveAllowPolicy": allow})

    named = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    every = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["All"])["Attributes"]
    assert named == {"RedriveAllowPolicy": allow}
    assert every["RedriveAllowPolicy"] == allow


def test_setting_one_attribute_keeps_the_queue_policy(moto: None) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    work, _ = _queue_with_dead_letters(sqs)
    arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                                      "Action": "sqs:SendMessage", "Resource": arn}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=work, Attributes={"Policy": json.dumps(policy)})

    sqs.set_queue_attributes(QueueUrl=work, Attributes={"VisibilityTimeout": "60"})

    answered = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert json.loads(answered["Policy"]) == policy
    assert answered["VisibilityTimeout"] == "60"


def test_policies_are_answered_as_compact_json(moto: None) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    work, _ = _queue_with_dead_letters(sqs)

    redrive = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]

    assert redrive == json.dumps(json.loads(redrive), separators=(",", ":"))


def test_a_configuration_set_answers_sending_enabled_as_a_boolean(moto: None) -> None:
    ses = boto3.client("sesv2", region_name="us-east-1")
    ses.create_configuration_set(ConfigurationSetName="emails", SendingOptions={"SendingEnabled": True})

    answered = ses.get_configuration_set(ConfigurationSetName="emails")

    assert answered["SendingOptions"] == {"SendingEnabled": True}


def test_an_email_identity_is_tagged_under_its_aws_arn(moto: None) -> None:
    ses = boto3.client("sesv2", region_name="us-east-1")
    ses.create_email_identity(EmailIdentity="shop.example.com", Tags=[{"Key": "Project", "Value": "engagement"}])

    tags = ses.list_tags_for_resource(ResourceArn=f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/shop.example.com")

    assert tags["Tags"] == [{"Key": "Project", "Value": "engagement"}]


def test_configuration_set_event_destinations_are_stored_updated_and_deleted(moto: None) -> None:
    ses = boto3.client("sesv2", region_name="us-east-1")
    ses.create_configuration_set(ConfigurationSetName="emails")
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:ses-feedback"
    destination = {
        "Enabled": True,
        "MatchingEventTypes": ["BOUNCE", "COMPLAINT"],
        "SnsDestination": {"TopicArn": topic},
    }

    ses.create_configuration_set_event_destination(
        ConfigurationSetName="emails", EventDestinationName="feedback", EventDestination=destination
    )
    created = ses.get_configuration_set_event_destinations(ConfigurationSetName="emails")["EventDestinations"]
    ses.update_configuration_set_event_destination(
        ConfigurationSetName="emails",
        EventDestinationName="feedback",
        EventDestination={**destination, "Enabled": False},
    )
    updated = ses.get_configuration_set_event_destinations(ConfigurationSetName="emails")["EventDestinations"]
    ses.delete_configuration_set_event_destination(ConfigurationSetName="emails", EventDestinationName="feedback")
    deleted = ses.get_configuration_set_event_destinations(ConfigurationSetName="emails")["EventDestinations"]

    assert created == [{"Name": "feedback", **destination}]
    assert updated[0]["Enabled"] is False
    assert deleted == []
    with pytest.raises(ClientError) as missing:
        ses.get_configuration_set_event_destinations(ConfigurationSetName="no-such-set")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"


def _function(name: str, **extra: Any) -> dict[str, Any]:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.lambda_handler",
        Code={"ZipFile": code.getvalue()}, **extra,
    )  # fmt: skip


def test_a_function_answers_its_logging_config(moto: None) -> None:
    functions = boto3.client("lambda", region_name="us-east-1")
    _function("configured", LoggingConfig={"LogFormat": "Text", "LogGroup": "/aws/lambda/shared"})
    _function("plain")

    configured = functions.get_function_configuration(FunctionName="configured")["LoggingConfig"]
    plain = functions.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"]
    functions.update_function_configuration(FunctionName="plain", LoggingConfig={"LogFormat": "JSON"})
    updated = functions.get_function_configuration(FunctionName="plain")["LoggingConfig"]

    assert configured == {"LogFormat": "Text", "LogGroup": "/aws/lambda/shared"}
    assert plain == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    assert updated == {"LogFormat": "JSON", "LogGroup": "/aws/lambda/plain", "ApplicationLogLevel": "INFO",
                       "SystemLogLevel": "INFO"}  # fmt: skip


def test_a_mapped_queue_and_stream_keep_their_records_for_the_local_runtimes_pollers(moto: None) -> None:
    sqs, dynamodb = boto3.client("sqs", region_name="us-east-1"), boto3.client("dynamodb", region_name="us-east-1")
    functions = boto3.client("lambda", region_name="us-east-1")
    _function("consumer")
    queue = sqs.create_queue(QueueName="work")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    table = dynamodb.create_table(
        TableName="users", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]  # fmt: skip
    for source in (queue_arn, table["LatestStreamArn"]):
        functions.create_event_source_mapping(FunctionName="consumer", EventSourceArn=source, BatchSize=10,
                                              StartingPosition="TRIM_HORIZON")  # fmt: skip

    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    dynamodb.put_item(TableName="users", Item={"userId": {"S": "u1"}})

    received = sqs.receive_message(QueueUrl=queue, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=table["LatestStreamArn"], ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in received] == [("hello", "1")]
    assert [record["eventName"] for record in records] == ["INSERT"]


def test_a_receive_still_drops_messages_past_the_queues_retention(moto: None) -> None:
    """sqs.retention-check makes moto's check cheap (it counted every message for each one); the rule stays."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("short")
    queue._messages[0].sent_timestamp -= 61_000  # sent 61 s earlier than it was: past the 60 s retention
    sqs.send_message(QueueUrl=url, MessageBody="new")

    # moto drops the expired message while it walks the queue and skips the next one in that receive: ask twice
    answers = [sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10) for _ in range(2)]
    received = [message["Body"] for answer in answers for message in answer.get("Messages", [])]

    assert received == ["new"]
