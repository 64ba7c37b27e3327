"""The business's nouns: clients, scores, events, decisions and emails.

Attribute names on the wire (DynamoDB items, event envelopes, API responses) are the original system's
camelCase; Python code uses snake_case. Every model serialises with `by_alias=True`.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from engagement.clock import as_utc, format_instant

# Line breaks, tabs, NUL, zero-width and direction marks: never in an identifier (a newline in a client id once made
# two different (client, email) pairs sign the same unsubscribe text) nor in an address.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(character) in _CONTROL_CATEGORIES for character in value)


def _no_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters (line breaks, tabs, zero-width or direction marks)")
    return value


MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit for a path: longer is no address a mail server delivers to
# Display names, lists, comments, quoting and routes: a bare local@domain has none of these.
_NOT_IN_A_BARE_ADDRESS = frozenset(' "<>(),;:[]\\')


def normalise_address(value: str) -> str:
    """A bare address (local@domain), lower-cased as the suppression list keys it, so the address we send to, the
    list and SES's bounce notices all name the same string. Parsed without patterns: linear in the length, and the
    length is checked first."""
    address = value.strip()
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"an email address has at most {MAX_ADDRESS_LENGTH} characters ({len(address)} given)")
    if has_control_characters(address) or any(character in _NOT_IN_A_BARE_ADDRESS for character in address):
        raise ValueError("a bare address only (local@domain): no display name, list, comment, quotes or spaces")
    local, _, domain = address.rpartition("@")
    if not local or "@" in local:
        raise ValueError("not an email address: it needs exactly one @ with something before it")
    labels = domain.split(".")
    if len(labels) < 2 or any(not label or label[0] == "-" or label[-1] == "-" for label in labels):
        raise ValueError("not an email address: the domain after @ needs dot-separated names (example.com)")
    return address.lower()


EmailAddress = Annotated[str, AfterValidator(normalise_address)]
MAX_CATEGORIES, MAX_CATEGORY_LENGTH = 50, 100


def _categories(value: Any) -> Any:
    # DynamoDB may hold the categories as a list (L) or a string set (SS); order a set for stable output.
    if isinstance(value, set | frozenset):
        return sorted(value)
    return value


UserId = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_no_control_characters)]
# Stored and shown in one fixed-width format, so timestamps sort as strings (sort keys, conditions).
Instant = Annotated[
    datetime, AfterValidator(as_utc), PlainSerializer(format_instant, return_type=str, when_used="json")
]


def _fits_a_key(value: str) -> str:
    if len(value.encode()) > 512:  # it becomes part of a decision's sort key (DynamoDB: at most 1024 bytes)
        raise ValueError("at most 512 bytes")
    return value


EventId = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_fits_a_key)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)


class Band(StrEnum):
    CRITICAL = "critical"
    AT_RISK = "at_risk"
    MODERATE = "moderate"
    GOOD = "good"

    @property
    def is_at_risk(self) -> bool:
        """Below 50: the bands a win-back email is for."""
        return self in (Band.CRITICAL, Band.AT_RISK)


class ScoreSource(StrEnum):
    PROVIDED = "provided"  # the item's engagementScore, set upstream or by an operator
    MODEL = "model"  # the churn model fitted on the shop's order histories (engagement.domain.churn_model)
    COMPUTED = "computed"  # the built-in rule score


class Client(CamelModel):
    """One item of the users table, as the original system wrote it, plus what later features add."""

    model_config = ConfigDict(extra="ignore")

    user_id: UserId
    email: EmailAddress
    name: str = Field(default="", max_length=256)
    last_order_date: Instant | None = None
    order_count: int = Field(default=0, ge=0)
    average_order_value: float = Field(default=0.0, ge=0)
    # Derived from the orders table when orders are recorded there (engagement.domain.orders); absent otherwise.
    first_order_date: Instant | None = None
    total_spent: float | None = Field(default=None, ge=0)
    preferred_categories: Annotated[
        tuple[Annotated[str, Field(max_length=MAX_CATEGORY_LENGTH)], ...],
        BeforeValidator(_categories),
        Field(max_length=MAX_CATEGORIES),
    ] = ()
    created_at: Instant | None = None
    updated_at: Instant | None = None
    engagement_score: float | None = Field(default=None, ge=0, le=100)
    opted_out: bool = False
    suppressed: bool = False
    timezone: str | None = None
    # Maintained by the system; never facts, so writing them produces no event.
    last_email_date: Instant | None = None
    last_email_id: str | None = None
    computed_score: float | None = None
    band: Band | None = None
    scored_at: Instant | None = None
    # The rescoring sweep's: which lapse (the lastOrderDate it began with) its win-back attempts count against, how
    # many it made, and the day it last published this client.
    winback_lapse: str | None = None
    winback_attempts: int = Field(default=0, ge=0)
    rescored_on: str | None = None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class ScoreFactor(CamelModel):
    """One part of the built-in model's score, with the fact behind it in words."""

    factor: Literal["recency", "frequency", "value"]
    points: float
    max_points: float
    explanation: str


