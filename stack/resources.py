"""The resources Terraform creates, as the local mode creates them in the emulator.

This module is the local mode's half of the one source of truth for resource shapes: tables, keys, indexes,
the stream view type, the topic, queues, redrive settings, the subscription's filter policy and the event source
mappings. A test compares it with terraform/. The few settings the local mode changes to stay fast are declared
in LOCAL_OVERRIDES and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PROJECT = "client-engagement"
ENVIRONMENT = "local"
PREFIX = f"{PROJECT}-{ENVIRONMENT}"
REGION = "us-east-1"


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    include: tuple[str, ...] = ()  # the non-key attributes projected (INCLUDE); none: the whole item (ALL)
    keys_only: bool = False

    @property
    def projection(self) -> dict[str, Any]:
        if self.keys_only:
            return {"ProjectionType": "KEYS_ONLY"}
        if not self.include:
            return {"ProjectionType": "ALL"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.include)}

    @property
    def key_schema(self) -> list[dict[str, str]]:
        return [{"AttributeName": self.hash_key, "KeyType": "HASH"}] + (
            [{"AttributeName": self.range_key, "KeyType": "RANGE"}] if self.range_key else []
        )


@dataclass(frozen=True)
class Table:
    logical_name: str
    hash_key: str
    range_key: str | None = None
    stream_view_type: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.logical_name}"

    @property
    def attributes(self) -> dict[str, str]:
        """Every key attribute of the table and its indexes (all strings here)."""
        names = [self.hash_key, *([self.range_key] if self.range_key else [])]
        for index in self.indexes:
            names += [index.hash_key, *([index.range_key] if index.range_key else [])]
        return {name: "S" for name in dict.fromkeys(names)}


@dataclass(frozen=True)
class Queue:
    logical_name: str
    visibility_timeout: int = 30
    message_retention: int = 4 * 24 * 3600
    dead_letter: str | None = None
    max_receive_count: int | None = None

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.logical_name}"


@dataclass(frozen=True)
class Subscription:
    topic: str
    queue: str
    raw_message_delivery: bool
    filter_policy: dict[str, Any] | None


@dataclass(frozen=True)
class StreamEventSource:
    function: str
    table: str
    batch_size: int
    starting_position: str
    maximum_retry_attempts: int
    bisect_batch_on_function_error: bool
    maximum_record_age_seconds: int
    on_failure_queue: str
    filter_patterns: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class QueueEventSource:
    function: str
    queue: str
    batch_size: int
    maximum_concurrency: int


@dataclass(frozen=True)
class Schedule:
    """EventBridge Scheduler invoking a function at a fixed rate with a fixed input."""

    logical_name: str
    function: str
    rate_minutes: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Function:
    logical_name: str
    timeout: int
    memory: int
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.logical_name}"


_EMAIL_SUMMARY = ("statusChangedAt", "sendAt", "sentAt", "convertedAt", "deliveryUncertain")
# byEmail: a store's webhook names its customer by address (engagement.adapters.store.users)
USERS = Table(
    "users",
    hash_key="userId",
    stream_view_type="NEW_AND_OLD_IMAGES",
    indexes=(Index("byEmail", "email", keys_only=True),),
)
EMAILS = Table(
    "emails",
    hash_key="emailId",
    indexes=(  # what EmailSummary needs besides each index's keys (engagement.adapters.store.emails)
        Index("byUser", "userId", "createdAt", include=("status", *_EMAIL_SUMMARY)),
        Index("byStatus", "status", "createdAt", include=("userId", *_EMAIL_SUMMARY)),
    ),
)
DECISIONS = Table("decisions", hash_key="userId", range_key="decisionKey", ttl_attribute="expiresAt")
SUPPRESSIONS = Table("suppressions", hash_key="address")
# One item per order; byUser lists a client's orders newest first (engagement.adapters.store.orders).
ORDERS = Table("orders", hash_key="userId", range_key="orderId", indexes=(Index("byUser", "userId", "orderedAt"),))
# One item per product; byCategory lists a category's (engagement.adapters.store.products).
PRODUCTS = Table("products", hash_key="productId", indexes=(Index("byCategory", "category", "productId"),))
# A store's webhooks handled, by id, for a month (engagement.adapters.store.webhooks).
WEBHOOKS = Table("webhooks", hash_key="webhookId", ttl_attribute="expiresAt")
# The churn model's versions, newest last, kept a year (engagement.adapters.store.churn_models); the daily co-purchase
# counts, kept 35 days (engagement.adapters.store.co_purchases).
MODELS = Table("models", hash_key="model", range_key="version", ttl_attribute="expiresAt")
TABLES = (USERS, EMAILS, DECISIONS, SUPPRESSIONS, ORDERS, PRODUCTS, WEBHOOKS, MODELS)

EVENTS_TOPIC = f"{PREFIX}-engagement-events"
SES_FEEDBACK_TOPIC = f"{PREFIX}-ses-feedback"
TOPICS = {"engagement-events": EVENTS_TOPIC, "ses-feedback": SES_FEEDBACK_TOPIC}

# SES: the sender's domain is the verified identity; the configuration set publishes bounces and complaints.
SENDER_DOMAIN = "shop.example.com"
SENDER_EMAIL = f"winback@{SENDER_DOMAIN}"
SHOP_CURRENCY = "USD"
SES_CONFIGURATION_SET = f"{PREFIX}-emails"

EMAIL_FUNCTION_TIMEOUT = 60
SIGNALS_FUNCTION_TIMEOUT = 30
FEEDBACK_FUNCTION_TIMEOUT = 30
RESCORE_FUNCTION_TIMEOUT = 300
WEBHOOKS_FUNCTION_TIMEOUT = 30
FOURTEEN_DAYS = 14 * 24 * 3600
EMAIL_REQUESTS_DLQ = Queue("email-requests-dlq", message_retention=FOURTEEN_DAYS)
EMAIL_REQUESTS = Queue(
    "email-requests",
    visibility_timeout=6 * EMAIL_FUNCTION_TIMEOUT,
    dead_letter=EMAIL_REQUESTS_DLQ.logical_name,
    max_receive_count=5,
)
STREAM_DLQ = Queue("stream-dlq", message_retention=FOURTEEN_DAYS)
CLIENT_SIGNALS_DLQ = Queue("client-signals-dlq", message_retention=FOURTEEN_DAYS)
CLIENT_SIGNALS = Queue(
    "client-signals",
    visibility_timeout=6 * SIGNALS_FUNCTION_TIMEOUT,
    dead_letter=CLIENT_SIGNALS_DLQ.logical_name,
    max_receive_count=5,
)
SES_FEEDBACK_DLQ = Queue("ses-feedback-dlq", message_retention=FOURTEEN_DAYS)
SES_FEEDBACK = Queue(
    "ses-feedback",
    visibility_timeout=6 * FEEDBACK_FUNCTION_TIMEOUT,
    dead_letter=SES_FEEDBACK_DLQ.logical_name,
    max_receive_count=5,
)
RESCORE_SEGMENTS_DLQ = Queue("rescore-segments-dlq", message_retention=FOURTEEN_DAYS)
RESCORE_SEGMENTS = Queue(
    "rescore-segments",
    visibility_timeout=6 * RESCORE_FUNCTION_TIMEOUT,
    dead_letter=RESCORE_SEGMENTS_DLQ.logical_name,
    max_receive_count=5,
)
STORE_WEBHOOKS_DLQ = Queue("store-webhooks-dlq", message_retention=FOURTEEN_DAYS)
STORE_WEBHOOKS = Queue(
    "store-webhooks",
    visibility_timeout=6 * WEBHOOKS_FUNCTION_TIMEOUT,
    dead_letter=STORE_WEBHOOKS_DLQ.logical_name,
    max_receive_count=5,
)
# Dead-letter queues come first: a queue's redrive policy names its DLQ's ARN.
QUEUES = (
    EMAIL_REQUESTS_DLQ,
    EMAIL_REQUESTS,
    STREAM_DLQ,
    CLIENT_SIGNALS_DLQ,
    CLIENT_SIGNALS,
    SES_FEEDBACK_DLQ,
    SES_FEEDBACK,
    RESCORE_SEGMENTS_DLQ,
    RESCORE_SEGMENTS,
    STORE_WEBHOOKS_DLQ,
    STORE_WEBHOOKS,
)

# Only at-risk clients' creations and updates reach the email processor; deletions never make an email.
EMAIL_REQUESTS_SUBSCRIPTION = Subscription(
    topic="engagement-events",
    queue=EMAIL_REQUESTS.logical_name,
    raw_message_delivery=True,
    filter_policy={
        "band": ["at_risk", "critical"],
        "eventType": ["client.created", "client.updated", "client.rescored"],
    },
)
# Orders (conversions), opt-outs and deletions (pending drafts are cancelled).
CLIENT_SIGNALS_SUBSCRIPTION = Subscription(
    topic="engagement-events",
    queue=CLIENT_SIGNALS.logical_name,
    raw_message_delivery=True,
    filter_policy={"signals": ["order_placed", "opted_out", "deleted"]},
)
SES_FEEDBACK_SUBSCRIPTION = Subscription(
    topic="ses-feedback", queue=SES_FEEDBACK.logical_name, raw_message_delivery=True, filter_policy=None
)
SUBSCRIPTIONS = (EMAIL_REQUESTS_SUBSCRIPTION, CLIENT_SIGNALS_SUBSCRIPTION, SES_FEEDBACK_SUBSCRIPTION)

STREAM_PROCESSOR = Function("stream_processor", timeout=60, memory=256)
EMAIL_PROCESSOR = Function("email_processor", timeout=EMAIL_FUNCTION_TIMEOUT, memory=512)
API = Function("api", timeout=10, memory=256)
SCHEDULED_SENDER = Function("scheduled_sender", timeout=60, memory=256)
CLIENT_SIGNALS_FUNCTION = Function("client_signals", timeout=SIGNALS_FUNCTION_TIMEOUT, memory=256)
SES_FEEDBACK_FUNCTION = Function("ses_feedback", timeout=FEEDBACK_FUNCTION_TIMEOUT, memory=256)
RESCORE = Function("rescore", timeout=RESCORE_FUNCTION_TIMEOUT, memory=512)
STORE_WEBHOOKS_FUNCTION = Function("store_webhooks", timeout=WEBHOOKS_FUNCTION_TIMEOUT, memory=256)
FUNCTIONS = (
    STREAM_PROCESSOR,
    EMAIL_PROCESSOR,
    API,
    SCHEDULED_SENDER,
    CLIENT_SIGNALS_FUNCTION,
    SES_FEEDBACK_FUNCTION,
    RESCORE,
    STORE_WEBHOOKS_FUNCTION,
)

USERS_STREAM_SOURCE = StreamEventSource(
    function=STREAM_PROCESSOR.logical_name,
    table=USERS.logical_name,
    batch_size=100,
    starting_position="LATEST",
    # Transient failures retry until the stream would drop the record (24 h): an outage loses nothing. Records
    # that can never succeed never retry: the stream processor dead-letters them at once.
    maximum_retry_attempts=-1,
    bisect_batch_on_function_error=True,
    maximum_record_age_seconds=86400,
    on_failure_queue=STREAM_DLQ.logical_name,
    filter_patterns=({"eventName": ["INSERT", "MODIFY", "REMOVE"]},),
)
EMAIL_REQUESTS_SOURCE = QueueEventSource(
    function=EMAIL_PROCESSOR.logical_name,
    queue=EMAIL_REQUESTS.logical_name,
    batch_size=10,
    maximum_concurrency=5,
)
CLIENT_SIGNALS_SOURCE = QueueEventSource(
    function=CLIENT_SIGNALS_FUNCTION.logical_name,
    queue=CLIENT_SIGNALS.logical_name,
    batch_size=10,
    maximum_concurrency=2,
)
SES_FEEDBACK_SOURCE = QueueEventSource(
    function=SES_FEEDBACK_FUNCTION.logical_name, queue=SES_FEEDBACK.logical_name, batch_size=10, maximum_concurrency=2
)
# One segment task at a time per invocation: a task may run for minutes and checkpoints itself.
RESCORE_SEGMENTS_SOURCE = QueueEventSource(
    function=RESCORE.logical_name, queue=RESCORE_SEGMENTS.logical_name, batch_size=1, maximum_concurrency=4
)
STORE_WEBHOOKS_SOURCE = QueueEventSource(
    function=STORE_WEBHOOKS_FUNCTION.logical_name, queue=STORE_WEBHOOKS.logical_name, batch_size=10,
    maximum_concurrency=2,
)  # fmt: skip
QUEUE_SOURCES = (
    EMAIL_REQUESTS_SOURCE, CLIENT_SIGNALS_SOURCE, SES_FEEDBACK_SOURCE, RESCORE_SEGMENTS_SOURCE, STORE_WEBHOOKS_SOURCE,
)  # fmt: skip

SEND_DUE = Schedule("send-due", function=SCHEDULED_SENDER.logical_name, rate_minutes=5, payload={"action": "send-due"})
RESCORE_SCHEDULE = Schedule(
    "rescore", function=RESCORE.logical_name, rate_minutes=24 * 60, payload={"action": "rescore"}
)
SCHEDULES = (SEND_DUE, RESCORE_SCHEDULE)

# What the local mode does differently from AWS, and why. Nothing else may differ (the parity test checks).
LOCAL_OVERRIDES: dict[str, tuple[Any, str]] = {
    "email-requests.visibility_timeout": (5, "a failed message is retried after seconds, not minutes"),
    "client-signals.visibility_timeout": (5, "a failed message is retried after seconds, not minutes"),
    "ses-feedback.visibility_timeout": (5, "a failed message is retried after seconds, not minutes"),
    "users-stream.starting_position": ("TRIM_HORIZON", "tables are new at start-up, so nothing is old"),
    "email-requests.maximum_concurrency": (1, "one local worker per function, like reserved concurrency 1"),
    "client-signals.maximum_concurrency": (1, "one local worker per function, like reserved concurrency 1"),
    "ses-feedback.maximum_concurrency": (1, "one local worker per function, like reserved concurrency 1"),
    "send-due.rate_minutes": (0.25, "scheduled emails go out within seconds of becoming due"),
    "rescore.rate_minutes": (10, "the sweep runs every 10 minutes, so drift shows within a session"),
    "rescore-segments.maximum_concurrency": (1, "one local worker per function, like reserved concurrency 1"),
    "store-webhooks.visibility_timeout": (5, "a failed message is retried after seconds, not minutes"),
    "store-webhooks.maximum_concurrency": (1, "one local worker per function, like reserved concurrency 1"),
    "ses.feedback": (
        "identity notifications",
        "moto's SES sends nothing through configuration-set event destinations; identity notifications send the "
        "same bounces and complaints (in SES's notificationType shape) to the same topic, and the mailbox "
        "simulator's addresses (bounce@simulator.amazonses.com, complaint@simulator.amazonses.com) produce them",
    ),
}


def local_value(key: str, aws_value: Any) -> Any:
    override = LOCAL_OVERRIDES.get(key)
    return aws_value if override is None else override[0]


@dataclass
class Deployed:
    """Names, ARNs and URLs of what was created, as the functions' environment needs them."""

    endpoint_url: str
    tables: dict[str, str] = field(default_factory=dict)
    stream_arn: str = ""
    topic_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)

    @property
    def topic_arn(self) -> str:
        return self.topic_arns["engagement-events"]


