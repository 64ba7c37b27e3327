"""SES (v2) adapter: sends raw MIME through a configuration set (so bounces and complaints are published).

A send is never repeated blindly: the client makes one attempt (the SDK's retries are off), and the outcome is
one of three. Sent; not sent and safe to try again later (MailDeferred: throttling, a quota, SES unavailable, no
connection); or uncertain (MailOutcomeUnknown: the request went out and the answer was lost, so SES may have
sent it). Everything else SES says is a refusal (MailRefused).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from engagement.adapters import aws
from engagement.errors import TransientFailure

if TYPE_CHECKING:
    from types_boto3_sesv2 import SESV2Client

# What SES answers when it will not send now but may later: throttling, the daily quota, its own trouble.
_DEFERRALS = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class MailRefused(Exception):
    """SES refused the message (an unverified sender, a paused account, a rejected message, no permission)."""


class MailDeferred(TransientFailure):
    """SES did not take the message, and may later: try again."""


class MailOutcomeUnknown(Exception):
    """The request reached SES but its answer did not reach us: it may have been sent. Never resend it."""


class Mailer:
    def __init__(self, configuration_set: str | None, ses: SESV2Client | None = None) -> None:
        self.configuration_set = configuration_set
        self._given_ses = ses

    @property
    def _ses(self) -> SESV2Client:  # made at first use, not at cold start: most invocations send nothing
        return self._given_ses or aws.client("sesv2", attempts=1)

    def send(self, message: EmailMessage, *, sender: str, recipient: str, email_id: str) -> str:
        """Send; return SES's message id, or raise MailRefused, MailDeferred or MailOutcomeUnknown."""
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
            code = aws.error_code(exc)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _DEFERRALS or status >= 500:
                raise MailDeferred(f"SES deferred the send: {code or status}") from exc
            raise MailRefused(f"{code}: {exc.response.get('Error', {}).get('Message', '')}") from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise MailDeferred(f"SES unreachable: {exc}") from exc  # the request never left
        except BotoCoreError as exc:
            raise MailOutcomeUnknown(f"{type(exc).__name__}: {exc}") from exc
