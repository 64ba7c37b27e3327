"""The one place where objects are wired: a builder per function, returning that function's services, frozen.

A handler is its configuration, one builder call and its `lambda_handler`. Tests and benchmarks build through the
same builders, with a fixed clock, wrapped or fake AWS clients, or another writer; nothing reaches into a live
object to swap a part. (cosmicpython's bootstrap is the model.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engagement.adapters.messaging import DeadLetterQueue, EmailRequestQueue, EventPublisher
from engagement.adapters.secrets import RotatingKey, SecretSource
from engagement.adapters.store import DecisionRepository, EmailRepository, SuppressionRepository, UserRepository
from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.orders import OrderRepository
from engagement.adapters.store.products import ProductRepository
from engagement.clock import Clock, clock_from_environment
from engagement.config import (
    ApiConfig,
    ClientSignalsConfig,
    CommerceConfig,
    DeliveryConfig,
    EmailProcessorConfig,
    RescoreConfig,
    ScheduledSenderConfig,
    SesFeedbackConfig,
    StoreWebhooksConfig,
    StreamProcessorConfig,
)
from engagement.domain.consent import UnsubscribeTokens
from engagement.errors import ConfigurationError

if TYPE_CHECKING:
    from types_boto3_cloudwatch import CloudWatchClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_sesv2 import SESV2Client
    from types_boto3_sns import SNSClient
    from types_boto3_sqs import SQSClient

    from engagement.http.context import ApiServices
    from engagement.services.catalog import CatalogService
    from engagement.services.conversion import Conversions
    from engagement.services.delivery import Delivery
    from engagement.services.orders import OrderService
    from engagement.services.rescore import RescoreSweep
    from engagement.services.ses_feedback import SesFeedbackService
    from engagement.services.signals import SignalsService
    from engagement.services.store_webhooks import StoreWebhookService, WebhookReceiver
    from engagement.services.stream import StreamService
    from engagement.services.winback import WinbackService
    from engagement.writer import EmailWriter


@dataclass(frozen=True)
class Clients:
    """The AWS clients the adapters use. None: the process's own (engagement.adapters.aws), as in Lambda."""

    dynamodb: DynamoDBClient | None = None
    sns: SNSClient | None = None
    sqs: SQSClient | None = None
    sesv2: SESV2Client | None = None
    cloudwatch: CloudWatchClient | None = None


DEFAULT_CLIENTS = Clients()


@dataclass(frozen=True)
class Tables:
    users: UserRepository
    emails: EmailRepository
    decisions: DecisionRepository
    suppressions: SuppressionRepository


def _tables(config: Any, clients: Clients) -> Tables:
    return Tables(
        users=UserRepository(config.users_table, clients.dynamodb),
        emails=EmailRepository(config.emails_table, clients.dynamodb),
        decisions=DecisionRepository(config.decisions_table, clients.dynamodb),
        suppressions=SuppressionRepository(config.suppressions_table, clients.dynamodb),
    )


# ---- the functions' services (each builder imports what only its function needs: cold starts stay short) --------


@dataclass(frozen=True)
class StreamProcessor:
    service: StreamService


def stream_processor(
    config: StreamProcessorConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> StreamProcessor:
    from engagement.services.stream import StreamService

    return StreamProcessor(
        StreamService(
            users=UserRepository(config.users_table, clients.dynamodb),
            publisher=EventPublisher(config.events_topic_arn, clients.sns),
            dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="stream_processor", sqs=clients.sqs),
            clock=clock or clock_from_environment(),
            models=ChurnModelRepository(config.models_table, clients.dynamodb),
        )
    )


@dataclass(frozen=True)
class EmailProcessor:
    service: WinbackService
    dead_letters: DeadLetterQueue
    clock: Clock
    max_receive_count: int
    fallback_on_last_receive: bool
    concurrency: int


