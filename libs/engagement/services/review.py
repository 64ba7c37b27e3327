"""A reviewer's edit of a draft before approval: the same structured fields the writer fills, re-rendered by our
template and checked by the same guardrails against the client's current facts. An edit that breaks a rule is
refused with each violation; a draft that is no longer pending cannot be edited.

A reviewer may also swap the products the email shows for others of its candidates (in stock now, at the catalog's
current price); the text is checked again against the new picks (a paragraph that names a product no longer shown
must be edited first)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.products import ProductRepository
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock
from engagement.domain.lifecycle import InvalidTransition, change
from engagement.domain.models import OPERATOR_PATTERN, CamelModel, Email, EmailChanges, EmailStatus, ProductPick
from engagement.domain.picks import MAX_PICKS, PicksRefused, as_now, chosen, summary
from engagement.domain.scoring import score_client
from engagement.errors import Conflict, InvalidRecord, InvalidRequest, NotFound, validation_problems
from engagement.writer.base import (
    LABEL_MAX,
    LINE_MAX,
    PARAGRAPHS_MAX,
    PREHEADER_MAX,
    SUBJECT_MAX,
    EmailContent,
    Paragraph,
    WriteRequest,
)
from engagement.writer.guardrails import GuardrailPolicy, check
from engagement.writer.render import Brand, render_email

S = EmailStatus
BODY_FIELDS = {"greeting", "paragraphs", "call_to_action_label", "sign_off"}


class EmailEdit(CamelModel):
    """The fields to change; the others stay as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = Field(default=None, max_length=SUBJECT_MAX)
    preheader: str | None = Field(default=None, max_length=PREHEADER_MAX)
    greeting: str | None = Field(default=None, max_length=LINE_MAX)
    paragraphs: list[Paragraph] | None = Field(default=None, max_length=PARAGRAPHS_MAX)
    call_to_action_label: str | None = Field(default=None, max_length=LABEL_MAX)
    sign_off: str | None = Field(default=None, max_length=LINE_MAX)
    editor: str = Field(default="operator", min_length=1, max_length=100, pattern=OPERATOR_PATTERN)
    version: int | None = Field(
        default=None, ge=0, le=1_000_000, description="The email's version you edited; 409 if it changed"
    )


class PicksEdit(CamelModel):
    """The products the email should show, in order: ids from its candidates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(max_length=MAX_PICKS)
    editor: str = Field(default="operator", min_length=1, max_length=100, pattern=OPERATOR_PATTERN)
    version: int | None = Field(
        default=None, ge=0, le=1_000_000, description="The email's version you edited; 409 if it changed"
    )


class Editor:
    def __init__(
        self,
        *,
        emails: EmailRepository,
        users: UserRepository,
        brand: Brand,
        policy: GuardrailPolicy,
        clock: Clock,
        models: ChurnModelRepository,
        products: ProductRepository,
    ) -> None:
        self.products = products
        self.emails = emails
        self.models = models
        self.users = users
        self.brand = brand
        self.policy = policy
        self.clock = clock

    def edit(self, email_id: str, edit: EmailEdit) -> Email:
        email = self._pending(email_id)
        changed = sorted(
            name for name in edit.model_fields_set - {"editor", "version"} if getattr(edit, name) is not None
        )
        if not changed:
            raise InvalidRequest(("body", "nothing to change"))
        content = self._content(email, edit)
        return self._store(
            email,
            content,
            email.picks,
            by=edit.editor,
            what=f"edited: {', '.join(map(to_camel, changed))}",
            version=edit.version,
        )

    def swap_picks(self, email_id: str, edit: PicksEdit) -> Email:
        """Show these of the email's candidates instead (in stock now, at today's price), the text checked again."""
        email = self._pending(email_id)
        try:
            wanted = chosen(edit.product_ids, email.candidates)
        except PicksRefused as refused:
            raise InvalidRequest(("productIds", str(refused))) from refused
        current = self.products.get_many(pick.product_id for pick in wanted)
        if gone := [pick.product_id for pick in wanted if not (p := current.get(pick.product_id)) or not p.in_stock]:
            raise InvalidRequest(("productIds", f"out of stock or no longer in the catalog: {', '.join(gone)}"))
        picks = tuple(as_now(pick, current[pick.product_id]) for pick in wanted)
        assert email.body is not None
        content = EmailContent.of(email.subject, email.preheader, email.body)
        what = f"picks: {summary(picks)} (were {summary(email.picks)})"
        return self._store(email, content, picks, by=edit.editor, what=what, version=edit.version)

    def _pending(self, email_id: str) -> Email:
        email = self.emails.get(email_id)
        if email is None:
            raise NotFound(f"no email {email_id!r}")
        if email.status is not S.PENDING_REVIEW:
            raise InvalidTransition(email_id, email.status, S.PENDING_REVIEW)
        if email.body is None:
            raise Conflict(f"email {email_id} was drafted before edits were kept; reject it and let a new one come")
        return email

    def _store(
        self, email: Email, content: EmailContent, picks: tuple[ProductPick, ...], *, by: str, what: str,
        version: int | None,
    ) -> Email:  # fmt: skip
        """The draft with this content and these picks, checked by the guardrails, re-rendered and stored."""
        now = self.clock.now()
        try:
            client = self.users.get(email.user_id)
        except InvalidRecord as invalid:
            raise Conflict(f"the client's item breaks the data contract ({invalid})") from invalid
        if client is None:
            raise Conflict(f"client {email.user_id} no longer exists")
        request = WriteRequest(client=client, score=score_client(client, now, self.models.latest()), now=now,
                               candidates=email.candidates)  # fmt: skip
        if violations := check(content, request, self.policy, tuple(pick.product_id for pick in picks)):
            raise InvalidRequest(*((violation.rule, str(violation)) for violation in violations))
        rendered = render_email(content, self.brand, picks, email.email_id)
        step = change(S.PENDING_REVIEW, S.PENDING_REVIEW, at=now, by=f"operator:{by}", reason=what[:500],
                      email_id=email.email_id)  # fmt: skip
        changes = EmailChanges(subject=rendered.subject, preheader=rendered.preheader, content=rendered.html,
                               text_content=rendered.text, body=content.body, picks=picks,
                               guardrail_violations=())  # fmt: skip
        return self.emails.transition(email.email_id, step, changes, expected_version=version)

    def _content(self, email: Email, edit: EmailEdit) -> EmailContent:
        """The draft's content with the edit applied, validated like a writer's."""
        assert email.body is not None
        updates = edit.model_dump(include=BODY_FIELDS, exclude_unset=True, exclude_none=True)
        if "paragraphs" in updates:
            updates["paragraphs"] = tuple(p.strip() for p in updates["paragraphs"] if p.strip())
        body = email.body.model_copy(update=updates)
        try:
            return EmailContent.of(
                edit.subject if edit.subject is not None else email.subject,
                edit.preheader if edit.preheader is not None else email.preheader,
                body,
            )
        except ValidationError as invalid:
            raise InvalidRequest(*validation_problems(invalid, name=_edited_field)) from invalid


def _edited_field(location: tuple[int | str, ...]) -> str:
    """The request's name for the field an EmailContent error is about (the call to action's label is nested)."""
    first = str(location[0]) if location else "body"
    return "callToActionLabel" if first in ("call_to_action", "label") else to_camel(first)
