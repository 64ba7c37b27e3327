"""What a client's change means after the fact: an order converts, an opt-out or a deletion cancels pending drafts."""

from __future__ import annotations

from engagement.adapters.store.emails import EmailRepository
from engagement.clock import Clock
from engagement.domain.models import EngagementEvent, Signal
from engagement.services.conversion import Conversions
from engagement.services.delivery import cancel_pending


class SignalsService:
    def __init__(
        self,
        *,
        emails: EmailRepository,
        conversions: Conversions,
        clock: Clock,
    ) -> None:
        self.emails = emails
        self.conversions = conversions
        self.clock = clock

    def handle_event(self, event: EngagementEvent) -> None:
        user_id = event.client.user_id
        for signal in event.signals:
            if signal is Signal.ORDER_PLACED:
                # when the order was placed: the new lastOrderDate if this change set it, else (an upstream count)
                # when the change was made
                placed = event.client.last_order_date if "lastOrderDate" in event.changed else None
                self.conversions.order_placed(user_id, placed or event.occurred_at)
            else:
                cancel_pending(
                    self.emails, user_id, reason=signal.value, by=f"system:{signal.value}", now=self.clock.now()
                )
