"""SES (v2) adapter: sends raw MIME through a configuration set (so bounces and complaints are published)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engagement import aws
from engagement.errors import TransientFailure

# What SES answers when this message, sender or account cannot send at all: retrying will not help.
_REFUSALS = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "BadRequestException",
    }
)


class MailRefused(Exception):
    """SES refused the message for good (an unverified sender, a paused account, a rejected message)."""


class Mailer:
    def __init__(self, configuration_set: str | None, ses: Any | None = None) -> None:
        self.configuration_set = configuration_set
        self._ses = ses or aws.client("sesv2")

    def send(self, message: EmailMessage, *, sender: str, recipient: str, email_id: str) -> str:
        """Send; return SES's message id. MailRefused if SES will never send it, TransientFailure to retry."""
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
            "EmailTags": [{"Name": "emailId", "Value": email_id[:256]}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            return str(self._ses.send_email(**request)["MessageId"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REFUSALS:
                raise MailRefused(f"{code}: {exc.response.get('Error', {}).get('Message', '')}") from exc
            raise TransientFailure(f"SES send: {code}") from exc
        except BotoCoreError as exc:
            raise TransientFailure(f"SES send: {exc}") from exc
