"""One source of truth: what the local mode creates is what Terraform creates.

The only differences allowed are the ones localmode.resources.LOCAL_OVERRIDES declares, and this test names
each of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from localmode import resources
from tests.terraform import hcl

TABLE_RESOURCES = {"users": "users", "emails": "emails", "decisions": "decisions"}
QUEUE_RESOURCES = {
    "email-requests": "email_requests",
    "email-requests-dlq": "email_requests_dlq",
    "stream-dlq": "stream_dlq",
}


def table(logical_name: str) -> dict[str, Any]:
    found = hcl.child("data").resource("aws_dynamodb_table", TABLE_RESOURCES[logical_name])
    assert found["name"] == "${var.prefix}-" + logical_name
    return found


def queue(logical_name: str) -> tuple[hcl.Module, dict[str, Any]]:
    messaging = hcl.child("messaging")
    found = messaging.resource("aws_sqs_queue", QUEUE_RESOURCES[logical_name])
    assert found["name"] == "${var.prefix}-" + logical_name
    return messaging, found


@pytest.mark.parametrize("local", resources.TABLES, ids=lambda t: t.logical_name)
def test_tables_keys_indexes_streams_and_ttl_match(local: resources.Table) -> None:
    terraform = table(local.logical_name)
    assert terraform["hash_key"] == local.hash_key
    assert terraform.get("range_key") == local.range_key
    assert terraform["billing_mode"] == "PAY_PER_REQUEST"
    assert {a["name"]: a["type"] for a in terraform["attribute"]} == local.attributes
    assert bool(terraform.get("stream_enabled")) == (local.stream_view_type is not None)
    assert terraform.get("stream_view_type") == local.stream_view_type
    indexes = {
        index["name"]: (index["hash_key"], index["range_key"], index["projection_type"])
        for index in terraform.get("global_secondary_index", [])
    }
    assert indexes == {index.name: (index.hash_key, index.range_key, "ALL") for index in local.indexes}
    ttl = terraform.get("ttl", [{}])[0]
    assert (ttl.get("attribute_name") if ttl.get("enabled") else None) == local.ttl_attribute


@pytest.mark.parametrize("local", resources.QUEUES, ids=lambda q: q.logical_name)
def test_queues_and_redrive_match(local: resources.Queue) -> None:
    messaging, terraform = queue(local.logical_name)
    assert messaging.value(terraform.get("visibility_timeout_seconds", 30)) == local.visibility_timeout
    assert terraform["message_retention_seconds"] == local.message_retention
    redrive = messaging.value(terraform.get("redrive_policy"))
    if local.dead_letter is None:
        assert redrive is None
    else:
        assert redrive["maxReceiveCount"] == local.max_receive_count
        assert redrive["deadLetterTargetArn"] == f"${{aws_sqs_queue.{QUEUE_RESOURCES[local.dead_letter]}.arn}}"


def test_the_visibility_timeout_is_six_times_the_email_functions_timeout() -> None:
    root = hcl.root()
    timeout = root.value("${local.functions.email_processor.timeout}")
    assert timeout == resources.EMAIL_FUNCTION_TIMEOUT
    assert queue("email-requests")[0].value("${var.email_requests_visibility_timeout}") >= 6 * timeout


def test_the_topic_and_its_filtered_raw_subscription_match() -> None:
    messaging = hcl.child("messaging")
    assert messaging.resource("aws_sns_topic", "events")["name"] == "${var.prefix}-engagement-events"
    assert f"{resources.PREFIX}-engagement-events" == resources.EVENTS_TOPIC
    subscription = messaging.resource("aws_sns_topic_subscription", "email_requests")
    local = resources.EMAIL_REQUESTS_SUBSCRIPTION
    assert subscription["endpoint"] == f"${{aws_sqs_queue.{QUEUE_RESOURCES[local.queue]}.arn}}"
    assert subscription["raw_message_delivery"] is local.raw_message_delivery
    assert subscription["filter_policy_scope"] == "MessageAttributes"
    assert messaging.value(subscription["filter_policy"]) == local.filter_policy


def test_the_stream_mapping_matches() -> None:
    root = hcl.root()
    terraform = root.resource("aws_lambda_event_source_mapping", "users_stream")
    local = resources.USERS_STREAM_SOURCE
    assert terraform["function_name"] == f'${{module.function["{local.function}"].function_name}}'
    assert terraform["event_source_arn"] == "${module.data.users_stream_arn}"
    assert terraform["batch_size"] == local.batch_size
    assert terraform["starting_position"] == local.starting_position
    assert terraform["maximum_retry_attempts"] == local.maximum_retry_attempts
    assert terraform["bisect_batch_on_function_error"] is local.bisect_batch_on_function_error
    assert terraform["maximum_record_age_in_seconds"] == local.maximum_record_age_seconds
    on_failure = terraform["destination_config"][0]["on_failure"][0]["destination_arn"]
    assert on_failure == "${module.messaging.stream_dlq_arn}"
    assert local.on_failure_queue == "stream-dlq"
    patterns = tuple(root.value(f["pattern"]) for f in terraform["filter_criteria"][0]["filter"])
    assert patterns == local.filter_patterns


def test_the_queue_mapping_matches() -> None:
    root = hcl.root()
    terraform = root.resource("aws_lambda_event_source_mapping", "email_requests")
    local = resources.EMAIL_REQUESTS_SOURCE
    assert terraform["function_name"] == f'${{module.function["{local.function}"].function_name}}'
    assert terraform["event_source_arn"] == "${module.messaging.email_requests_queue_arn}"
    assert terraform["batch_size"] == local.batch_size
    assert root.value(terraform["scaling_config"][0]["maximum_concurrency"]) == local.maximum_concurrency
    assert "filter_criteria" not in terraform  # the SNS subscription filters; an SQS filter would delete messages


@pytest.mark.parametrize("local", resources.FUNCTIONS, ids=lambda f: f.logical_name)
def test_functions_sizes_and_environment_match(local: resources.Function) -> None:
    root = hcl.root()
    sizes = root.value(f"${{local.functions.{local.logical_name}}}")
    assert (sizes["timeout"], sizes["memory"]) == (local.timeout, local.memory)
    call = root.modules["function"]
    assert (call["for_each"], call["name"], call["service_name"]) == (
        "${local.functions}",
        "${local.prefix}-${each.key}",
        "${each.key}",
    )
    assert call["environment"] == "${local.function_environment[each.key]}"
    environment = resources.sample_environment(local.logical_name)
    secrets_locally = {"API_TOKEN": "API_TOKEN_PARAMETER"}  # locally a value, in AWS the SSM parameter's name
    expected = {secrets_locally.get(name, name) for name in environment if not name.startswith("POWERTOOLS_")}
    if local is resources.EMAIL_PROCESSOR:  # locally the key comes from your shell, if at all; in AWS from SSM
        expected.add("OPENROUTER_API_KEY_PARAMETER")
    assert set(root.locals["function_environment"][local.logical_name]) == expected


def test_the_email_processor_knows_the_queues_redrive_and_batch_size() -> None:
    terraform = hcl.root().locals["function_environment"]["email_processor"]
    local = resources.sample_environment("email_processor")
    assert (
        terraform["MAX_RECEIVE_COUNT"] == local["MAX_RECEIVE_COUNT"] == str(resources.EMAIL_REQUESTS.max_receive_count)
    )
    assert (
        hcl.root().value(hcl.root().modules["messaging"]["max_receive_count"])
        == resources.EMAIL_REQUESTS.max_receive_count
    )
    assert terraform["LLM_CONCURRENCY"] == local["LLM_CONCURRENCY"] == str(resources.EMAIL_REQUESTS_SOURCE.batch_size)
    assert hcl.root().value(terraform["LLM_MODEL"]) == local["LLM_MODEL"]
    assert hcl.root().value(terraform["LLM_BASE_URL"]) == local["LLM_BASE_URL"]


def test_every_local_override_is_declared_and_differs_from_aws() -> None:
    assert set(resources.LOCAL_OVERRIDES) == {
        "email-requests.visibility_timeout",
        "users-stream.starting_position",
        "email-requests.maximum_concurrency",
    }
    aws_values = {
        "email-requests.visibility_timeout": resources.EMAIL_REQUESTS.visibility_timeout,
        "users-stream.starting_position": resources.USERS_STREAM_SOURCE.starting_position,
        "email-requests.maximum_concurrency": resources.EMAIL_REQUESTS_SOURCE.maximum_concurrency,
    }
    for key, (local_value, reason) in resources.LOCAL_OVERRIDES.items():
        assert local_value != aws_values[key]
        assert reason
