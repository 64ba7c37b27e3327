"""The email as it leaves: raw MIME with a text and an HTML part and the headers commercial email needs.

RFC 8058 one-click unsubscribe: List-Unsubscribe names our signed HTTPS link, List-Unsubscribe-Post says a POST to
it unsubscribes. Sending raw MIME is what keeps these headers through SES.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from html import escape

from engagement.domain.consent import UNSUBSCRIBE_SLOT
from engagement.domain.models import Email


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_message(
    email: Email, *, sender: str, sender_name: str, recipient: str, unsubscribe_url: str, now: datetime
) -> EmailMessage:
    """The MIME message as SES sends it, to the client's address as it is now (it may have changed since the
    draft)."""
    message = EmailMessage(policy=SMTP)
    local_part, _, domain = sender.partition("@")
    message["From"] = Address(display_name=_one_line(sender_name), username=local_part, domain=domain)
    message["To"] = recipient
    message["Subject"] = _one_line(email.subject)
    message["Date"] = format_datetime(now)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Engagement-Email-Id"] = email.email_id
    message.set_content(email.text_content.replace(UNSUBSCRIBE_SLOT, unsubscribe_url))
    message.add_alternative(email.content.replace(UNSUBSCRIBE_SLOT, escape(unsubscribe_url)), subtype="html")
    return message


def visible_headers(message: EmailMessage) -> dict[str, str]:
    """The headers an operator checks in the outbox."""
    names = ("From", "To", "Subject", "Date", "List-Unsubscribe", "List-Unsubscribe-Post")
    return {name: str(message[name]) for name in names if message[name] is not None}
