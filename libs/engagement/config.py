"""One settings model per function, read from the environment once at cold start.

A missing or malformed variable fails the cold start with a message naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from engagement.errors import ConfigurationError
from engagement.policy import EligibilityRules
from engagement.writer.base import ModelPrice
from engagement.writer.guardrails import GuardrailPolicy
from engagement.writer.render import Brand


class FunctionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'environment'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise ConfigurationError(f"{cls.__name__} cannot start: {problems}") from None


class StreamProcessorConfig(FunctionConfig):
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


class EmailProcessorConfig(FunctionConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    emails_table: str = Field(alias="EMAILS_TABLE_NAME", min_length=3)
    decisions_table: str = Field(alias="DECISIONS_TABLE_NAME", min_length=3)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    cooldown_days: float = Field(default=7, alias="EMAIL_COOLDOWN_DAYS", ge=0, le=365)
    brand_name: str = Field(alias="BRAND_NAME", min_length=1)
    shop_url: str = Field(alias="SHOP_URL", pattern=r"^https://")
    postal_address: str = Field(alias="POSTAL_ADDRESS", min_length=5, description="Required in commercial email")
    # The LLM writer: on when a key is configured (locally the key itself, in AWS the SSM parameter's name).
    openrouter_api_key: SecretStr | None = Field(default=None, alias="OPENROUTER_API_KEY")
    openrouter_api_key_parameter: str | None = Field(default=None, alias="OPENROUTER_API_KEY_PARAMETER", pattern="^/")
    llm_base_url: str = Field(default="https://openrouter.ai/api/v1", alias="LLM_BASE_URL", pattern=r"^https?://")
    llm_model: str = Field(default="openai/gpt-4o-mini", alias="LLM_MODEL", min_length=1)
    llm_timeout_s: float = Field(default=20, alias="LLM_TIMEOUT_S", gt=0, le=300)
    llm_max_retries: int = Field(default=3, alias="LLM_MAX_RETRIES", ge=0, le=10)
    llm_concurrency: int = Field(default=10, alias="LLM_CONCURRENCY", ge=1, le=50)
    llm_prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES), alias="LLM_PRICES")
    allowed_link_domains: tuple[str, ...] = Field(default=(), alias="ALLOWED_LINK_DOMAINS")
    allowed_offers: tuple[str, ...] = Field(default=(), alias="ALLOWED_OFFERS")
    max_receive_count: int = Field(default=5, alias="MAX_RECEIVE_COUNT", ge=1)
    fallback_on_last_receive: bool = Field(default=True, alias="LLM_FALLBACK_ON_LAST_RECEIVE")

    _lists = field_validator("llm_prices", "allowed_link_domains", "allowed_offers", mode="before")(
        lambda value: _json_or_list(value)
    )

    @property
    def llm_configured(self) -> bool:
        return self.openrouter_api_key is not None or self.openrouter_api_key_parameter is not None

    @property
    def guardrails(self) -> GuardrailPolicy:
        shop = urlsplit(self.shop_url).hostname or ""
        return GuardrailPolicy(
            allowed_link_domains=self.allowed_link_domains or (shop,), allowed_offers=self.allowed_offers
        )

    @property
    def rules(self) -> EligibilityRules:
        return EligibilityRules(cooldown=timedelta(days=self.cooldown_days))

    @property
    def brand(self) -> Brand:
        return Brand(name=self.brand_name, postal_address=self.postal_address, shop_url=self.shop_url)


class ApiConfig(FunctionConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    emails_table: str = Field(alias="EMAILS_TABLE_NAME", min_length=3)
    decisions_table: str = Field(alias="DECISIONS_TABLE_NAME", min_length=3)
    api_token: str | None = Field(default=None, alias="API_TOKEN", min_length=16, repr=False)
    api_token_parameter: str | None = Field(default=None, alias="API_TOKEN_PARAMETER", pattern=r"^/")

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        if (self.api_token is None) == (self.api_token_parameter is None):
            raise ValueError("set exactly one of API_TOKEN (local) or API_TOKEN_PARAMETER (an SSM parameter name)")
        return self
