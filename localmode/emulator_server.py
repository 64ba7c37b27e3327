"""moto server, with SES's mailbox simulator and DynamoDB's transactions made faithful for the local mode, and
the answers the Terraform reads back made as AWS gives them (localmode/emulator_fidelity.py).

Sending to bounce@simulator.amazonses.com or complaint@simulator.amazonses.com makes SES publish a notification to
the identity's topic. moto publishes a fixed template (naming recipient1@example.com) as a Python dict, which an
SQS raw-delivery subscription cannot carry. Here the notification names the address actually sent to, carries the
message id, and is published as JSON, as SES does.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from moto.ses.models import SESBackend, SESFeedback
from moto.sns.models import sns_backends

from localmode import emulator_dynamodb, emulator_fidelity


def _process_sns_feedback(self: SESBackend, source: str, destinations: Any) -> None:
    domain = parseaddr(str(source))[1].rpartition("@")[2] or str(source)
    topics = self.sns_topics.get(domain) or {}
    kind = self.__type_of_message__(destinations)  # Bounce, Complaint or Delivery, from the simulator address
    topic = topics.get(kind) if kind else None
    if kind is None or topic is None:
        return
    # moto adds the To header's addresses to the envelope's: each recipient once, as SES reports them
    recipients = list(dict.fromkeys(parseaddr(str(address))[1] for address in destinations))
    message = copy.deepcopy(SESFeedback.generate_message(self.account_id, kind))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    message["notificationType"] = kind
    message["mail"] |= {"source": source, "destination": recipients, "timestamp": now}
    if kind == SESFeedback.BOUNCE:
        message["bounce"] = message["bounce"] | {
            "timestamp": now,
            "bouncedRecipients": [{"emailAddress": r, "action": "failed", "status": "5.1.1"} for r in recipients],
        }
    elif kind == SESFeedback.COMPLAINT:
        message["complaint"] = message["complaint"] | {
            "timestamp": now,
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
        }
    sns_backends[self.account_id][self.region_name].publish(json.dumps(message), arn=topic)


SESBackend.__process_sns_feedback__ = _process_sns_feedback  # type: ignore[method-assign]
emulator_dynamodb.install()
emulator_fidelity.install()  # answers as AWS does where the Terraform reads back what it wrote

if __name__ == "__main__":
    import signal

    from moto.server import main

    # Ctrl-C reaches the whole process group, and moto's main() exits on SIGINT: blocked here (in every thread, as
    # they inherit the mask), the emulator outlives the functions' last calls; the local mode stops it with SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    main()