SERVICES = ("dynamodb", "sns", "sqs", "dynamodbstreams", "sesv2", "ses")  # create_all's clients, by name


def create_all(clients: dict[str, Any], endpoint_url: str) -> Deployed:
    """Create every resource in the emulator (clients: one per name in SERVICES)."""
    dynamodb, sns, sqs = clients["dynamodb"], clients["sns"], clients["sqs"]
    deployed = Deployed(endpoint_url=endpoint_url)
    for table in TABLES:
        request: dict[str, Any] = {
            "TableName": table.name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()],
            "KeySchema": [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
            + ([{"AttributeName": table.range_key, "KeyType": "RANGE"}] if table.range_key else []),
            "SSESpecification": {"Enabled": True},
        }
        if table.indexes:
            request["GlobalSecondaryIndexes"] = [
                {"IndexName": index.name, "KeySchema": index.key_schema, "Projection": index.projection}
                for index in table.indexes
            ]
        if table.stream_view_type:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
        description = dynamodb.create_table(**request)["TableDescription"]
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        deployed.tables[table.logical_name] = table.name
        if table.stream_view_type:
            deployed.stream_arn = description["LatestStreamArn"]

    for queue in QUEUES:
        attributes = {
            "VisibilityTimeout": str(local_value(f"{queue.logical_name}.visibility_timeout", queue.visibility_timeout)),
            "MessageRetentionPeriod": str(queue.message_retention),
            "SqsManagedSseEnabled": "true",
        }
        if queue.dead_letter:
            redrive = {
                "deadLetterTargetArn": deployed.queue_arns[queue.dead_letter],
                "maxReceiveCount": queue.max_receive_count,
            }
            attributes["RedrivePolicy"] = json.dumps(redrive)
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        deployed.queue_urls[queue.logical_name] = url
        deployed.queue_arns[queue.logical_name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    for logical_name, topic_name in TOPICS.items():
        deployed.topic_arns[logical_name] = sns.create_topic(Name=topic_name)["TopicArn"]
    for subscription in SUBSCRIPTIONS:
        attributes = {"RawMessageDelivery": "true" if subscription.raw_message_delivery else "false"}
        if subscription.filter_policy is not None:
            attributes |= {
                "FilterPolicy": json.dumps(subscription.filter_policy),
                "FilterPolicyScope": "MessageAttributes",
            }
        sns.subscribe(
            TopicArn=deployed.topic_arns[subscription.topic],
            Protocol="sqs",
            Endpoint=deployed.queue_arns[subscription.queue],
            Attributes=attributes,
        )

    clients["sesv2"].create_configuration_set(ConfigurationSetName=SES_CONFIGURATION_SET)
    clients["sesv2"].create_email_identity(EmailIdentity=SENDER_DOMAIN, ConfigurationSetName=SES_CONFIGURATION_SET)
    for kind in ("Bounce", "Complaint"):  # see LOCAL_OVERRIDES["ses.feedback"]
        clients["ses"].set_identity_notification_topic(
            Identity=SENDER_DOMAIN, NotificationType=kind, SnsTopic=deployed.topic_arns["ses-feedback"]
        )
    return deployed


def function_environment(function: Function, deployed: Deployed) -> dict[str, str]:
    """The environment Terraform gives each function (table names, ARNs, URLs, settings)."""
    common = {
        "POWERTOOLS_SERVICE_NAME": function.logical_name,
        "POWERTOOLS_METRICS_NAMESPACE": "ClientEngagement",
    }
    tables = {
        "USERS_TABLE_NAME": deployed.tables["users"],
        "EMAILS_TABLE_NAME": deployed.tables["emails"],
        "DECISIONS_TABLE_NAME": deployed.tables["decisions"],
        "SUPPRESSIONS_TABLE_NAME": deployed.tables["suppressions"],
    }
    delivery = {
        **tables,
        "DELIVERY_MODE": "review",
        "SENDER_EMAIL": SENDER_EMAIL,
        "BRAND_NAME": "Northwind Apparel",
        "SES_CONFIGURATION_SET": SES_CONFIGURATION_SET,
        "SENDING_WINDOW_START": "09:00",
        "SENDING_WINDOW_END": "20:00",
    }
    content = {  # what an email may say: the writer's rules, and a reviewer's edits
        **delivery,
        "SHOP_URL": "https://shop.example.com/",
        "POSTAL_ADDRESS": "100 Example Street, Springfield, 00000",
        "ALLOWED_OFFERS": "",
    }
    commerce = {  # orders and the catalog
        "ORDERS_TABLE_NAME": deployed.tables["orders"],
        "PRODUCTS_TABLE_NAME": deployed.tables["products"],
        "SHOP_CURRENCY": SHOP_CURRENCY,
        "IMAGE_DOMAINS": "cdn.shopify.com",
    }
    churn = {"MODELS_TABLE_NAME": deployed.tables["models"]}  # every function that scores reads the latest model
    # who may be emailed: the email processor decides by these, and the API answers an operator's request by them
    eligibility = {"EMAIL_COOLDOWN_DAYS": "7", "FREQUENCY_CAP": "2", "HOLDOUT_PERCENT": "0"}
    if function is STREAM_PROCESSOR:
        return {
            **common,
            **churn,
            "USERS_TABLE_NAME": deployed.tables["users"],
            "EVENTS_TOPIC_ARN": deployed.topic_arn,
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[STREAM_DLQ.logical_name],
        }
    if function is EMAIL_PROCESSOR:
        return {
            **common,
            **content,
            **churn,
            "ORDERS_TABLE_NAME": deployed.tables["orders"],  # what the client bought: what to show them
            "PRODUCTS_TABLE_NAME": deployed.tables["products"],
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[EMAIL_REQUESTS_DLQ.logical_name],
            **eligibility,
            "MAX_RECEIVE_COUNT": str(EMAIL_REQUESTS.max_receive_count),
            "LLM_BASE_URL": "https://openrouter.ai/api/v1",
            "LLM_MODEL": "openai/gpt-4o-mini",
            "LLM_CONCURRENCY": str(EMAIL_REQUESTS_SOURCE.batch_size),
        }
    if function is CLIENT_SIGNALS_FUNCTION:
        return {
            **common,
            **tables,
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[CLIENT_SIGNALS_DLQ.logical_name],
            "CONVERSION_WINDOW_DAYS": "30",
        }
    if function is SES_FEEDBACK_FUNCTION:
        return {
            **common,
            "SUPPRESSIONS_TABLE_NAME": deployed.tables["suppressions"],
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[SES_FEEDBACK_DLQ.logical_name],
        }
    if function is RESCORE:
        return {
            **common,
            "USERS_TABLE_NAME": deployed.tables["users"],
            "EVENTS_TOPIC_ARN": deployed.topic_arn,
            "SEGMENT_QUEUE_URL": deployed.queue_urls[RESCORE_SEGMENTS.logical_name],
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[RESCORE_SEGMENTS_DLQ.logical_name],
            "RESCORE_SEGMENTS": "4",
            "RESCORE_PAGE_SIZE": "500",
            "EMAIL_COOLDOWN_DAYS": "7",
            "WINBACK_ATTEMPTS": "3",
            **churn,
            "ORDERS_TABLE_NAME": deployed.tables["orders"],  # the daily co-purchase counts
            "PRODUCTS_TABLE_NAME": deployed.tables["products"],
            "CHURN_MODEL": "mbgnbd",
            "CHURN_MIN_REPEAT_BUYERS": "200",
            "CHURN_REFIT_DAYS": "7",
            "CHURN_MAX_CLIENTS": "50000",
        }
    if function is API:
        return {**common, **content, **commerce, **churn, **eligibility,
                "EMAIL_REQUESTS_QUEUE_URL": deployed.queue_urls[EMAIL_REQUESTS.logical_name],
                "AUTH_MODE": "bearer", "CONVERSION_WINDOW_DAYS": "30",
                "PIPELINE_QUEUES": json.dumps(watched_queues(deployed)),
                "WEBHOOK_QUEUE_URL": deployed.queue_urls[STORE_WEBHOOKS.logical_name],
                "WEBHOOKS_TABLE_NAME": deployed.tables["webhooks"]}  # fmt: skip
    if function is STORE_WEBHOOKS_FUNCTION:
        return {
            **common,
            **commerce,
            "USERS_TABLE_NAME": deployed.tables["users"],
            "WEBHOOKS_TABLE_NAME": deployed.tables["webhooks"],
            "DEAD_LETTER_QUEUE_URL": deployed.queue_urls[STORE_WEBHOOKS_DLQ.logical_name],
            "SHOP_URL": content["SHOP_URL"],
        }
    # scheduled_sender: what it sends is re-rendered when a product changed since the draft
    return {**common, **content, "PRODUCTS_TABLE_NAME": deployed.tables["products"]}


def watched_queues(deployed: Deployed) -> list[dict[str, Any]]:
    """What the API reports on: every queue, and for a dead-letter queue the queue it is redriven to (none for the
    stream's: stream records cannot be replayed)."""
    sources = {queue.dead_letter: queue.logical_name for queue in QUEUES if queue.dead_letter}
    return [
        {"name": queue.logical_name, "url": deployed.queue_urls[queue.logical_name],
         "kind": "dead-letter" if queue.logical_name.endswith("dlq") else "queue",
         "redrivesTo": sources.get(queue.logical_name)}
        for queue in QUEUES
    ]  # fmt: skip


def sample_environment(logical_name: str) -> dict[str, str]:
    """A function's environment with AWS-shaped names, creating nothing: for cold-start checks and benchmarks."""
    deployed = Deployed(
        endpoint_url="",
        tables={table.logical_name: table.name for table in TABLES},
        topic_arns={name: f"arn:aws:sns:{REGION}:123456789012:{topic}" for name, topic in TOPICS.items()},
        queue_urls={q.logical_name: f"https://sqs.{REGION}.amazonaws.com/123456789012/{q.name}" for q in QUEUES},
    )
    function = next(f for f in FUNCTIONS if f.logical_name == logical_name)
    placeholders = secrets_in_environment(
        function,
        api_token="sample-token-0123456789abcdef",  # noqa: S106 - a placeholder, not a secret
        unsubscribe_secret="sample-unsubscribe-secret-0123456789",  # noqa: S106
        public_base_url="https://api.example.com",
    )
    return function_environment(function, deployed) | placeholders


def sends_email(function: Function) -> bool:
    """The functions that send (the API on approval, the scheduler, the email processor in DELIVERY_MODE=auto)."""
    return function in (API, SCHEDULED_SENDER, EMAIL_PROCESSOR)


def secrets_in_environment(
    function: Function,
    *,
    api_token: str,
    unsubscribe_secret: str,
    public_base_url: str,
    webhook_secret: str = "sample-webhook-secret-0123456789",  # noqa: S107 - a placeholder, not a secret
) -> dict[str, str]:
    """What a function reads from SSM in AWS, given in its environment where there is no SSM (the local mode, tests,
    benchmarks): the API's token and the store's webhook secret; for the functions that send, the unsubscribe key
    and where its links point."""
    secrets = {"API_TOKEN": api_token, "SHOPIFY_WEBHOOK_SECRET": webhook_secret} if function is API else {}
    if sends_email(function):
        secrets |= {"UNSUBSCRIBE_SECRET": unsubscribe_secret, "PUBLIC_BASE_URL": public_base_url}
    return secrets
