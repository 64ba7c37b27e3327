"""One settings model per function, read from the environment once at cold start.

A missing or malformed variable fails the cold start with a message naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from engagement.adapters.pipeline_monitor import WatchedQueue
from engagement.domain.churn import Variant
from engagement.domain.churn_model import FitSettings
from engagement.domain.models import EmailAddress
from engagement.domain.orders import CURRENCIES
from engagement.domain.policy import EligibilityRules
from engagement.domain.sending_window import SendingWindow
from engagement.errors import ConfigurationError, describe, validation_problems
from engagement.writer.base import ModelPrice
from engagement.writer.guardrails import GuardrailPolicy
from engagement.writer.render import Brand


class FunctionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False, defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            problems = describe(validation_problems(exc, where="environment"))
            raise ConfigurationError(f"{cls.__name__} cannot start: {problems}") from None


class ChurnModelsConfig(FunctionConfig):
    """Where the churn model's versions are: every function that scores reads the latest."""

    models_table: str = Field(alias="MODELS_TABLE_NAME", min_length=3)


class StreamProcessorConfig(ChurnModelsConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    events_topic_arn: str = Field(alias="EVENTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")


DEFAULT_PRICES = {"openai/gpt-4o-mini": ModelPrice(prompt=0.15, completion=0.60)}  # USD per million tokens


def _json_or_list(value: object) -> object:
    """Environment values: a JSON document, or a comma-separated list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("{", "[")):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def _exactly_one(config: BaseModel, value: str, parameter: str, hint: str) -> None:
    fields = type(config).model_fields
    given = [getattr(config, name) is not None for name in (value, parameter)]
    if given.count(True) != 1:
        names = " or ".join(str(fields[name].alias) for name in (value, parameter))
        raise ValueError(f"set exactly one of {names} ({hint})")


class TablesConfig(FunctionConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    emails_table: str = Field(alias="EMAILS_TABLE_NAME", min_length=3)
    decisions_table: str = Field(alias="DECISIONS_TABLE_NAME", min_length=3)
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)


class DeliveryConfig(TablesConfig):
    """What sending takes: the verified sender, SES's configuration set, the signed unsubscribe links."""

    delivery_mode: Literal["review", "auto"] = Field(default="review", alias="DELIVERY_MODE")
    sender_email: EmailAddress = Field(alias="SENDER_EMAIL")
    brand_name: str = Field(alias="BRAND_NAME", min_length=1)
    ses_configuration_set: str | None = Field(default=None, alias="SES_CONFIGURATION_SET")
    unsubscribe_secret: SecretStr | None = Field(default=None, alias="UNSUBSCRIBE_SECRET")
    unsubscribe_secret_parameter: str | None = Field(default=None, alias="UNSUBSCRIBE_SECRET_PARAMETER", pattern="^/")
    # The key the current one replaced: its links stay valid for the overlap after the current key was written.
    unsubscribe_previous_secret_parameter: str | None = Field(
        default=None, alias="UNSUBSCRIBE_PREVIOUS_SECRET_PARAMETER", pattern="^/"
    )
    unsubscribe_key_overlap_days: int = Field(default=60, alias="UNSUBSCRIBE_KEY_OVERLAP_DAYS", ge=1, le=365)
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL", pattern=r"^https?://")
    public_base_url_parameter: str | None = Field(default=None, alias="PUBLIC_BASE_URL_PARAMETER", pattern="^/")
    sending_window_start: time = Field(default=time(9), alias="SENDING_WINDOW_START")
    sending_window_end: time = Field(default=time(20), alias="SENDING_WINDOW_END")

    @model_validator(mode="after")
    def _sources(self) -> Self:
        _exactly_one(
            self, "unsubscribe_secret", "unsubscribe_secret_parameter", "the key unsubscribe links are signed with"
        )
        _exactly_one(self, "public_base_url", "public_base_url_parameter", "where unsubscribe links point")
        if self.sending_window_start >= self.sending_window_end:
            raise ValueError("SENDING_WINDOW_START must come before SENDING_WINDOW_END")
        return self

    @property
    def window(self) -> SendingWindow:
        return SendingWindow(start=self.sending_window_start, end=self.sending_window_end)


class ContentConfig(DeliveryConfig):
    """What an email may say and how it is rendered: for the writer, and for a reviewer's edits."""

    shop_url: str = Field(alias="SHOP_URL", pattern=r"^https://")
    postal_address: str = Field(alias="POSTAL_ADDRESS", min_length=5, description="Required in commercial email")
    allowed_link_domains: tuple[str, ...] = Field(default=(), alias="ALLOWED_LINK_DOMAINS")
    allowed_offers: tuple[str, ...] = Field(default=(), alias="ALLOWED_OFFERS")

    _content_lists = field_validator("allowed_link_domains", "allowed_offers", mode="before")(
        lambda value: _json_or_list(value)
    )

    @property
    def guardrails(self) -> GuardrailPolicy:
        shop = urlsplit(self.shop_url).hostname or ""
        return GuardrailPolicy(
            allowed_link_domains=self.allowed_link_domains or (shop,), allowed_offers=self.allowed_offers
        )

    @property
    def brand(self) -> Brand:
        return Brand(name=self.brand_name, postal_address=self.postal_address, shop_url=self.shop_url)


class CatalogConfig(FunctionConfig):
    """The catalog an email's products come from (their cards, and the check at send time)."""

    products_table: str = Field(alias="PRODUCTS_TABLE_NAME", min_length=3)


class EligibilityConfig(FunctionConfig):
    """Who may get a win-back email: the email processor decides by it, and the API answers an operator's request
    by it at once (the two are given the same values)."""

    cooldown_days: float = Field(default=7, alias="EMAIL_COOLDOWN_DAYS", ge=0, le=365)
    frequency_cap: int = Field(default=2, alias="FREQUENCY_CAP", ge=1, le=100)
    frequency_window_days: int = Field(default=30, alias="FREQUENCY_WINDOW_DAYS", ge=1, le=365)
    holdout_percent: float = Field(default=0, alias="HOLDOUT_PERCENT", ge=0, le=100)

    @property
    def rules(self) -> EligibilityRules:
        return EligibilityRules(
            cooldown=timedelta(days=self.cooldown_days),
            frequency_window=timedelta(days=self.frequency_window_days),
            frequency_cap=self.frequency_cap,
            holdout_percent=self.holdout_percent,
        )


class EmailProcessorConfig(ContentConfig, ChurnModelsConfig, CatalogConfig, EligibilityConfig):
    orders_table: str = Field(alias="ORDERS_TABLE_NAME", min_length=3)  # the client's orders: what to show them
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    # The LLM writer: on when a key is configured (locally the key itself, in AWS the SSM parameter's name).
    openrouter_api_key: SecretStr | None = Field(default=None, alias="OPENROUTER_API_KEY")
    openrouter_api_key_parameter: str | None = Field(default=None, alias="OPENROUTER_API_KEY_PARAMETER", pattern="^/")
    llm_base_url: str = Field(default="https://openrouter.ai/api/v1", alias="LLM_BASE_URL", pattern=r"^https?://")
    llm_model: str = Field(default="openai/gpt-4o-mini", alias="LLM_MODEL", min_length=1)
    llm_timeout_s: float = Field(default=20, alias="LLM_TIMEOUT_S", gt=0, le=300)
    llm_max_retries: int = Field(default=3, alias="LLM_MAX_RETRIES", ge=0, le=10)
    llm_concurrency: int = Field(default=10, alias="LLM_CONCURRENCY", ge=1, le=50)
    llm_prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES), alias="LLM_PRICES")
    max_receive_count: int = Field(default=5, alias="MAX_RECEIVE_COUNT", ge=1)
    fallback_on_last_receive: bool = Field(default=True, alias="LLM_FALLBACK_ON_LAST_RECEIVE")

    _prices = field_validator("llm_prices", mode="before")(lambda value: _json_or_list(value))

    @property
    def llm_configured(self) -> bool:
        return self.openrouter_api_key is not None or self.openrouter_api_key_parameter is not None


