from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from engagement.domain.lifecycle import ALLOWED, FINAL, PENDING, InvalidTransition, change
from engagement.domain.models import EmailStatus as S

NOW = datetime(2026, 11, 28, tzinfo=UTC)
EXPECTED = {
    (S.PENDING_REVIEW, S.PENDING_REVIEW), (S.PENDING_REVIEW, S.APPROVED), (S.PENDING_REVIEW, S.REJECTED),
    (S.PENDING_REVIEW, S.CANCELLED), (S.PENDING_REVIEW, S.SENDING), (S.PENDING_REVIEW, S.SCHEDULED),
    (S.APPROVED, S.SENDING), (S.APPROVED, S.SCHEDULED), (S.APPROVED, S.CANCELLED),
    (S.SCHEDULED, S.SENDING), (S.SCHEDULED, S.SCHEDULED), (S.SCHEDULED, S.CANCELLED),
    (S.SENDING, S.SENT), (S.SENDING, S.FAILED), (S.SENDING, S.SCHEDULED), (S.SENDING, S.CANCELLED),
}  # fmt: skip


@pytest.mark.parametrize(("current", "wanted"), sorted(product(S, S)))
def test_every_transition_is_allowed_or_refused_as_designed(current: S, wanted: S) -> None:
    if (current, wanted) in EXPECTED:
        step = change(current, wanted, at=NOW, by="operator:ada", reason="looks good")
        assert (step.from_status, step.to_status, step.at, step.by) == (current, wanted, NOW, "operator:ada")
    else:
        with pytest.raises(InvalidTransition, match=f"is {current.value}; it cannot become {wanted.value}"):
            change(current, wanted, at=NOW, by="operator:ada", email_id="e-1")


def test_sent_rejected_failed_and_cancelled_are_final_and_pending_ones_can_be_cancelled() -> None:
    assert frozenset({S.SENT, S.REJECTED, S.FAILED, S.CANCELLED}) == FINAL
    assert all(S.CANCELLED in ALLOWED[status] for status in PENDING)
    assert S.SENDING not in PENDING  # a send in flight is not cancelled underneath SES...
    assert S.APPROVED not in ALLOWED[S.SENDING]  # ...nor approved again (that would be a second send)
    assert S.PENDING_REVIEW not in ALLOWED[S.SENDING]