def email_processor(
    config: EmailProcessorConfig,
    *,
    clock: Clock | None = None,
    clients: Clients = DEFAULT_CLIENTS,
    writer: EmailWriter | None = None,
) -> EmailProcessor:
    from engagement.adapters.store.co_purchases import CoPurchaseRepository
    from engagement.services.recommend import Recommender
    from engagement.services.winback import WinbackService

    clock = clock or clock_from_environment()
    tables = _tables(config, clients)
    return EmailProcessor(
        service=WinbackService(
            users=tables.users,
            emails=tables.emails,
            decisions=tables.decisions,
            writer=writer or email_writer(config),
            brand=config.brand,
            rules=config.rules,
            clock=clock,
            suppressions=tables.suppressions,
            models=ChurnModelRepository(config.models_table, clients.dynamodb),
            delivery=_delivery(config, tables, clock, clients) if config.delivery_mode == "auto" else None,
            recommender=Recommender(
                orders=OrderRepository(config.orders_table, clients.dynamodb),
                products=ProductRepository(config.products_table, clients.dynamodb),
                co_purchases=CoPurchaseRepository(config.models_table, clients.dynamodb),
            ),
        ),
        dead_letters=DeadLetterQueue(config.dead_letter_queue_url, source="email_processor", sqs=clients.sqs),
        clock=clock,
        max_receive_count=config.max_receive_count,
        fallback_on_last_receive=config.fallback_on_last_receive,
        concurrency=config.llm_concurrency,
    )


def email_writer(config: EmailProcessorConfig) -> EmailWriter:
    """The LLM when a key is configured (the template if it fails); the template alone otherwise."""
    from engagement.writer import TemplateWriter

    template = TemplateWriter(shop_url=config.shop_url, brand_name=config.brand_name)
    if not config.llm_configured:
        return template
    from engagement.writer.llm import LLMSettings, LLMWriter  # imports openai: only when used

    settings = LLMSettings(
        base_url=config.llm_base_url,
        model=config.llm_model,
        timeout_s=config.llm_timeout_s,
        max_retries=config.llm_max_retries,
        brand_name=config.brand_name,
        shop_url=config.shop_url,
        policy=config.guardrails,
        prices=config.llm_prices,
    )
    key = config.openrouter_api_key.get_secret_value() if config.openrouter_api_key else None
    return LLMWriter(settings, SecretSource(key, config.openrouter_api_key_parameter), fallback=template)


@dataclass(frozen=True)
class ScheduledSender:
    delivery: Delivery


