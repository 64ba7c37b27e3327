"""The writer protocol and the structured email every writer returns."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from engagement.models import Client, Score


class CallToAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str = Field(min_length=1, max_length=40)
    url: str = Field(min_length=1, max_length=500)


class EmailContent(BaseModel):
    """The fields of a win-back email: plain text only, rendered and escaped by our own template."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, max_length=120)
    preheader: str = Field(max_length=160)
    greeting: str = Field(min_length=1, max_length=120)
    paragraphs: tuple[str, ...] = Field(min_length=1, max_length=5)
    call_to_action: CallToAction
    sign_off: str = Field(min_length=1, max_length=120)


class WriteRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    client: Client
    score: Score
    now: datetime


class WrittenEmail(BaseModel):
    """What a writer produced and how: the provenance is stored on the email."""

    model_config = ConfigDict(frozen=True)

    content: EmailContent
    writer: str
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: str | None = None


class EmailWriter(Protocol):
    name: str

    def write(self, request: WriteRequest) -> WrittenEmail: ...