class Rhythm(CamelModel):
    """A client judged by the churn model against their own buying rhythm."""

    p_alive: float = Field(ge=0, le=1, description="How likely the client is still a client")
    expected_orders: float = Field(ge=0, description="Orders expected in the next horizon_days")
    horizon_days: int
    usual_gap_days: float | None = Field(default=None, description="The mean time between their orders; none after one")
    days_since_last_order: float
    gaps_late: float | None = Field(default=None, description="Days since the last order, in usual gaps")
    overdue: bool = Field(description="Silent for at least twice their usual gap")
    next_order_date: Instant = Field(description="If still a client: the median date of their next order")
    explanation: str
    model_version: str


class Score(CamelModel):
    value: float = Field(ge=0, le=100, description="The effective score: provided if set, else computed")
    band: Band
    source: ScoreSource
    computed_value: int = Field(
        ge=0, le=100, description="The system's own score, even when overridden: the churn model's, else the rule's"
    )
    breakdown: tuple[ScoreFactor, ...] = Field(description="The rule score's parts, whichever score is in use")
    rhythm: Rhythm | None = Field(default=None, description="The churn model's view, when it judged the client")
    note: str | None = Field(default=None, description="Why the churn model did not judge the client")


class EventType(StrEnum):
    CLIENT_CREATED = "client.created"
    CLIENT_UPDATED = "client.updated"
    CLIENT_DELETED = "client.deleted"
    CLIENT_RESCORED = "client.rescored"
    WINBACK_REQUESTED = "client.winback_requested"  # an operator asked for a draft now (POST /api/users/{id}/winback)


ENVELOPE_VERSION: Literal[1] = 1


class Signal(StrEnum):
    ORDER_PLACED = "order_placed"  # orderCount rose: a conversion, if an email (or the holdout) preceded it
    OPTED_OUT = "opted_out"  # the client withdrew consent: pending drafts are cancelled
    DELETED = "deleted"  # the client is gone: pending drafts are cancelled


class Override(StrEnum):
    """A rule an operator's request may set aside, by saying so; consent and deliverability never."""

    COOLDOWN = "cooldown"
    FREQUENCY_CAP = "frequency_cap"
    HOLDOUT = "holdout"  # the client is in the control group


REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
OPERATOR_PATTERN = r"^[\w .@-]+$"


class OperatorRequest(CamelModel):
    """Who asked for a win-back draft now, why, and which rules they set aside."""

    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    requested_by: str = Field(min_length=1, max_length=100, pattern=OPERATOR_PATTERN)
    reason: str | None = Field(default=None, max_length=500)
    overrides: tuple[Override, ...] = ()


class EngagementEvent(CamelModel):
    """The versioned envelope published to SNS; subscriptions filter on its eventType and band. An operator's request
    (client.winback_requested) goes to the email processor's queue directly, carrying the request."""

    version: Literal[1] = ENVELOPE_VERSION
    id: EventId
    type: EventType
    occurred_at: Instant
    client: Client
    score: Score
    changed: tuple[str, ...] = Field(default=(), description="Fact attributes this change touched")
    signals: tuple[Signal, ...] = Field(default=(), description="What the change means for delivery and conversion")
    request: OperatorRequest | None = Field(default=None, description="client.winback_requested: the request")

    @model_validator(mode="after")
    def _request_with_its_type(self) -> Self:
        if (self.type is EventType.WINBACK_REQUESTED) != (self.request is not None):
            raise ValueError("an operator's request, and only it, is a client.winback_requested event")
        return self


class DecisionReason(StrEnum):
    ELIGIBLE = "eligible"
    OPERATOR_REQUEST = "operator_request"  # drafted because an operator asked (who and why are on the decision)
    QUIET_HOURS = "quiet_hours"  # sent later: at the start of the client's local sending window
    NOT_AT_RISK = "not_at_risk"
    COOLDOWN = "cooldown"
    OPTED_OUT = "opted_out"
    SUPPRESSED = "suppressed"
    FREQUENCY_CAP = "frequency_cap"
    HELD_OUT = "held_out"  # the control group: never emailed, so the team can measure lift
    CLIENT_MISSING = "client_missing"


