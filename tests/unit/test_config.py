from __future__ import annotations

import pytest

from engagement.config import ApiConfig, EmailProcessorConfig, StreamProcessorConfig
from engagement.errors import ConfigurationError

STREAM_ENV = {
    "USERS_TABLE_NAME": "users",
    "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:events",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "MODELS_TABLE_NAME": "models",
}


def test_a_complete_environment_is_read_once() -> None:
    config = StreamProcessorConfig.from_env(STREAM_ENV)
    assert config.users_table == "users"


def test_a_missing_variable_is_named() -> None:
    environment = {k: v for k, v in STREAM_ENV.items() if k != "EVENTS_TOPIC_ARN"}
    with pytest.raises(ConfigurationError, match="EVENTS_TOPIC_ARN: Field required"):
        StreamProcessorConfig.from_env(environment)


DELIVERY_ENV = {
    "USERS_TABLE_NAME": "users", "EMAILS_TABLE_NAME": "emails", "DECISIONS_TABLE_NAME": "decisions",
    "SUPPRESSIONS_TABLE_NAME": "suppressions", "SENDER_EMAIL": "winback@shop.example.com", "BRAND_NAME": "B",
    "UNSUBSCRIBE_SECRET": "0123456789abcdef0123", "PUBLIC_BASE_URL": "https://api.example.com",
}  # fmt: skip


def test_a_malformed_variable_is_named() -> None:
    environment = {
        **DELIVERY_ENV, "DEAD_LETTER_QUEUE_URL": "https://q", "EMAIL_COOLDOWN_DAYS": "a week",
        "SHOP_URL": "https://shop.example.com", "POSTAL_ADDRESS": "1 Street, Town",
    }  # fmt: skip
    with pytest.raises(ConfigurationError, match="EMAIL_COOLDOWN_DAYS"):
        EmailProcessorConfig.from_env(environment)


CONTENT_ENV = {
    **DELIVERY_ENV, "SHOP_URL": "https://shop.example.com", "POSTAL_ADDRESS": "1 Street, Town",
    "PIPELINE_QUEUES": '[{"name": "q", "url": "https://sqs.example.com/1/q", "kind": "queue"}]',
    "ORDERS_TABLE_NAME": "orders", "PRODUCTS_TABLE_NAME": "products", "SHOP_CURRENCY": "EUR",
    "WEBHOOK_QUEUE_URL": "https://sqs.example.com/1/store-webhooks",
    "EMAIL_REQUESTS_QUEUE_URL": "https://sqs.example.com/1/email-requests", "WEBHOOKS_TABLE_NAME": "webhooks",
    "MODELS_TABLE_NAME": "models",
}  # fmt: skip


def test_the_api_needs_exactly_one_token_source() -> None:
    with pytest.raises(ConfigurationError, match="exactly one of API_TOKEN or API_TOKEN_PARAMETER"):
        ApiConfig.from_env(CONTENT_ENV)
    with pytest.raises(ConfigurationError, match="API_TOKEN: String should have at least 16 characters"):
        ApiConfig.from_env({**CONTENT_ENV, "API_TOKEN": "short"})
    assert ApiConfig.from_env({**CONTENT_ENV, "API_TOKEN_PARAMETER": "/engagement/dev/api-token"}).api_token is None


def test_the_api_needs_its_queues_and_a_redrive_target_it_knows() -> None:
    env = {**CONTENT_ENV, "API_TOKEN": "0123456789abcdef"}
    with pytest.raises(ConfigurationError, match="PIPELINE_QUEUES: Field required"):
        ApiConfig.from_env({k: v for k, v in env.items() if k != "PIPELINE_QUEUES"})
    orphan = '[{"name": "q-dlq", "url": "https://sqs.example.com/1/q-dlq", "kind": "dead-letter", "redrivesTo": "q"}]'
    with pytest.raises(ConfigurationError, match="q-dlq redrives to q, which is not listed"):
        ApiConfig.from_env({**env, "PIPELINE_QUEUES": orphan})
    assert ApiConfig.from_env({**CONTENT_ENV, "AUTH_MODE": "jwt"}).api_token is None  # jwt mode needs no token


def test_sending_needs_an_unsubscribe_secret_and_a_sane_window() -> None:
    without = {k: v for k, v in CONTENT_ENV.items() if k != "UNSUBSCRIBE_SECRET"}
    with pytest.raises(ConfigurationError, match="exactly one of UNSUBSCRIBE_SECRET or UNSUBSCRIBE_SECRET_PARAMETER"):
        ApiConfig.from_env({**without, "API_TOKEN": "0123456789abcdef"})
    backwards = {**CONTENT_ENV, "API_TOKEN": "0123456789abcdef", "SENDING_WINDOW_START": "21:00"}
    with pytest.raises(ConfigurationError, match="SENDING_WINDOW_START must come before SENDING_WINDOW_END"):
        ApiConfig.from_env(backwards)


def test_the_shop_currency_is_an_iso_4217_code() -> None:
    env = {**CONTENT_ENV, "API_TOKEN": "0123456789abcdef"}
    assert ApiConfig.from_env(env).shop_currency == "EUR"
    with pytest.raises(ConfigurationError, match="SHOP_CURRENCY: Value error, XYZ is not an ISO 4217"):
        ApiConfig.from_env({**env, "SHOP_CURRENCY": "XYZ"})
