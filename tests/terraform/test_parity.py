"""One source of truth: what the local mode creates is what Terraform creates.

The only differences allowed are the ones stack.resources.LOCAL_OVERRIDES declares, and this test names
each of them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engagement.adapters.store.emails import BY_STATUS_INDEX, BY_USER_INDEX, projected_attributes
from stack import resources
from tests.terraform import hcl

TOPICS = {"engagement-events": "${aws_sns_topic.events.arn}", "ses-feedback": "${aws_sns_topic.ses_feedback.arn}"}
CONSUMERS = [q for q in resources.QUEUES if q.dead_letter is not None]


def messaging_consumers() -> dict[str, dict[str, Any]]:
    return hcl.child("messaging").locals["consumers"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("local", resources.TABLES, ids=lambda t: t.logical_name)
def test_tables_keys_indexes_streams_and_ttl_match(local: resources.Table) -> None:
    terraform = hcl.child("data").resource("aws_dynamodb_table", local.logical_name)
    assert terraform["name"] == "${var.prefix}-" + local.logical_name
    assert terraform["hash_key"] == local.hash_key
    assert terraform.get("range_key") == local.range_key
    assert terraform["billing_mode"] == "PAY_PER_REQUEST"
    assert {a["name"]: a["type"] for a in terraform["attribute"]} == local.attributes
    assert bool(terraform.get("stream_enabled")) == (local.stream_view_type is not None)
    assert terraform.get("stream_view_type") == local.stream_view_type
    indexes = {
        index["name"]: (
            index["hash_key"],
            index.get("range_key"),
            index["projection_type"],
            frozenset(index.get("non_key_attributes", ())),
        )
        for index in terraform.get("global_secondary_index", [])
    }
    assert indexes == {
        index.name: (index.hash_key, index.range_key, index.projection["ProjectionType"], frozenset(index.include))
        for index in local.indexes
    }
    ttl = terraform.get("ttl", [{}])[0]
    assert (ttl.get("attribute_name") if ttl.get("enabled") else None) == local.ttl_attribute


@pytest.mark.parametrize("local", CONSUMERS, ids=lambda q: q.logical_name)
def test_each_consumer_queue_its_redrive_and_its_dead_letter_queue_match(local: resources.Queue) -> None:
    messaging = hcl.child("messaging")
    assert local.logical_name in messaging_consumers()
    consumer = messaging.resource("aws_sqs_queue", "consumer")
    dead_letter = messaging.resource("aws_sqs_queue", "dead_letter")
    assert consumer["for_each"] == dead_letter["for_each"] == "${local.consumers}"
    assert consumer["name"] == "${var.prefix}-${each.key}"
    assert dead_letter["name"] == "${var.prefix}-${each.key}-dlq"
    assert local.dead_letter == f"{local.logical_name}-dlq"
    # Visibility: 6 x the consuming function's timeout, in both.
    assert consumer["visibility_timeout_seconds"] == "${6 * var.consumer_timeouts[each.key]}"
    timeouts = hcl.root().value(hcl.root().modules["messaging"]["consumer_timeouts"])
    assert 6 * timeouts[local.logical_name] == local.visibility_timeout
    assert consumer["message_retention_seconds"] == local.message_retention
    redrive = messaging.value(consumer["redrive_policy"])
    assert redrive["deadLetterTargetArn"] == "${aws_sqs_queue.dead_letter[each.key].arn}"
    assert hcl.root().value(hcl.root().modules["messaging"]["max_receive_count"]) == local.max_receive_count
    dlq = next(q for q in resources.QUEUES if q.logical_name == local.dead_letter)
    assert messaging.value(dead_letter["message_retention_seconds"]) == dlq.message_retention


def test_the_stream_dlq_matches() -> None:
    stream_dlq = hcl.child("messaging").resource("aws_sqs_queue", "stream_dlq")
    assert stream_dlq["name"] == "${var.prefix}-stream-dlq"
    assert (
        hcl.child("messaging").value(stream_dlq["message_retention_seconds"]) == resources.STREAM_DLQ.message_retention
    )
    assert {q.logical_name for q in resources.QUEUES} == {q.logical_name for q in CONSUMERS} | {
        q.dead_letter for q in CONSUMERS
    } | {"stream-dlq"}


def test_topics_and_their_filtered_raw_subscriptions_match() -> None:
    messaging = hcl.child("messaging")
    assert messaging.resource("aws_sns_topic", "events")["name"] == "${var.prefix}-engagement-events"
    assert messaging.resource("aws_sns_topic", "ses_feedback")["name"] == "${var.prefix}-ses-feedback"
    assert {name: topic.removeprefix(resources.PREFIX) for name, topic in resources.TOPICS.items()} == {
        "engagement-events": "-engagement-events",
        "ses-feedback": "-ses-feedback",
    }
    subscription = messaging.resource("aws_sns_topic_subscription", "consumer")
    assert subscription["for_each"] == "${local.topic_fed}"
    assert subscription["raw_message_delivery"] is True
    assert subscription["filter_policy_scope"] == '${each.value.filter_policy == null ? null : "MessageAttributes"}'
    consumers = messaging_consumers()
    subscribed = {name for name, consumer in consumers.items() if consumer["topic"] is not None}
    assert subscribed == {s.queue for s in resources.SUBSCRIPTIONS}
    assert set(consumers) - subscribed == set(messaging.locals["function_fed"])
    for local in resources.SUBSCRIPTIONS:
        terraform = consumers[local.queue]
        assert local.raw_message_delivery is True
        assert terraform["topic"] == TOPICS[local.topic]
        assert messaging.value(terraform["filter_policy"]) == local.filter_policy


def test_a_queue_its_own_function_feeds_has_no_subscription_and_no_queue_policy() -> None:
    """rescore-segments: the rescore function queues its own tasks (its role allows it); store-webhooks: the API
    queues the store's verified webhooks. No topic feeds them, so none is subscribed to them, and no queue policy
    lets a topic (or anyone else) send to them."""
    messaging = hcl.child("messaging")
    fed_locally_by_no_topic = {q.logical_name for q in CONSUMERS} - {s.queue for s in resources.SUBSCRIPTIONS}
    fed_by_functions = {resources.RESCORE_SEGMENTS.logical_name, resources.STORE_WEBHOOKS.logical_name}
    assert fed_locally_by_no_topic == set(messaging.locals["function_fed"]) == fed_by_functions
    assert messaging.locals["topic_fed"] == (
        "${{for name, consumer in local.consumers : name => consumer if !contains(local.function_fed, name)}}"
    )
    assert messaging.resource("aws_sqs_queue_policy", "consumer")["for_each"] == "${local.topic_fed}"
    assert messaging.data["aws_iam_policy_document"]["consumer"]["for_each"] == "${local.topic_fed}"
    for name in messaging.locals["function_fed"]:
        assert messaging_consumers()[name] == {"topic": None, "filter_policy": None}
    root = hcl.root()
    environment = root.value(root.locals["function_environment"][resources.RESCORE.logical_name])
    assert environment["SEGMENT_QUEUE_URL"] == '${module.messaging.queue_urls["rescore-segments"]}'
    assert environment["DEAD_LETTER_QUEUE_URL"] == '${module.messaging.dead_letter_urls["rescore-segments"]}'
    api = root.value(root.locals["function_environment"][resources.API.logical_name])
    assert api["WEBHOOK_QUEUE_URL"] == '${module.messaging.queue_urls["store-webhooks"]}'


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


@pytest.mark.parametrize("local", resources.QUEUE_SOURCES, ids=lambda s: s.queue)
def test_each_queue_mapping_matches(local: resources.QueueEventSource) -> None:
    root = hcl.root()
    terraform = root.resource("aws_lambda_event_source_mapping", "queue")
    assert terraform["for_each"] == "${local.queue_consumers}"
    assert terraform["function_response_types"] == ["ReportBatchItemFailures"]
    assert "filter_criteria" not in terraform  # the SNS subscriptions filter; an SQS filter would delete messages
    consumer = root.value(root.locals["queue_consumers"][local.queue])
    assert (consumer["function"], consumer["batch_size"]) == (local.function, local.batch_size)
    assert root.value(consumer["maximum_concurrency"]) == local.maximum_concurrency


def schedule_calls() -> dict[str, dict[str, Any]]:
    return {name: call for name, call in hcl.root().modules.items() if call["source"] == "./modules/schedule"}


def every_minutes(expression: str) -> float:
    """How many minutes apart an EventBridge Scheduler expression's runs are: rate(...), or a daily cron(...)."""
    units = {"minute": 1, "hour": 60, "day": 24 * 60}
    if rate := re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression):
        return int(rate.group(1)) * units[rate.group(2)]
    if re.fullmatch(r"cron\(\d{1,2} \d{1,2} \* \* \? \*\)", expression):  # minute hour, every day of every month
        return 24 * 60
    raise ValueError(f"not a fixed-rate or daily schedule: {expression}")


