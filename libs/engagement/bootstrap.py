"""Wiring shared by the handlers that send: the delivery service from its configuration and adapters."""

from __future__ import annotations

from engagement.clock import Clock
from engagement.config import DeliveryConfig
from engagement.consent import UnsubscribeTokens
from engagement.delivery import Delivery, DeliverySettings
from engagement.errors import ConfigurationError
from engagement.mailer import Mailer
from engagement.secrets import SecretSource
from engagement.store import DecisionRepository, EmailRepository, SuppressionRepository, UserRepository


def unsubscribe_tokens(config: DeliveryConfig) -> UnsubscribeTokens:
    secret = SecretSource(
        config.unsubscribe_secret.get_secret_value() if config.unsubscribe_secret else None,
        config.unsubscribe_secret_parameter,
    ).get()
    base_url = SecretSource(config.public_base_url, config.public_base_url_parameter).get()
    if secret is None or base_url is None:
        raise ConfigurationError("the unsubscribe secret and the public base URL must both be set")
    return UnsubscribeTokens(secret.encode(), base_url)


def delivery(
    config: DeliveryConfig,
    *,
    users: UserRepository,
    emails: EmailRepository,
    decisions: DecisionRepository,
    suppressions: SuppressionRepository,
    clock: Clock,
) -> Delivery:
    return Delivery(
        emails=emails,
        users=users,
        suppressions=suppressions,
        decisions=decisions,
        mailer=Mailer(config.ses_configuration_set),
        tokens=lambda: unsubscribe_tokens(config),  # from SSM through a 5-minute cache: rotation needs no redeploy
        settings=DeliverySettings(
            mode=config.delivery_mode, sender=config.sender_email, sender_name=config.brand_name, window=config.window
        ),
        clock=clock,
    )
