"""SES bounce and complaint notifications → the suppression list.

Both shapes SES publishes are read: identity notifications ("notificationType") and configuration-set event
publishing ("eventType"), raw or inside an SNS envelope. A hard (Permanent) bounce or a complaint suppresses the
address at once; a transient bounce is only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engagement.adapters.store.suppressions import SuppressionRepository
from engagement.clock import parse_instant
from engagement.domain.jsontext import json_object
from engagement.domain.models import normalise_address
from engagement.errors import InvalidRecord
from engagement.observability import count, logger

IGNORED = frozenset(
    {"Delivery", "Send", "Open", "Click", "Reject", "Rendering Failure", "DeliveryDelay", "Subscription"}
)


@dataclass(frozen=True)
class Feedback:
    kind: str  # Bounce or Complaint
    subtype: str  # Permanent / Transient / Undetermined, or the complaint's feedback type
    recipients: tuple[str, ...]
    message_id: str
    at: datetime

    @property
    def suppresses(self) -> bool:
        return self.kind == "Complaint" or self.subtype == "Permanent"


def parse_notification(body: str, now: datetime) -> Feedback | None:
    """The feedback a notification carries; None for kinds that need no action; InvalidRecord for anything else."""
    payload = json_object(body, "SES notification")
    if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
        payload = json_object(payload["Message"], "SES notification inside the SNS envelope")
    kind = payload.get("notificationType") or payload.get("eventType")
    if not isinstance(kind, str):
        raise InvalidRecord(f"notificationType {kind!r} is not one SES sends", "notificationType")
    if kind in IGNORED:
        return None
    mail = payload.get("mail") or {}
    if not isinstance(mail, dict):
        raise InvalidRecord("mail is not an object", "mail")
    try:
        if kind == "Bounce":
            details = payload["bounce"]
            subtype = str(details["bounceType"])
            recipients = tuple(str(r["emailAddress"]) for r in details["bouncedRecipients"])
        elif kind == "Complaint":
            details = payload["complaint"]
            subtype = str(details.get("complaintFeedbackType") or "complaint")
            recipients = tuple(str(r["emailAddress"]) for r in details["complainedRecipients"])
        else:
            raise InvalidRecord(f"notificationType {kind!r} is not one SES sends", "notificationType")
        at = parse_instant(str(details["timestamp"])) if details.get("timestamp") else now
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidRecord(f"{kind} notification lacks {exc}", str(exc).strip("'")) from exc
    except ValueError as exc:
        raise InvalidRecord(f"{kind} notification: {exc}", "timestamp") from exc
    if not recipients:
        raise InvalidRecord(f"{kind} notification names no recipient", "recipients")
    try:  # as our clients' addresses are kept: the suppression list then names the address we sent to
        recipients = tuple(normalise_address(address) for address in recipients)
    except ValueError as exc:
        raise InvalidRecord(f"{kind} notification names a recipient that is no bare email address: {exc}",
                            "recipients") from exc  # fmt: skip
    return Feedback(kind=kind, subtype=subtype, recipients=recipients, message_id=str(mail.get("messageId", "")), at=at)


class SesFeedbackService:
    def __init__(self, suppressions: SuppressionRepository) -> None:
        self.suppressions = suppressions

    def handle(self, feedback: Feedback | None) -> Feedback | None:
        """One notification (parsed at the edge; None: a kind that needs no action)."""
        if feedback is None:
            return None
        count(
            "HardBounces"
            if feedback.subtype == "Permanent"
            else ("Complaints" if feedback.kind == "Complaint" else "SoftBounces")
        )
        if feedback.suppresses:
            for address in feedback.recipients:
                self.suppressions.suppress(
                    address,
                    reason=f"{feedback.kind.lower()}:{feedback.subtype}",
                    at=feedback.at,
                    source={"kind": feedback.kind, "subtype": feedback.subtype, "messageId": feedback.message_id},
                )
                count("AddressesSuppressed")
            logger.info("addresses suppressed", extra={"kind": feedback.kind, "count": len(feedback.recipients)})
        return feedback
