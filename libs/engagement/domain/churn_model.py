"""The shop's churn model as stored and used: one fit of engagement.domain.churn on the clients' order
aggregates, and one client judged by it, in words.

A client's history is (x, t_x, T) in days from their aggregates: x = orderCount - 1 repeat orders, t_x = lastOrderDate
- firstOrderDate, T = now - firstOrderDate (two orders on one day are two orders). A client with no order, or with
orders kept only upstream (no firstOrderDate), has no history the model can read: the rule score judges them, and
the score's note says so. So does every client while the stored model is a refusal (too few repeat buyers, a fit
that did not converge) or there is none yet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from engagement.clock import format_instant
from engagement.domain import churn
from engagement.domain.churn import Parameters, Summary, Variant
from engagement.domain.models import CamelModel, Client, Instant, Rhythm

MODEL_NAME = "churn"
HORIZON_DAYS = 90  # "about 0.3 orders expected in the next 90 days"
OVERDUE_GAPS = 2.0  # silent for twice the usual gap: a Poisson buyer is that late about 1 time in 7


@dataclass(frozen=True)
class FitSettings:
    """How the sweep fits: the variant, the repeat buyers needed, how often, and the sample's bound."""

    variant: Variant = Variant.MBGNBD
    min_repeat_buyers: int = 200
    refit_every: timedelta = timedelta(days=7)
    max_clients: int = 50_000


class ChurnModel(CamelModel):
    """One fit of the population's parameters, with the data it came from; or, with status insufficient, why
    there is none. Stored as a version of its own; every function scores with the latest."""

    version: str
    fitted_at: Instant
    variant: Variant
    status: Literal["fitted", "insufficient"]
    r: float | None = Field(default=None, gt=0)
    alpha: float | None = Field(default=None, gt=0)
    a: float | None = Field(default=None, gt=0)
    b: float | None = Field(default=None, gt=0)
    time_unit: Literal["days"] = "days"
    log_likelihood: float | None = None
    clients: int = Field(ge=0, description="Clients in the fit (a sample when there were more than max_clients)")
    clients_seen: int = Field(ge=0, description="Clients with an order history the sweep found")
    sampled: bool = False
    repeat_buyers: int = Field(ge=0)
    min_repeat_buyers: int = Field(ge=0)
    iterations: int | None = None
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.status == "fitted" and None not in (self.r, self.alpha, self.a, self.b)

    @property
    def parameters(self) -> Parameters:
        if self.r is None or self.alpha is None or self.a is None or self.b is None:
            raise ValueError(f"churn model {self.version} has no parameters: {self.reason}")
        return Parameters(self.r, self.alpha, self.a, self.b)


def fit_model(
    variant: Variant,
    summaries: Sequence[Summary],
    *,
    now: datetime,
    min_repeat_buyers: int,
    clients_seen: int | None = None,
) -> ChurnModel:
    """Fit the clients' histories, or say why not: fewer repeat buyers than min_repeat_buyers, or no convergence."""
    seen = len(summaries) if clients_seen is None else clients_seen
    repeat_buyers = sum(1 for summary in summaries if summary.frequency > 0)
    common = {"version": format_instant(now), "fitted_at": now, "variant": variant,
              "clients": len(summaries), "clients_seen": seen, "sampled": seen > len(summaries),
              "repeat_buyers": repeat_buyers, "min_repeat_buyers": min_repeat_buyers}  # fmt: skip
    if repeat_buyers < max(1, min_repeat_buyers):
        reason = (f"too little data for a churn model: {repeat_buyers} clients with a repeat order, "
                  f"{min_repeat_buyers} needed")  # fmt: skip
        return ChurnModel(status="insufficient", reason=reason, **common)
    fitted = churn.fit(variant, summaries)
    if not fitted.converged:
        reason = f"the churn model's fit did not converge in {fitted.iterations} iterations"
        return ChurnModel(status="insufficient", reason=reason, iterations=fitted.iterations, **common)
    return ChurnModel(status="fitted", log_likelihood=fitted.log_likelihood, iterations=fitted.iterations,
                      **fitted.parameters.as_dict(), **common)  # fmt: skip


def history_of(client: Client, now: datetime) -> Summary | str:
    """The client's (x, t_x, T) in days, or why the model cannot read one."""
    if client.order_count == 0 or client.last_order_date is None:
        return "no order yet: the rule score judges clients until they buy"
    if client.first_order_date is None:
        return "no first order date on record (orders kept upstream only): the rule score judges this client"
    return churn.summary_of(client.order_count, client.first_order_date, client.last_order_date, now)


def judge(client: Client, model: ChurnModel | None, now: datetime) -> Rhythm | str:
    """The client against their own rhythm, or why the churn model does not judge them."""
    if model is None:
        return "no churn model fitted yet: the rule score is in use"
    if not model.usable:
        return f"{model.reason or 'no usable churn model'}; the rule score is in use"
    history = history_of(client, now)
    if isinstance(history, str):
        return history
    params = model.parameters
    alive = churn.p_alive(model.variant, params, history)
    expected = churn.expected_purchases(model.variant, params, history, HORIZON_DAYS)
    wait = churn.median_time_to_next(params, history)
    gap = history.usual_gap
    late = history.silence / gap if gap else None
    return Rhythm(
        p_alive=alive,
        expected_orders=expected,
        horizon_days=HORIZON_DAYS,
        usual_gap_days=gap,
        days_since_last_order=history.silence,
        gaps_late=late,
        overdue=late is not None and late >= OVERDUE_GAPS,
        next_order_date=now + timedelta(days=min(wait, 36_500.0)),
        explanation=_in_words(history, alive, expected, late),
        model_version=model.version,
    )


def score_of(rhythm: Rhythm) -> int:
    """P(alive) on 0-100."""
    return max(0, min(100, round(rhythm.p_alive * 100)))


def _in_words(history: Summary, alive: float, expected: float, late: float | None) -> str:
    silence = int(history.silence)
    last = f"last order {silence} day{'' if silence == 1 else 's'} ago"
    gap = history.usual_gap
    if gap is None:
        rhythm = f"one order so far; {last}"
    elif gap < 1:
        rhythm = f"{history.frequency + 1} orders, all within a day of the first; {last}"
    else:
        times = f", {late:.1f} times the usual gap" if late is not None and math.isfinite(late) else ""
        rhythm = f"usually orders every ~{round(gap)} days; {last}{times}"
    percent = round(alive * 100)
    likely = "under 1 %" if percent == 0 and alive > 0 else f"{percent} %"
    orders = "order" if round(expected, 1) == 1.0 else "orders"
    horizon = f"in the next {HORIZON_DAYS} days"
    return f"{rhythm}; {likely} likely still a client; about {expected:.1f} {orders} expected {horizon}"
