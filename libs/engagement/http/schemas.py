"""What each route answers, as the OpenAPI document declares it (and schemathesis checks every response against).

The views build plain JSON; these models describe it. They name what is always there and its type, and allow more
(a client's item carries whatever attributes the retailer's systems add), so the document stays true without
listing every attribute.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engagement.domain.models import EmailStatus


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    in_: str = Field(alias="in", description="body, query, path or request")
    field: str
    message: str


class ErrorBody(BaseModel):
    message: str
    reason: str | None = Field(default=None, description="A 409's cause in one word, e.g. cooldown or opted_out")
    errors: list[Problem] | None = None


class Health(BaseModel):
    status: str


class ScoreView(Open):
    value: float
    band: str
    source: str


class ClientView(Open):
    """A client as stored, with its score now; an item that breaks the data contract has a problem instead."""

    userId: str
    score: ScoreView | None = None
    problem: str | None = None


class ClientPage(BaseModel):
    items: list[ClientView]
    nextCursor: str | None


class EmailView(Open):
    emailId: str
    userId: str
    subject: str
    status: EmailStatus
    version: int = Field(description="Steps so far: what approve, reject and edit send back")


class EmailPage(BaseModel):
    items: list[EmailView]
    nextCursor: str | None


class ClientDetail(ClientView):
    timeline: list[dict[str, Any]]
    recentDecisions: list[dict[str, Any]]
    recentEmails: list[EmailView]


class Deleted(BaseModel):
    userId: str
    deleted: bool


class OrderView(Open):
    orderId: str
    userId: str
    orderedAt: str
    amount: float
    currency: str
    lineItems: list[dict[str, Any]]
    source: str
    flags: list[str] = Field(description="Accepted, worth a look: line_totals_disagree, unknown_products")


class OrderPage(BaseModel):
    items: list[OrderView]
    nextCursor: str | None


class OrderRecorded(BaseModel):
    order: OrderView | None
    duplicate: bool = Field(description="The order was recorded before (same client and order id): counted once")
    client: ClientView
    attributedTo: str | None


class WinbackQueued(BaseModel):
    userId: str
    emailId: str = Field(description="The draft this request makes: GET /api/emails/{emailId} once it exists")
    requestId: str = Field(description="Send it again with the request to make no second draft")
    correlationId: str = Field(description="What the email processor's log lines for this request carry")
    status: str = Field(description="queued, or the draft's status when it exists already")


class ProductView(Open):
    productId: str
    title: str
    url: str
    category: str
    price: float
    currency: str
    inStock: bool
    updatedAt: str


class ProductPage(BaseModel):
    items: list[ProductView]
    nextCursor: str | None


class ProductStored(ProductView):
    stored: bool = Field(description="False: the catalog holds a newer version (updatedAt), which stays")


class WebhookReceipt(BaseModel):
    status: str = Field(description="queued, duplicate (handled before) or ignored (a topic we do not take)")
    detail: str


class ProductDeleted(BaseModel):
    productId: str
    deleted: bool


class Rate(BaseModel):
    count: int
    converted: int
    rate: float | None


class Conversion(BaseModel):
    emailed: Rate
    heldOut: Rate
    lift: float | None


class Counted(BaseModel):
    total: int
    byBand: dict[str, int] | None = None
    byStatus: dict[str, int] | None = None


class Overview(Open):
    computedAt: str
    ageSeconds: int
    stale: bool
    clients: Counted
    emails: Counted
    decisions: dict[str, dict[str, int]]
    conversion: Conversion


class QueueHealth(Open):
    name: str
    kind: str
    visible: int
    inFlight: int
    delayed: int


class PipelineHealth(BaseModel):
    checkedAt: str
    queues: list[QueueHealth]


class Redriven(BaseModel):
    moved: int
    remaining: int


ERRORS = {
    400: "The cursor is not one this API gave",
    401: "No token, or not the right one",
    403: "The token's scopes do not reach this route (JWT mode)",
    404: "No such thing",
    405: "The path does not take this method (Allow names those it takes)",
    409: "It changed meanwhile (or exists already): read it again",
    413: "The body is too large",
    414: "The path is too long",
    415: "The body is not declared as JSON",
    422: "The request is invalid: each problem named",
    503: "Storage is busy: retry shortly (Retry-After)",
}
JSON = "application/json"


def answers(model: type[BaseModel], description: str = "OK", status: int = 200) -> dict[int, Any]:
    """The route's responses for the OpenAPI document: its own, and the errors in the API's one error body."""
    documented: dict[int, Any] = {status: {"description": description, "content": {JSON: {"model": model}}}}
    for code, meaning in ERRORS.items():
        documented[code] = {"description": meaning, "content": {JSON: {"model": ErrorBody}}}
    return documented