def test_every_schedule_is_in_terraform() -> None:
    assert set(schedule_calls()) == {local.logical_name.replace("-", "_") for local in resources.SCHEDULES}


@pytest.mark.parametrize("local", resources.SCHEDULES, ids=lambda s: s.logical_name)
def test_each_schedule_matches(local: resources.Schedule) -> None:
    """The scheduled sender every send_due_rate_minutes; the rescoring sweep daily (var.rescore_schedule)."""
    root = hcl.root()
    call = schedule_calls()[local.logical_name.replace("-", "_")]
    assert call["name"] == f"${{local.prefix}}-{local.logical_name}"
    assert call["function_arn"] == f'${{module.function["{local.function}"].function_arn}}'
    assert call["payload"] == local.payload
    if "rate_minutes" in call:
        assert root.value(call["rate_minutes"]) == local.rate_minutes
    else:
        assert every_minutes(root.value(call["schedule_expression"])) == local.rate_minutes
    schedule = hcl.child(local.logical_name.replace("-", "_")).resource("aws_scheduler_schedule", "this")
    assert schedule["flexible_time_window"] == [{"mode": "OFF"}]
    assert schedule["target"][0]["input"] == "${jsonencode(var.payload)}"


def test_the_rescore_schedule_is_daily_and_dead_letters_what_it_cannot_deliver() -> None:
    root = hcl.root()
    assert root.modules["rescore"]["schedule_expression"] == "${var.rescore_schedule}"
    assert every_minutes(root.variables["rescore_schedule"]["default"]) == 24 * 60
    assert every_minutes("rate(1 day)") == every_minutes("rate(24 hours)") == 24 * 60
    with pytest.raises(ValueError, match="not a fixed-rate or daily schedule"):
        every_minutes("cron(0 3 ? * MON *)")  # weekly: not what the local mode runs
    assert root.modules["rescore"]["dead_letter_queue"] is True
    schedule = hcl.child("rescore")
    queue = schedule.resource("aws_sqs_queue", "dead_letter")
    assert queue["count"] == "${var.dead_letter_queue ? 1 : 0}"
    assert queue["kms_master_key_id"] == "${var.kms_key_arn}"
    target = schedule.resource("aws_scheduler_schedule", "this")["target"][0]
    assert target["retry_policy"][0]["maximum_retry_attempts"] >= 1
    dead_letter = target["dynamic"][0]["dead_letter_config"]
    assert dead_letter["for_each"] == "${aws_sqs_queue.dead_letter}"
    assert dead_letter["content"] == [{"arn": "${dead_letter_config.value.arn}"}]
    # The scheduler's role may send there (and encrypt for the queue's key), and an alarm watches it.
    granted = {
        (action, resource)
        for block in schedule.data["aws_iam_policy_document"]["invoke"]["dynamic"]
        if block["statement"]["for_each"] == "${aws_sqs_queue.dead_letter}"
        for statement in block["statement"]["content"]
        for action in statement["actions"]
        for resource in statement["resources"]
    }
    assert granted == {("sqs:SendMessage", "${statement.value.arn}"), ("kms:GenerateDataKey", "${var.kms_key_arn}")}
    alarmed = root.modules["monitoring"]["schedule_dead_letter_queue_names"]
    assert alarmed == {"rescore-schedule-dlq": "${module.rescore.dead_letter_queue_name}"}
    alarm = hcl.child("monitoring").resource("aws_cloudwatch_metric_alarm", "schedule_dead_letters")
    assert alarm["for_each"] == "${var.schedule_dead_letter_queue_names}"


