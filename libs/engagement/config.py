"""One settings model per function, read from the environment once at cold start.

A missing or malformed variable fails the cold start with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engagement.errors import ConfigurationError
from engagement.policy import EligibilityRules
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


class EmailProcessorConfig(FunctionConfig):
    users_table: str = Field(alias="USERS_TABLE_NAME", min_length=3)
    emails_table: str = Field(alias="EMAILS_TABLE_NAME", min_length=3)
    decisions_table: str = Field(alias="DECISIONS_TABLE_NAME", min_length=3)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https?://")
    cooldown_days: float = Field(default=7, alias="EMAIL_COOLDOWN_DAYS", ge=0, le=365)
    brand_name: str = Field(alias="BRAND_NAME", min_length=1)
    shop_url: str = Field(alias="SHOP_URL", pattern=r"^https://")
    postal_address: str = Field(alias="POSTAL_ADDRESS", min_length=5, description="Required in commercial email")

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
