"""Wiring shared by the handlers that send: the delivery service from its configuration and adapters."""

from __future__ import annotations

from datetime import datetime, timedelta

from engagement.adapters.mailer import Mailer
from engagement.adapters.secrets import RotatingKey, SecretSource
from engagement.adapters.store import DecisionRepository, EmailRepository, SuppressionRepository, UserRepository
from engagement.clock import Clock
from engagement.config import DeliveryConfig
from engagement.domain.consent import UnsubscribeTokens
from engagement.errors import ConfigurationError
from engagement.services.delivery import Delivery, DeliverySettings


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


def delivery(
    config: DeliveryConfig,
    *,
    users: UserRepository,
    emails: EmailRepository,
    decisions: DecisionRepository,
    suppressions: SuppressionRepository,
    clock: Clock,
) -> Delivery:
    keys = unsubscribe_keys(config)
    return Delivery(
        emails=emails,
        users=users,
        suppressions=suppressions,
        decisions=decisions,
        mailer=Mailer(config.ses_configuration_set),
        tokens=lambda: unsubscribe_tokens(config, keys, clock.now()),  # SSM, 5-minute cache: rotating needs no deploy
        settings=DeliverySettings(
            mode=config.delivery_mode, sender=config.sender_email, sender_name=config.brand_name, window=config.window
        ),
        clock=clock,
    )