def test_the_rescore_sweep_settings_match() -> None:
    """Its segments and win-back attempts are variables; its cooldown is the email processor's, one variable."""
    root = hcl.root()
    environments = root.locals["function_environment"]
    terraform = environments["rescore"]
    local = resources.sample_environment("rescore")
    for name, variable in [("RESCORE_SEGMENTS", "rescore_segments"), ("WINBACK_ATTEMPTS", "winback_attempts"),
                           ("EMAIL_COOLDOWN_DAYS", "email_cooldown_days")]:  # fmt: skip
        assert terraform[name] == f"${{tostring(var.{variable})}}"
        assert root.value(terraform[name]) == local[name]
        assert root.variables[variable]["validation"], variable
    eligibility = root.locals["eligibility_environment"]  # the email processor's rules, which the API answers by
    assert eligibility["EMAIL_COOLDOWN_DAYS"] == terraform["EMAIL_COOLDOWN_DAYS"]
    for function in ("email_processor", "api"):
        assert "local.eligibility_environment" in environments[function], function
        assert root.value(environments[function])["EMAIL_COOLDOWN_DAYS"] == local["EMAIL_COOLDOWN_DAYS"]
    assert terraform["RESCORE_PAGE_SIZE"] == local["RESCORE_PAGE_SIZE"]
    consumer = root.value(root.locals["queue_consumers"][resources.RESCORE_SEGMENTS.logical_name])
    assert root.value(consumer["maximum_concurrency"]) == resources.RESCORE_SEGMENTS_SOURCE.maximum_concurrency