def scheduled_sender(
    config: ScheduledSenderConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> ScheduledSender:
    return ScheduledSender(_delivery(config, _tables(config, clients), clock or clock_from_environment(), clients))


@dataclass(frozen=True)
class ClientSignals:
    service: SignalsService
    dead_letters: DeadLetterQueue
    clock: Clock


def client_signals(
    config: ClientSignalsConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> ClientSignals:
    from engagement.services.signals import SignalsService

    tables = _tables(config, clients)
    clock = clock or clock_from_environment()
    return ClientSignals(
        SignalsService(
            emails=tables.emails, conversions=_conversions(tables, config.conversion_window_days), clock=clock
        ),
        DeadLetterQueue(config.dead_letter_queue_url, source="client_signals", sqs=clients.sqs),
        clock,
    )


@dataclass(frozen=True)
class SesFeedback:
    service: SesFeedbackService
    dead_letters: DeadLetterQueue
    clock: Clock


def ses_feedback(
    config: SesFeedbackConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> SesFeedback:
    from engagement.services.ses_feedback import SesFeedbackService

    return SesFeedback(
        SesFeedbackService(SuppressionRepository(config.suppressions_table, clients.dynamodb)),
        DeadLetterQueue(config.dead_letter_queue_url, source="ses_feedback", sqs=clients.sqs),
        clock or clock_from_environment(),
    )


@dataclass(frozen=True)
class Rescore:
    sweep: RescoreSweep
    dead_letters: DeadLetterQueue
    clock: Clock


def rescore(config: RescoreConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS) -> Rescore:
    from engagement.adapters.segment_queue import SegmentQueue
    from engagement.adapters.store.co_purchases import CoPurchaseRepository
    from engagement.domain.sweep import RescoreRules
    from engagement.services.churn import ChurnFitting
    from engagement.services.co_purchases import CoPurchaseBuilding
    from engagement.services.rescore import RescoreSweep

    clock = clock or clock_from_environment()
    users = UserRepository(config.users_table, clients.dynamodb)
    models = ChurnModelRepository(config.models_table, clients.dynamodb)
    sweep = RescoreSweep(
        users=users,
        models=models,
        fitting=ChurnFitting(users=users, models=models, settings=config.fit_settings),
        co_purchases=CoPurchaseBuilding(
            orders=OrderRepository(config.orders_table, clients.dynamodb),
            products=ProductRepository(config.products_table, clients.dynamodb),
            store=CoPurchaseRepository(config.models_table, clients.dynamodb),
        ),
        publisher=EventPublisher(config.events_topic_arn, clients.sns),
        tasks=SegmentQueue(config.segment_queue_url, clients.sqs),
        rules=RescoreRules(cooldown=timedelta(days=config.email_cooldown_days), max_attempts=config.winback_attempts),
        clock=clock,
        total_segments=config.total_segments,
        page_size=config.page_size,
    )
    return Rescore(sweep, DeadLetterQueue(config.dead_letter_queue_url, source="rescore", sqs=clients.sqs), clock)


def api(
    config: ApiConfig, *, assets: Mapping[str, str], clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> ApiServices:
    """The HTTP API's services (engagement.http.app.http_api serves them); assets: the dashboard's files by name."""
    from engagement.adapters.pipeline_monitor import PipelineMonitor
    from engagement.http.auth import BearerTokenAuth
    from engagement.http.context import ApiServices
    from engagement.services.clients import ClientService
    from engagement.services.review import Editor
    from engagement.services.stats import StatsService
    from engagement.services.winback_requests import WinbackRequests

    clock = clock or clock_from_environment()
    webhook_secret = SecretSource(config.shopify_webhook_secret, config.shopify_webhook_secret_parameter)
    tables = _tables(config, clients)
    models = ChurnModelRepository(config.models_table, clients.dynamodb, max_age_s=5.0)  # a refit shows at once
    orders, catalog = _commerce(config, tables.users, config.guardrails.allowed_link_domains, clock, clients)
    return ApiServices(
        auth_mode=config.auth_mode,
        clock=clock,
        users=tables.users,
        emails=tables.emails,
        decisions=tables.decisions,
        delivery=_delivery(config, tables, clock, clients),
        clients=ClientService(users=tables.users, clock=clock),
        orders=orders,
        catalog=catalog,
        conversions=_conversions(tables, config.conversion_window_days),
        webhooks=_webhook_receiver(webhook_secret, config, clock, clients),
        winback_requests=WinbackRequests(
            users=tables.users,
            emails=tables.emails,
            decisions=tables.decisions,
            suppressions=tables.suppressions,
            models=models,
            rules=config.rules,
            queue=EmailRequestQueue(config.email_requests_queue_url, clients.sqs),
            clock=clock,
        ),
        editor=Editor(
            emails=tables.emails,
            users=tables.users,
            brand=config.brand,
            policy=config.guardrails,
            clock=clock,
            models=models,
            products=ProductRepository(config.products_table, clients.dynamodb),
        ),
        stats=StatsService(
            users=tables.users,
            emails=tables.emails,
            decisions=tables.decisions,
            clock=clock,
            models=models,
            max_age=timedelta(seconds=config.stats_max_age_s),
        ),
        churn_models=models,
        pipeline=PipelineMonitor(config.pipeline_queues, sqs=clients.sqs, cloudwatch=clients.cloudwatch),
        auth=BearerTokenAuth(SecretSource(config.api_token, config.api_token_parameter).get),
        assets=assets,
        picture_hosts=(*config.guardrails.allowed_link_domains, *config.image_domains),
    )


@dataclass(frozen=True)
class StoreWebhooks:
    service: StoreWebhookService
    dead_letters: DeadLetterQueue
    clock: Clock


def store_webhooks(
    config: StoreWebhooksConfig, *, clock: Clock | None = None, clients: Clients = DEFAULT_CLIENTS
) -> StoreWebhooks:
    from engagement.adapters.store.webhooks import WebhookRepository
    from engagement.services.store_webhooks import StoreWebhookService

    clock = clock or clock_from_environment()
    users = UserRepository(config.users_table, clients.dynamodb)
    orders, catalog = _commerce(config, users, config.shop_domains, clock, clients)
    service = StoreWebhookService(
        webhooks=WebhookRepository(config.webhooks_table, clients.dynamodb),
        users=users,
        orders=orders,
        catalog=catalog,
        shop_url=config.shop_url,
        clock=clock,
    )
    return StoreWebhooks(
        service, DeadLetterQueue(config.dead_letter_queue_url, source="store_webhooks", sqs=clients.sqs), clock
    )


# ---- shared parts ---------------------------------------------------------------------------------------------


def _commerce(
    config: CommerceConfig, users: UserRepository, domains: Sequence[str], clock: Clock, clients: Clients
) -> tuple[OrderService, CatalogService]:
    """Orders and the catalog, as the API and the store's webhooks record them (domains: where products may link)."""
    from engagement.services.catalog import CatalogService
    from engagement.services.orders import OrderService

    products = ProductRepository(config.products_table, clients.dynamodb)
    orders = OrderService(users=users, orders=OrderRepository(config.orders_table, clients.dynamodb),
                          products=products, clock=clock, shop_currency=config.shop_currency)  # fmt: skip
    catalog = CatalogService(products=products, clock=clock, domains=domains, image_domains=config.image_domains,
                             shop_currency=config.shop_currency)  # fmt: skip
    return orders, catalog


def _webhook_receiver(secret: SecretSource, config: ApiConfig, clock: Clock, clients: Clients) -> WebhookReceiver:
    from engagement.adapters.store.webhooks import WebhookRepository
    from engagement.adapters.webhook_inbox import WebhookInbox
    from engagement.services.store_webhooks import WebhookReceiver

    return WebhookReceiver(
        secret=secret.get,
        webhooks=WebhookRepository(config.webhooks_table, clients.dynamodb),
        inbox=WebhookInbox(config.webhook_queue_url, clients.sqs),
        clock=clock,
    )


def _conversions(tables: Tables, window_days: int) -> Conversions:
    from engagement.services.conversion import Conversions

    return Conversions(emails=tables.emails, decisions=tables.decisions, window=timedelta(days=window_days))


def _delivery(
    config: EmailProcessorConfig | ApiConfig | ScheduledSenderConfig, tables: Tables, clock: Clock, clients: Clients
) -> Delivery:
    from engagement.adapters.mailer import Mailer
    from engagement.services.delivery import Delivery, DeliverySettings

    keys = unsubscribe_keys(config)
    return Delivery(
        emails=tables.emails,
        users=tables.users,
        suppressions=tables.suppressions,
        decisions=tables.decisions,
        mailer=Mailer(config.ses_configuration_set, clients.sesv2),
        tokens=lambda: unsubscribe_tokens(config, keys, clock.now()),  # SSM, 5-minute cache: rotating needs no deploy
        settings=DeliverySettings(
            mode=config.delivery_mode, sender=config.sender_email, sender_name=config.brand_name, window=config.window
        ),
        clock=clock,
        products=ProductRepository(config.products_table, clients.dynamodb),
        brand=config.brand,
    )


def unsubscribe_tokens(config: DeliveryConfig, keys: RotatingKey | None, now: datetime) -> UnsubscribeTokens:
    """The signing keys (from SSM in AWS, with the previous key while its links may come back; from the environment
    locally) and where the links point."""
    if keys is not None:
        secret, previous = keys.keys(now)
    else:
        secret = config.unsubscribe_secret.get_secret_value() if config.unsubscribe_secret else None
        previous = None
    base_url = SecretSource(config.public_base_url, config.public_base_url_parameter).get()
    if secret is None or base_url is None:
        raise ConfigurationError("the unsubscribe secret and the public base URL must both be set")
    return UnsubscribeTokens(secret.encode(), base_url, previous=previous.encode() if previous else None)


def unsubscribe_keys(config: DeliveryConfig) -> RotatingKey | None:
    if config.unsubscribe_secret_parameter is None:
        return None
    return RotatingKey(
        config.unsubscribe_secret_parameter,
        config.unsubscribe_previous_secret_parameter,
        overlap=timedelta(days=config.unsubscribe_key_overlap_days),
    )
