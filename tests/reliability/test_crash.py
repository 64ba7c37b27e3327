"""Crash: the email processor dies between two of its writes (injected at the repository), Lambda retries the
batch, and the retry neither writes a second email nor leaves the state half done."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.store.decisions import DECIDED_PREFIX
from tests.reliability.conftest import Figures, scale
from tests.reliability.harness import COUNTER_FAULTS, CounterWriteFaults, Crash, Pipeline, scan
from tests.support.events import client_values, to_image

# Where the process dies: after the slot is claimed (before the draft), after the draft (before lastEmailDate),
# and after lastEmailDate (before the decision is recorded).
CRASH_POINTS = {
    "before the draft is stored": ("emails", "add"),
    "between the draft and lastEmailDate": ("users", "mark_emailed"),
    "between lastEmailDate and the decision": ("decisions", "record"),
}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_between_writes_is_repaired_by_the_retry_without_a_second_email(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures, point: str
) -> None:
    pipeline = Pipeline(aws, load_handler)
    repository, method = CRASH_POINTS[point]
    target = getattr(pipeline.email_processor.services.service, repository)
    real = getattr(target, method)
    crashed: set[str] = set()

    def dies_once_per_client(*args: Any, **kwargs: Any) -> Any:
        user_id = _user_of(args, kwargs)
        if user_id not in crashed:
            crashed.add(user_id)
            raise Crash(f"killed in {method} for {user_id}")
        return real(*args, **kwargs)

    setattr(target, method, dies_once_per_client)
    clients = [to_image(client_values(f"k-{i}", name=f"Client {i}", engagementScore=20)) for i in range(scale(5, 50))]
    pipeline.put_clients(clients)

    pipeline.drain()

    processor = pipeline.functions["email_processor"]
    assert len(crashed) == len(clients)
    assert processor.errors
    assert all(error.startswith("Crash") for error in processor.errors)
    emails = pipeline.emails()
    per_client = Counter(email["userId"] for email in emails)
    assert len(per_client) == len(clients)
    assert set(per_client.values()) == {1}  # no duplicate on retry
    for email in emails:  # the state is repaired: the item shows the email, the decision is recorded once
        client = pipeline.client(email["userId"])
        assert client["lastEmailId"] == email["emailId"]
        assert client["lastEmailDate"] == email["createdAt"]
    decisions = [d for d in scan(aws["dynamodb"], pipeline.deployed.tables["decisions"])
                 if d["userId"].startswith("k-") and d.get("reason")]  # fmt: skip
    assert Counter(d["reason"] for d in decisions) == {"eligible": len(clients)}
    assert pipeline.counters()[DECIDED_PREFIX + "eligible"] == len(clients)
    assert pipeline.dead_letters("email-requests-dlq") == []
    figures.record(clients=len(clients), crashes=len(processor.errors), emails_out=len(emails),
                   duplicates=len(emails) - len(per_client), lost=len(clients) - len(per_client))  # fmt: skip


@pytest.mark.parametrize("fault", COUNTER_FAULTS)
@pytest.mark.parametrize("holdout", ["0", "100"])
def test_a_fault_at_a_decisions_count_leaves_it_counted_once_after_the_retry(
    aws: dict[str, Any], load_handler: Callable[..., ModuleType], figures: Figures, fault: str, holdout: str
) -> None:
    """The decision and its count (decided_<reason>, heldOut) are one write: the retry of a message whose count
    failed records and counts it; none is lost, none is counted twice."""
    pipeline = Pipeline(aws, load_handler, HOLDOUT_PERCENT=holdout)
    faults = CounterWriteFaults(COUNTER_FAULTS[fault])
    clients = [to_image(client_values(f"c-{i}", name=f"Client {i}", engagementScore=20)) for i in range(scale(4, 30))]

    with faults.installed():
        for client in clients:  # one at a time, so that each client's first count is the one that fails
            faults.arm()
            pipeline.put_clients([client])
            pipeline.drain()

    assert faults.fired == len(clients)
    reasons = Counter(d["reason"] for d in scan(aws["dynamodb"], pipeline.deployed.tables["decisions"])
                      if d["userId"].startswith("c-") and d.get("reason"))  # fmt: skip
    expected = "held_out" if holdout == "100" else "eligible"
    assert reasons == {expected: len(clients)}
    counters = pipeline.counters()
    assert counters.get(DECIDED_PREFIX + expected, 0) == len(clients)  # what the overview shows: every decision, once
    assert counters.get("heldOut", 0) == (len(clients) if holdout == "100" else 0)
    assert len(pipeline.emails()) == (0 if holdout == "100" else len(clients))
    assert pipeline.dead_letters("email-requests-dlq") == []
    figures.record(clients=len(clients), faults=faults.fired, counted=counters.get(DECIDED_PREFIX + expected, 0))


def _user_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The client a repository call is about: a userId, an Email or a DecisionRecord."""
    first = args[0] if args else next(iter(kwargs.values()))
    return str(getattr(first, "user_id", first))