def test_ses_names_match() -> None:
    assert hcl.child("email").resource("aws_sesv2_configuration_set", "this")["configuration_set_name"] == (
        "${var.prefix}-emails"
    )
    assert f"{resources.PREFIX}-emails" == resources.SES_CONFIGURATION_SET


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
    # Locally a value, in AWS the name of the SSM parameter that holds it.
    held_in_ssm = ("API_TOKEN", "UNSUBSCRIBE_SECRET", "PUBLIC_BASE_URL", "SHOPIFY_WEBHOOK_SECRET")
    secrets_locally = {name: f"{name}_PARAMETER" for name in held_in_ssm}
    expected = {secrets_locally.get(name, name) for name in environment if not name.startswith("POWERTOOLS_")}
    if local is resources.EMAIL_PROCESSOR:  # locally the key comes from your shell, if at all; in AWS from SSM
        expected.add("OPENROUTER_API_KEY_PARAMETER")
    if "UNSUBSCRIBE_SECRET" in environment:  # locally one key, never rotated; in AWS the previous one as well
        expected |= {"UNSUBSCRIBE_PREVIOUS_SECRET_PARAMETER", "UNSUBSCRIBE_KEY_OVERLAP_DAYS"}
    assert set(root.value(root.locals["function_environment"][local.logical_name])) == expected


def test_the_email_processor_knows_the_queues_redrive_and_batch_size() -> None:
    root = hcl.root()
    terraform = root.value(root.locals["function_environment"]["email_processor"])
    local = resources.sample_environment("email_processor")
    assert (
        terraform["MAX_RECEIVE_COUNT"] == local["MAX_RECEIVE_COUNT"] == str(resources.EMAIL_REQUESTS.max_receive_count)
    )
    assert terraform["LLM_CONCURRENCY"] == local["LLM_CONCURRENCY"] == str(resources.EMAIL_REQUESTS_SOURCE.batch_size)
    assert root.value(terraform["LLM_MODEL"]) == local["LLM_MODEL"]
    assert root.value(terraform["LLM_BASE_URL"]) == local["LLM_BASE_URL"]