class CommerceConfig(FunctionConfig):
    """Orders and the catalog: their tables, and the one currency the shop's amounts are in."""

    orders_table: str = Field(alias="ORDERS_TABLE_NAME", min_length=3)
    products_table: str = Field(alias="PRODUCTS_TABLE_NAME", min_length=3)
    shop_currency: str = Field(alias="SHOP_CURRENCY", pattern=r"^[A-Z]{3}$")
    # Where a product's picture may be besides the shop's domains: its store's CDN.
    image_domains: tuple[str, ...] = Field(default=("cdn.shopify.com",), alias="IMAGE_DOMAINS")

    _image_domains = field_validator("image_domains", mode="before")(lambda value: _json_or_list(value))

    @field_validator("shop_currency")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"{value} is not an ISO 4217 currency code")
        return value


class ApiConfig(ContentConfig, CommerceConfig, ChurnModelsConfig, CatalogConfig, EligibilityConfig):
    # An operator's request for a draft now goes to the email processor's queue, as the pipeline's events do.
    email_requests_queue_url: str = Field(alias="EMAIL_REQUESTS_QUEUE_URL", pattern=r"^https?://")
    # A store's webhooks: verified with the shared secret (locally the value, in AWS the SSM parameter), queued.
    webhook_queue_url: str = Field(alias="WEBHOOK_QUEUE_URL", pattern=r"^https?://")
    webhooks_table: str = Field(alias="WEBHOOKS_TABLE_NAME", min_length=3)
    shopify_webhook_secret: str | None = Field(default=None, alias="SHOPIFY_WEBHOOK_SECRET", repr=False)
    shopify_webhook_secret_parameter: str | None = Field(
        default=None, alias="SHOPIFY_WEBHOOK_SECRET_PARAMETER", pattern=r"^/"
    )
    # bearer: the API checks a shared token; jwt: API Gateway's JWT authorizer checked the caller before us.
    auth_mode: Literal["bearer", "jwt"] = Field(default="bearer", alias="AUTH_MODE")
    api_token: str | None = Field(default=None, alias="API_TOKEN", min_length=16, repr=False)
    api_token_parameter: str | None = Field(default=None, alias="API_TOKEN_PARAMETER", pattern=r"^/")
    conversion_window_days: int = Field(default=30, alias="CONVERSION_WINDOW_DAYS", ge=1, le=365)
    pipeline_queues: tuple[WatchedQueue, ...] = Field(alias="PIPELINE_QUEUES", min_length=1)
    stats_max_age_s: int = Field(default=300, alias="STATS_MAX_AGE_S", ge=0, le=86_400)

    _queues = field_validator("pipeline_queues", mode="before")(lambda value: _json_or_list(value))

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        if self.auth_mode == "bearer":
            _exactly_one(self, "api_token", "api_token_parameter", "API_TOKEN locally, an SSM parameter name in AWS")
        if self.shopify_webhook_secret is not None and self.shopify_webhook_secret_parameter is not None:
            raise ValueError("set SHOPIFY_WEBHOOK_SECRET or SHOPIFY_WEBHOOK_SECRET_PARAMETER, not both")
        names = {queue.name for queue in self.pipeline_queues}
        for queue in self.pipeline_queues:
            if queue.redrives_to is not None and queue.redrives_to not in names:
                raise ValueError(f"PIPELINE_QUEUES: {queue.name} redrives to {queue.redrives_to}, which is not listed")
        return self


