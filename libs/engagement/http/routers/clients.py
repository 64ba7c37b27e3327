"""/api/users: clients, their orders and their emails."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from engagement.domain.models import Band
from engagement.domain.orders import OrderInput, OrderSource
from engagement.errors import InvalidRequest, NotFound
from engagement.http.auth import who_acts
from engagement.http.context import ApiServices
from engagement.http.routers.params import Cursor, PageSize
from engagement.http.schemas import (
    ClientDetail,
    ClientPage,
    ClientView,
    Deleted,
    EmailPage,
    OrderPage,
    OrderRecorded,
    WinbackQueued,
    answers,
)
from engagement.http.views import client_detail, client_summary, email_view, matches_filter, order_view, page_view
from engagement.services.clients import ClientChanges, NewClient
from engagement.services.orders import Outcome
from engagement.services.winback_requests import WinbackAsk

BandFilter = Annotated[Band | None, Query(description="Only clients in this band (scored now)")]
Search = Annotated[str | None, Query(max_length=100, pattern=r"\S", description="Name or email prefix")]


def router(api: ApiServices) -> Router:
    routes = Router()

    @routes.get("/api/users", responses=answers(ClientPage))
    def list_users(
        limit: PageSize = 25, cursor: Cursor = None, band: BandFilter = None, q: Search = None
    ) -> dict[str, Any]:
        """Clients in table order. Filtered pages may hold fewer than limit items while nextCursor goes on."""
        now, model = api.clock.now(), api.churn_models.latest()

        def matches(item: dict[str, Any]) -> bool:
            return matches_filter(client_summary(item, now, model), band, q)

        page = api.users.page(limit=limit, cursor=cursor, matches=matches if band or q else None)
        return page_view(page, lambda item: client_summary(item, now, model))

    @routes.post("/api/users", responses=answers(ClientView, "Created", 201))
    def create_user(new: Annotated[NewClient, Body()]) -> Response[str]:
        item = api.clients.create(new)
        return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                        body=json.dumps(client_summary(item, api.clock.now(), api.churn_models.latest())))  # fmt: skip

    @routes.get("/api/users/<user_id>", responses=answers(ClientDetail))
    def get_user(user_id: str) -> dict[str, Any]:
        item = api.users.get_item(user_id, consistent=False)
        if item is None:
            raise NotFound(f"no client {user_id!r}")
        return client_detail(
            item,
            now=api.clock.now(),
            model=api.churn_models.latest(),
            recent_decisions=api.decisions.for_user(user_id, limit=20).items,
            recent_emails=api.emails.for_user(user_id, limit=10).items,
        )

    @routes.patch("/api/users/<user_id>", responses=answers(ClientView))
    def change_user(user_id: str, changes: Annotated[ClientChanges, Body()]) -> dict[str, Any]:
        return client_summary(api.clients.change(user_id, changes), api.clock.now(), api.churn_models.latest())

    @routes.delete("/api/users/<user_id>", responses=answers(Deleted))
    def delete_user(user_id: str) -> dict[str, Any]:
        api.clients.delete(user_id)
        return {"userId": user_id, "deleted": True}

    @routes.post("/api/users/<user_id>/orders", responses=answers(OrderRecorded, "Recorded", 201))
    def record_order(user_id: str, order: Annotated[OrderInput, Body()]) -> Response[str]:
        """Record an order and update the client's aggregates from it; the same orderId again counts once (200,
        duplicate). Line items that do not add up to the amount, or name products the catalog does not have, are
        accepted and flagged."""
        recorded = api.orders.record(user_id, [order], OrderSource.API)
        result = recorded.results[0]
        if result.outcome is Outcome.REFUSED:
            raise InvalidRequest((result.field or "body", result.reason or "refused"))
        stored = result.order or (api.orders.get(user_id, result.order_id) if result.order_id else None)
        attributed_to = None
        if result.outcome is Outcome.RECORDED and stored is not None:
            attributed_to = api.conversions.order_placed(user_id, stored.ordered_at)
        body = {
            "order": order_view(stored) if stored else None,
            "duplicate": result.outcome is Outcome.DUPLICATE,
            "client": client_summary(
                recorded.client or {"userId": user_id}, api.clock.now(), api.churn_models.latest()
            ),
            "attributedTo": attributed_to,
        }
        status = 201 if result.outcome is Outcome.RECORDED else 200
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))

    @routes.get("/api/users/<user_id>/orders", responses=answers(OrderPage))
    def list_orders(user_id: str, limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
        """The client's orders, newest first."""
        if api.users.get_item(user_id, consistent=False) is None:
            raise NotFound(f"no client {user_id!r}")
        return page_view(api.orders.history(user_id, limit=limit, cursor=cursor), order_view)

    @routes.post("/api/users/<user_id>/winback", responses=answers(WinbackQueued, "Queued", 202))
    def request_winback(user_id: str, ask: Annotated[WinbackAsk | None, Body()] = None) -> Response[str]:
        """Draft a win-back email for this client now, by the pipeline's own path (writer, guardrails, review or
        auto delivery), recorded as operator_request with who asked and why. 409 with the reason when consent or
        deliverability forbid it, or when the cooldown, frequency cap or holdout stand in the way and `override` does
        not name them. The same requestId again makes no second draft (200 with the draft once it exists)."""
        ask = ask or WinbackAsk()
        by = who_acts(api.auth_mode, routes.current_event.raw_event, ask.requested_by)
        answer = api.winback_requests.request(user_id, ask, by=by)
        body: dict[str, Any] = {"userId": user_id, "emailId": answer.email_id, "requestId": answer.request_id,
                                "correlationId": answer.correlation_id,
                                "status": answer.email.status.value if answer.email else "queued"}  # fmt: skip
        status = 202 if answer.email is None else 200
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))

    @routes.get("/api/users/<user_id>/emails", responses=answers(EmailPage))
    def list_user_emails(user_id: str, limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
        return page_view(api.emails.for_user(user_id, limit=limit, cursor=cursor), email_view)

    return routes
