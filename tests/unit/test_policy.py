from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.domain.models import Client, DecisionReason, EmailHistory, Override
from engagement.domain.policy import EligibilityRules, decide, decide_request
from engagement.domain.scoring import score_client

NOW = datetime(2026, 11, 28, tzinfo=UTC)
RULES = EligibilityRules(cooldown=timedelta(days=7))


def at_risk_client(**extra: object) -> Client:
    return Client.model_validate({"userId": "u", "email": "u@example.com", "engagementScore": 30, **extra})


def reason(client: Client, history: EmailHistory | None = None) -> DecisionReason:
    decision = decide(client, score_client(client, NOW), history or EmailHistory(), NOW, RULES)
    assert decision.send is (decision.reason is DecisionReason.ELIGIBLE)
    return decision.reason


def test_an_at_risk_client_never_emailed_is_eligible() -> None:
    assert reason(at_risk_client()) is DecisionReason.ELIGIBLE


@pytest.mark.parametrize("score", [50, 75, 100])
def test_a_score_of_50_or_more_is_not_at_risk(score: int) -> None:
    assert reason(at_risk_client(engagementScore=score)) is DecisionReason.NOT_AT_RISK


def test_emailed_within_the_cooldown_is_skipped() -> None:
    recently = NOW - timedelta(days=6, hours=23)
    assert reason(at_risk_client(), EmailHistory(last_email_date=recently)) is DecisionReason.COOLDOWN


def test_a_last_email_date_set_on_the_item_by_an_operator_or_import_is_honoured() -> None:
    assert reason(at_risk_client(lastEmailDate=NOW - timedelta(days=1))) is DecisionReason.COOLDOWN
    long_ago = EmailHistory(last_email_date=NOW - timedelta(days=30))
    assert reason(at_risk_client(lastEmailDate=NOW - timedelta(days=1)), long_ago) is DecisionReason.COOLDOWN


def test_emailed_exactly_one_cooldown_ago_is_eligible_again() -> None:
    assert reason(at_risk_client(), EmailHistory(last_email_date=NOW - timedelta(days=7))) is DecisionReason.ELIGIBLE


def test_opted_out_and_suppressed_clients_are_skipped() -> None:
    assert reason(at_risk_client(optedOut=True)) is DecisionReason.OPTED_OUT
    assert reason(at_risk_client(suppressed=True)) is DecisionReason.SUPPRESSED


def test_a_suppressed_address_is_skipped() -> None:
    assert reason(at_risk_client(), EmailHistory(address_suppressed=True)) is DecisionReason.SUPPRESSED


def test_the_frequency_cap_holds_beyond_the_cooldown() -> None:
    long_ago = NOW - timedelta(days=10)  # outside the 7-day cooldown...
    capped = EmailHistory(last_email_date=long_ago, recent_emails=2)  # ...but two emails in 30 days already
    assert reason(at_risk_client(), capped) is DecisionReason.FREQUENCY_CAP
    assert reason(at_risk_client(), capped.model_copy(update={"recent_emails": 1})) is DecisionReason.ELIGIBLE


def asked(client: Client, history: EmailHistory, *overrides: Override) -> DecisionReason:
    return decide_request(client, history, NOW, RULES, overrides).reason


def test_an_operators_request_sets_aside_only_the_rules_it_names() -> None:
    yesterday = EmailHistory(last_email_date=NOW - timedelta(days=1), recent_emails=2)
    client = at_risk_client(engagementScore=90)  # the operator judged: the score does not decide
    assert asked(client, EmailHistory()) is DecisionReason.OPERATOR_REQUEST
    assert asked(client, yesterday) is DecisionReason.COOLDOWN
    assert asked(client, yesterday, Override.COOLDOWN) is DecisionReason.FREQUENCY_CAP
    assert asked(client, yesterday, Override.COOLDOWN, Override.FREQUENCY_CAP) is DecisionReason.OPERATOR_REQUEST


@pytest.mark.parametrize(
    ("client", "history", "refused"),
    [
        (at_risk_client(optedOut=True), EmailHistory(), DecisionReason.OPTED_OUT),
        (at_risk_client(), EmailHistory(address_opted_out=True), DecisionReason.OPTED_OUT),
        (at_risk_client(suppressed=True), EmailHistory(), DecisionReason.SUPPRESSED),
        (at_risk_client(), EmailHistory(address_suppressed=True), DecisionReason.SUPPRESSED),
    ],
)
def test_no_override_sets_aside_consent_or_a_bouncing_address(
    client: Client, history: EmailHistory, refused: DecisionReason
) -> None:
    assert asked(client, history, *Override) is refused