class ScheduledSenderConfig(ContentConfig, CatalogConfig):
    pass


class StoreWebhooksConfig(CommerceConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    webhooks_table: str = Field(alias="WEBHOOKS_TABLE_NAME", min_length=3)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    shop_url: str = Field(alias="SHOP_URL", pattern=r"^https://")
    allowed_link_domains: tuple[str, ...] = Field(default=(), alias="ALLOWED_LINK_DOMAINS")

    _domains = field_validator("allowed_link_domains", mode="before")(lambda value: _json_or_list(value))

    @property
    def shop_domains(self) -> tuple[str, ...]:
        """Where a product's page and picture may be: the allowed link domains, or the shop's own."""
        return self.allowed_link_domains or (urlsplit(self.shop_url).hostname or "",)


class ClientSignalsConfig(TablesConfig):
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    conversion_window_days: int = Field(default=30, alias="CONVERSION_WINDOW_DAYS", ge=1, le=365)


class SesFeedbackConfig(FunctionConfig):
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE_NAME", min_length=3)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")


class RescoreConfig(ChurnModelsConfig, CatalogConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    orders_table: str = Field(alias="ORDERS_TABLE_NAME", min_length=3)  # read daily for the co-purchase counts
    events_topic_arn: str = Field(alias="EVENTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    segment_queue_url: str = Field(alias="SEGMENT_QUEUE_URL", pattern=r"^https?://")
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    total_segments: int = Field(default=4, alias="RESCORE_SEGMENTS", ge=1, le=1_000_000)
    page_size: int = Field(default=500, alias="RESCORE_PAGE_SIZE", ge=1, le=10_000)
    email_cooldown_days: int = Field(default=7, alias="EMAIL_COOLDOWN_DAYS", ge=1, le=365)
    winback_attempts: int = Field(default=3, alias="WINBACK_ATTEMPTS", ge=1, le=100)
    churn_model: Variant = Field(default=Variant.MBGNBD, alias="CHURN_MODEL")
    churn_min_repeat_buyers: int = Field(default=200, alias="CHURN_MIN_REPEAT_BUYERS", ge=1, le=10_000_000)
    churn_refit_days: float = Field(default=7, alias="CHURN_REFIT_DAYS", gt=0, le=365)
    churn_max_clients: int = Field(default=50_000, alias="CHURN_MAX_CLIENTS", ge=100, le=1_000_000)

    @property
    def fit_settings(self) -> FitSettings:
        return FitSettings(
            variant=self.churn_model,
            min_repeat_buyers=self.churn_min_repeat_buyers,
            refit_every=timedelta(days=self.churn_refit_days),
            max_clients=self.churn_max_clients,
        )