class EmailHistory(CamelModel):
    """What the policy needs to know of the client's past emails."""

    last_email_date: Instant | None = None  # the email slot: when the last email was claimed...
    last_email_id: str | None = None  # ...and for which email
    recent_emails: int = 0  # win-back emails in the frequency window (not rejected, cancelled or failed)
    address_opted_out: bool = False  # the address unsubscribed (kept apart from the item, which upstream may replace)
    address_suppressed: bool = False  # the address bounced hard or complained


class Decision(CamelModel):
    send: bool
    reason: DecisionReason


class DecisionRecord(CamelModel):
    """A decision as stored in the decisions table: one per client and triggering event."""

    user_id: str
    decision_key: str
    decided_at: Instant
    send: bool
    reason: DecisionReason
    event_id: str
    event_type: EventType
    score: float | None = None
    band: Band | None = None
    score_source: ScoreSource | None = None  # provided, model (the churn model) or computed (the rule score)
    email_id: str | None = None
    converted_at: Instant | None = None  # a held_out decision followed by an order within the window
    request: OperatorRequest | None = None  # an operator's request: who asked, why, what they overrode


class EmailStatus(StrEnum):
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class StatusChange(CamelModel):
    """One step of an email's lifecycle: who or what moved it, when, and why."""

    from_status: EmailStatus | None
    to_status: EmailStatus
    at: Instant
    by: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500)


class EmailBody(CamelModel):
    """The text an email was rendered from (besides its subject and preheader), kept so a reviewer can edit it."""

    greeting: str
    paragraphs: tuple[str, ...]
    call_to_action_label: str
    call_to_action_url: str
    sign_off: str


class ProductPick(CamelModel):
    """A product an email shows or could show, as the catalog had it when chosen, with its rank among the client's
    candidates and why it was chosen (engagement.domain.picks)."""

    product_id: str
    title: str
    url: str
    image_url: str | None = None
    category: str
    price: Decimal
    currency: str
    rank: int = Field(ge=1)
    reason: str


class EmailChanges(CamelModel):
    """What a status change also writes on the email (only the fields given): the new content of an edit, when a
    scheduled email is due, what SES said."""

    subject: str | None = None
    preheader: str | None = None
    content: str | None = None
    text_content: str | None = None
    body: EmailBody | None = None
    picks: tuple[ProductPick, ...] | None = None
    guardrail_violations: tuple[str, ...] | None = None
    send_at: Instant | None = None
    sent_at: Instant | None = None
    provider_message_id: str | None = None
    recipient: str | None = None
    sent_headers: dict[str, str] | None = None
    failure_reason: str | None = None
    delivery_uncertain: bool | None = None

    def attributes(self) -> dict[str, Any]:
        """The stored attributes these changes set, by their names in the table."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class EmailSummary(CamelModel):
    """What the emails table's indexes hold of an email: enough to count, cap, attribute and find what is due. The
    rest (content, history) is read from the table, so a status change rewrites a small index entry, not the email."""

    email_id: str
    user_id: str
    status: EmailStatus
    created_at: Instant
    status_changed_at: Instant | None = None
    send_at: Instant | None = None
    sent_at: Instant | None = None
    converted_at: Instant | None = None
    delivery_uncertain: bool = False


class Email(CamelModel):
    """A win-back email in the emails table (the original fields first)."""

    email_id: str
    user_id: str
    subject: str
    content: str = Field(description="The HTML part")
    generated_at: Instant
    engagement_score_at_time: float
    status: EmailStatus
    created_at: Instant
    recipient: str
    text_content: str
    preheader: str
    band_at_time: Band
    writer: str
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_latency_ms: int = 0
    estimated_cost_usd: float = 0.0
    guardrail_violations: tuple[str, ...] = ()
    trigger_event_id: str
    body: EmailBody | None = None  # absent on drafts stored before editing existed
    picks: tuple[ProductPick, ...] = ()  # the products its cards show, best first
    candidates: tuple[ProductPick, ...] = ()  # what it may show: the picks come from these, and swaps too
    request: OperatorRequest | None = None  # drafted at an operator's request: who asked, why, what they overrode
    # Delivery
    status_changed_at: Instant | None = None
    transitions: tuple[StatusChange, ...] = ()
    send_at: Instant | None = None  # SCHEDULED: when the client's local sending window opens
    sent_at: Instant | None = None
    provider_message_id: str | None = None
    failure_reason: str | None = None
    delivery_uncertain: bool = False  # FAILED, but SES may have sent it (its answer was lost): counted as sent
    sent_headers: dict[str, str] = Field(default_factory=dict)
    converted_at: Instant | None = None  # an order within the window after sending
