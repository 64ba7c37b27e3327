from __future__ import annotations

import pytest

from engagement.config import ApiConfig, EmailProcessorConfig, StreamProcessorConfig
from engagement.errors import ConfigurationError

STREAM_ENV = {
    "USERS_TABLE_NAME": "users",
    "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:events",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
}


def test_a_complete_environment_is_read_once() -> None:
    config = StreamProcessorConfig.from_env(STREAM_ENV)
    assert config.users_table == "users"


def test_a_missing_variable_is_named() -> None:
    environment = {k: v for k, v in STREAM_ENV.items() if k != "EVENTS_TOPIC_ARN"}
    with pytest.raises(ConfigurationError, match="EVENTS_TOPIC_ARN: Field required"):
        StreamProcessorConfig.from_env(environment)


def test_a_malformed_variable_is_named() -> None:
    environment = {
        "USERS_TABLE_NAME": "users", "EMAILS_TABLE_NAME": "emails", "DECISIONS_TABLE_NAME": "decisions",
        "DEAD_LETTER_QUEUE_URL": "https://q", "EMAIL_COOLDOWN_DAYS": "a week", "BRAND_NAME": "B",
        "SHOP_URL": "https://shop.example.com", "POSTAL_ADDRESS": "1 Street, Town",
    }  # fmt: skip
    with pytest.raises(ConfigurationError, match="EMAIL_COOLDOWN_DAYS"):
        EmailProcessorConfig.from_env(environment)


def test_the_api_needs_exactly_one_token_source() -> None:
    tables = {"USERS_TABLE_NAME": "users", "EMAILS_TABLE_NAME": "emails", "DECISIONS_TABLE_NAME": "decisions"}
    with pytest.raises(ConfigurationError, match="exactly one of API_TOKEN"):
        ApiConfig.from_env(tables)
    with pytest.raises(ConfigurationError, match="API_TOKEN: String should have at least 16 characters"):
        ApiConfig.from_env({**tables, "API_TOKEN": "short"})
    assert ApiConfig.from_env({**tables, "API_TOKEN_PARAMETER": "/engagement/dev/api-token"}).api_token is None
