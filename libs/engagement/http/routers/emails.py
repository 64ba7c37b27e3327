"""/api/emails and /api/outbox: drafts, their review (edit, approve, reject) and what was sent."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from engagement.domain.models import OPERATOR_PATTERN, EmailStatus
from engagement.errors import NotFound
from engagement.http.auth import who_acts
from engagement.http.context import ApiServices
from engagement.http.routers.params import Cursor, PageSize
from engagement.http.schemas import EmailPage, EmailView, answers
from engagement.http.views import email_view, page_view
from engagement.services.review import EmailEdit, PicksEdit

StatusFilter = Annotated[EmailStatus | None, Query(description="Only emails in this status")]


class Review(BaseModel):
    reviewer: str = Field(default="operator", min_length=1, max_length=100, pattern=OPERATOR_PATTERN)
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None, ge=0, le=1_000_000, description="The email's version you reviewed; 409 if it changed"
    )


def router(api: ApiServices) -> Router:
    routes = Router()

    def operator(named: str) -> str:
        return who_acts(api.auth_mode, routes.current_event.raw_event, named)

    @routes.get("/api/emails", responses=answers(EmailPage))
    def list_emails(status: StatusFilter = None, limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
        if status is None:
            return page_view(api.emails.newest(limit=limit, cursor=cursor), email_view)
        return page_view(api.emails.with_status(status, limit=limit, cursor=cursor), email_view)

    @routes.get("/api/emails/<email_id>", responses=answers(EmailView))
    def get_email(email_id: str) -> dict[str, Any]:
        email = api.emails.get(email_id)
        if email is None:
            raise NotFound(f"no email {email_id!r}")
        return email_view(email)

    @routes.patch("/api/emails/<email_id>", responses=answers(EmailView))
    def edit_email(email_id: str, edit: Annotated[EmailEdit, Body()]) -> dict[str, Any]:
        """Edit a draft before approval: re-rendered, and the guardrails checked again (422 with each violation)."""
        return email_view(api.editor.edit(email_id, edit.model_copy(update={"editor": operator(edit.editor)})))

    @routes.put("/api/emails/<email_id>/picks", responses=answers(EmailView))
    def swap_picks(email_id: str, edit: Annotated[PicksEdit, Body()]) -> dict[str, Any]:
        """Show other products in a draft: ids from its candidates, in stock now; the text is checked again against
        the new picks (422 with each violation) and the email re-rendered."""
        return email_view(api.editor.swap_picks(email_id, edit.model_copy(update={"editor": operator(edit.editor)})))

    @routes.post("/api/emails/<email_id>/approve", responses=answers(EmailView))
    def approve_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
        """Approve a draft: sent now, or scheduled for the client's sending window, or cancelled if it may not go."""
        review = review or Review()
        by = f"operator:{operator(review.reviewer)}"
        return email_view(api.delivery.approve(email_id, by=by, version=review.version))

    @routes.post("/api/emails/<email_id>/reject", responses=answers(EmailView))
    def reject_email(email_id: str, review: Annotated[Review | None, Body()] = None) -> dict[str, Any]:
        review = review or Review()
        by = f"operator:{operator(review.reviewer)}"
        return email_view(api.delivery.reject(email_id, by=by, reason=review.reason, version=review.version))

    @routes.get("/api/outbox", responses=answers(EmailPage))
    def outbox(limit: PageSize = 25, cursor: Cursor = None) -> dict[str, Any]:
        """Sent emails, newest first, with the headers they went out with."""
        return page_view(api.emails.with_status(EmailStatus.SENT, limit=limit, cursor=cursor), email_view)

    return routes
