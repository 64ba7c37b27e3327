"""How the local runtime reads a Terraform-made schedule's expression."""

from __future__ import annotations

import pytest

from localmode.topology import interval_of


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(5 minutes)", 300), ("rate(1 minute)", 60), ("rate(2 hours)", 7200), ("rate(1 day)", 86400),
     ("cron(0 3 * * ? *)", 86400)],
)  # fmt: skip
def test_a_schedule_runs_at_its_rate_and_a_daily_cron_once_a_day(expression: str, seconds: float) -> None:
    assert interval_of(expression) == seconds


def test_an_expression_the_runtime_cannot_follow_is_named() -> None:
    with pytest.raises(ValueError, match=r"at\(2027-01-01T00:00:00\)"):
        interval_of("at(2027-01-01T00:00:00)")
