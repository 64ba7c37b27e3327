"""The writer protocol and the structured email every writer returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engagement.domain.models import Client, EmailBody, ProductPick, Score

# The longest each field may be, from a writer or a reviewer's edit: checked before any guardrail reads the text.
SUBJECT_MAX, PREHEADER_MAX, LINE_MAX, LABEL_MAX, PARAGRAPH_MAX, PARAGRAPHS_MAX = 120, 160, 120, 40, 1000, 5
Paragraph = Annotated[str, Field(max_length=PARAGRAPH_MAX)]


class CallToAction(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    label: str = Field(min_length=1, max_length=LABEL_MAX)
    url: str = Field(min_length=1, max_length=500)


class EmailContent(BaseModel):
    """The fields of a win-back email: plain text only, rendered and escaped by our own template."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    preheader: str = Field(max_length=PREHEADER_MAX)
    greeting: str = Field(min_length=1, max_length=LINE_MAX)
    paragraphs: tuple[Paragraph, ...] = Field(min_length=1, max_length=PARAGRAPHS_MAX)
    call_to_action: CallToAction
    sign_off: str = Field(min_length=1, max_length=LINE_MAX)

    @property
    def body(self) -> EmailBody:
        return EmailBody(
            greeting=self.greeting,
            paragraphs=self.paragraphs,
            call_to_action_label=self.call_to_action.label,
            call_to_action_url=self.call_to_action.url,
            sign_off=self.sign_off,
        )

    @classmethod
    def of(cls, subject: str, preheader: str, body: EmailBody) -> EmailContent:
        return cls(
            subject=subject,
            preheader=preheader,
            greeting=body.greeting,
            paragraphs=body.paragraphs,
            call_to_action=CallToAction(label=body.call_to_action_label, url=body.call_to_action_url),
            sign_off=body.sign_off,
        )


class OtherProduct(BaseModel):
    """A catalog product the email must not name or link: in the client's categories, but not a candidate."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    title: str
    url: str


class WriteRequest(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    client: Client
    score: Score
    now: datetime
    # The products the email may show, best first (engagement.domain.recommendations); the writer picks among them.
    candidates: tuple[ProductPick, ...] = ()
    others: tuple[OtherProduct, ...] = ()
    # Seconds (time.monotonic) by which the writer must have answered, within the Lambda's remaining time.
    deadline: float | None = None
    # The message's last receive: rather than leave it for a redelivery that will not come, fall back.
    last_attempt: bool = False


class ModelPrice(BaseModel):
    """What a model costs, in USD per million tokens."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


class Usage(BaseModel):
    """What producing the email cost."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    calls: int = 0
    estimated_cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            latency_ms=self.latency_ms + other.latency_ms,
            calls=self.calls + other.calls,
            estimated_cost_usd=self.estimated_cost_usd + other.estimated_cost_usd,
        )


class WrittenEmail(BaseModel):
    """What a writer produced and how: the provenance is stored on the email."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    content: EmailContent
    writer: str
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: str | None = None
    usage: Usage = Usage()
    guardrail_violations: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()  # the picks, among the request's candidates, in the order they are shown


class EmailWriter(Protocol):
    name: str

    def write(self, request: WriteRequest) -> WrittenEmail: ...