def test_every_local_override_is_declared_and_differs_from_aws() -> None:
    aws_values: dict[str, Any] = {
        "users-stream.starting_position": resources.USERS_STREAM_SOURCE.starting_position,
        "ses.feedback": "configuration-set event destination",
    }
    for schedule in resources.SCHEDULES:
        aws_values[f"{schedule.logical_name}.rate_minutes"] = schedule.rate_minutes
    for queue in CONSUMERS:
        # A segment task runs for minutes: made visible again after seconds, it would run twice at once, so the
        # local mode keeps AWS's visibility for it.
        if queue is not resources.RESCORE_SEGMENTS:
            aws_values[f"{queue.logical_name}.visibility_timeout"] = queue.visibility_timeout
    for source in resources.QUEUE_SOURCES:
        aws_values[f"{source.queue}.maximum_concurrency"] = source.maximum_concurrency
    assert set(resources.LOCAL_OVERRIDES) == set(aws_values)
    for key, (local_value, reason) in resources.LOCAL_OVERRIDES.items():
        assert local_value != aws_values[key]
        assert reason
    destination = hcl.child("email").resource("aws_sesv2_configuration_set_event_destination", "feedback")
    types = destination["event_destination"][0]["matching_event_types"]
    assert sorted(types) == ["BOUNCE", "COMPLAINT"]  # what the local identity notifications send too


def test_the_queues_the_api_watches_and_redrives_match() -> None:
    """PIPELINE_QUEUES: the same queues, kinds and redrive targets (the URLs differ by nature)."""
    output = hcl.child("messaging").outputs["watched_queues"]["value"]
    comprehension = re.compile(r"\[for name, queue in aws_sqs_queue\.(\w+) : (\{.*?\})\]")
    for_each = {"consumer": messaging_consumers(), "dead_letter": messaging_consumers()}
    terraform = []
    for resource, template in comprehension.findall(output):
        shape = hcl.hcl_object(template)
        for name in for_each[resource]:
            filled = {key: _named(value, name) for key, value in shape.items() if key != "url"}
            terraform.append(filled)
    literal = re.search(r"\[(\{name = \"stream-dlq\"[^}]*\})\]", output)
    assert literal is not None
    terraform.append({key: value for key, value in hcl.hcl_object(literal.group(1)).items() if key != "url"})
    assert hcl.root().value(hcl.root().locals["function_environment"]["api"])["PIPELINE_QUEUES"] == (
        "${jsonencode(module.messaging.watched_queues)}"
    )

    local = json.loads(resources.sample_environment("api")["PIPELINE_QUEUES"])
    by_name = sorted([{key: value for key, value in queue.items() if key != "url"} for queue in local],
                     key=lambda queue: queue["name"])  # fmt: skip
    assert by_name == sorted(terraform, key=lambda queue: queue["name"])
    assert {"name": "email-requests-dlq", "kind": "dead-letter", "redrivesTo": "email-requests"} in by_name


def _named(value: Any, name: str) -> Any:
    """A for-expression's template value with the loop's name filled in."""
    if value in ("name", "${name}"):
        return name
    return value.replace("${name}", name) if isinstance(value, str) else value


def test_each_alarm_on_our_own_metrics_watches_a_metric_the_code_counts_under_a_functions_name() -> None:
    """An alarm on a misspelt metric or service name never fires."""
    repository = hcl.TERRAFORM.parent
    counted = {
        match.group(1)
        for path in [*repository.glob("libs/engagement/**/*.py"), *repository.glob("functions/*/handler.py")]
        for match in re.finditer(r'\bcount\(\s*"(\w+)"', path.read_text())
    }
    monitoring = hcl.child("monitoring")
    ours = {
        name: alarm
        for name, alarm in monitoring.resources["aws_cloudwatch_metric_alarm"].items()
        if alarm["namespace"] == "${var.metrics_namespace}"
    }
    assert sorted(ours) == ["rescore_overrun", "writer_fallbacks"]
    for alarm in ours.values():
        assert alarm["metric_name"] in counted
        assert monitoring.value(alarm["dimensions"])["service"] in {f.logical_name for f in resources.FUNCTIONS}


def test_the_email_indexes_carry_what_the_email_store_reads_from_them() -> None:
    assert {index.name: set(index.include) for index in resources.EMAILS.indexes} == {
        name: set(projected_attributes(name)) for name in (BY_USER_INDEX, BY_STATUS_INDEX)
    }
