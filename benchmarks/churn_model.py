"""make bench, section 8: the churn model. Fit time for 10,000 and 100,000 clients, scoring cost per client, the
CDNOW reference fit, the predictive comparison on CDNOW's 39-week holdout, and how closely fits recover the
parameters that drew them."""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engagement.domain import churn
from engagement.domain.churn import Parameters, Summary, Variant
from engagement.domain.churn_model import fit_model
from engagement.domain.models import Client
from engagement.domain.scoring import computed_score, score_client
from tests.support.cdnow import (
    CALIBRATION_END,
    HOLDOUT_END,
    cdnow_calibration,
    cdnow_holdout_purchases,
    cdnow_purchases,
)

SYNTHETIC = Parameters(r=1.0, alpha=20.0, a=0.6, b=1.8)  # days
HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / 7


def auc(scores: list[float], bought: list[bool]) -> float:
    """The probability a random buyer is ranked above a random non-buyer (ties count a half): Mann-Whitney."""
    ranked = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(ranked):
        end = start
        while end + 1 < len(ranked) and scores[ranked[end + 1]] == scores[ranked[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[ranked[position]] = (start + end) / 2 + 1
        start = end + 1
    positives = sum(bought)
    negatives = len(bought) - positives
    rank_sum = sum(rank for rank, yes in zip(ranks, bought, strict=True) if yes)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _rule_clients() -> list[Client]:
    """Each CDNOW customer as the users table would hold them at the end of the calibration period."""
    days: dict[int, dict[date, float]] = defaultdict(dict)
    for customer, bought, amount in cdnow_purchases():
        if bought <= CALIBRATION_END:
            days[customer][bought] = days[customer].get(bought, 0.0) + amount
    clients = []
    for customer in range(1, 2358):
        purchases = days[customer]
        first, last = min(purchases), max(purchases)
        clients.append(Client.model_validate({
            "userId": str(customer), "email": f"c{customer}@example.com", "orderCount": len(purchases),
            "averageOrderValue": sum(purchases.values()) / len(purchases),
            "firstOrderDate": datetime(first.year, first.month, first.day, tzinfo=UTC),
            "lastOrderDate": datetime(last.year, last.month, last.day, tzinfo=UTC),
            "createdAt": datetime(first.year, first.month, first.day, tzinfo=UTC),
        }))  # fmt: skip
    return clients


def cdnow_holdout(variant: Variant) -> dict[str, float]:
    calibration, actual = cdnow_calibration(), cdnow_holdout_purchases()
    params = churn.fit(variant, calibration).parameters
    predicted = [churn.expected_purchases(variant, params, summary, HOLDOUT_WEEKS) for summary in calibration]
    bought = [count > 0 for count in actual]
    now = datetime(CALIBRATION_END.year, CALIBRATION_END.month, CALIBRATION_END.day, tzinfo=UTC) + timedelta(days=1)
    rule = [float(computed_score(client, now)[0]) for client in _rule_clients()]
    naive = [summary.frequency / summary.age * HOLDOUT_WEEKS for summary in calibration]  # the client's own rate
    return {
        "model_auc": auc(predicted, bought),
        "p_alive_auc": auc([churn.p_alive(variant, params, s) for s in calibration], bought),
        "p_buys_auc": auc([churn.p_buys_within(variant, params, s, HOLDOUT_WEEKS) for s in calibration], bought),
        "rule_auc": auc(rule, bought),
        "model_mae": statistics.fmean(abs(p - a) for p, a in zip(predicted, actual, strict=True)),
        "naive_mae": statistics.fmean(abs(p - a) for p, a in zip(naive, actual, strict=True)),
        "predicted": sum(predicted),
        "actual": sum(actual),
        "buyers": sum(bought),
    }


def _draw(variant: Variant, count: int, seed: int) -> list[Summary]:
    rng = random.Random(seed)
    return churn.draw_histories(variant, SYNTHETIC, [rng.uniform(365, 1095) for _ in range(count)], rng)


def _worst_error(fitted: Parameters) -> float:
    return max(abs(value / getattr(SYNTHETIC, name) - 1) for name, value in fitted.as_dict().items())


def churn_model(*, quick: bool = False) -> None:
    print("\n8. The churn model (pure Python; engagement.domain.churn)")
    for variant in Variant:
        began = time.perf_counter()
        fitted = churn.fit(variant, cdnow_calibration())
        elapsed = time.perf_counter() - began
        shown = ", ".join(f"{name} {value:.4g}" for name, value in fitted.parameters.as_dict().items())
        print(f"   CDNOW {variant.label:7} {shown}; log-likelihood {fitted.log_likelihood:.1f} "
              f"({elapsed * 1000:.0f} ms, {fitted.iterations} iterations)")  # fmt: skip
    print("            published BG/NBD (Fader, Hardie and Lee 2005): r 0.243, alpha 4.414, a 0.793, b 2.426; -9582.4")

    print(
        f"   CDNOW holdout ({HOLDOUT_WEEKS:.0f} weeks): who buys again, ranked by each score (AUC), and repeat "
        "purchases per customer (mean absolute error)"
    )
    for variant in Variant:
        figures = cdnow_holdout(variant)
        print(f"   {variant.label:7}  AUC {figures['p_buys_auc']:.3f} by P(an order in the period), "
              f"{figures['model_auc']:.3f} by expected purchases, {figures['p_alive_auc']:.3f} by P(alive) (the "
              f"score); the rule score {figures['rule_auc']:.3f}.  "
              f"MAE {figures['model_mae']:.3f} (each client's own calibration rate: {figures['naive_mae']:.3f}); "
              f"{figures['predicted']:.0f} purchases predicted, {figures['actual']} made by "
              f"{figures['buyers']} customers")  # fmt: skip

    sizes = (1_000, 5_000) if quick else (10_000, 100_000)
    for variant in Variant:
        for size in sizes:
            histories = _draw(variant, size, seed=1)
            began = time.perf_counter()
            fitted = churn.fit(variant, histories)
            elapsed = time.perf_counter() - began
            print(f"   fit {variant.label:7} {size:>7,} clients: {elapsed:6.2f} s, {fitted.iterations} iterations, "
                  f"worst parameter {_worst_error(fitted.parameters):.1%} from the truth")  # fmt: skip

    draws = 3 if quick else 10
    for variant in Variant:
        errors = sorted(_worst_error(churn.fit(variant, _draw(variant, 10_000, seed)).parameters)
                        for seed in range(draws))  # fmt: skip
        within = sum(error < 0.05 for error in errors)
        print(f"   recovery {variant.label:7} {draws} draws of 10,000 from r 1, alpha 20 days, a 0.6, b 1.8: worst "
              f"parameter's error median {statistics.median(errors):.1%}, max {errors[-1]:.1%}; "
              f"{within} of {draws} within 5 %")  # fmt: skip

    _scoring_cost(1_000 if quick else 20_000)


def _scoring_cost(count: int) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    histories = _draw(Variant.MBGNBD, count, seed=2)
    model = fit_model(Variant.MBGNBD, histories, now=now, min_repeat_buyers=1)
    clients = [Client.model_validate({
        "userId": f"c{index}", "email": f"c{index}@example.com", "orderCount": summary.frequency + 1,
        "averageOrderValue": 50.0, "firstOrderDate": now - timedelta(days=summary.age),
        "lastOrderDate": now - timedelta(days=summary.silence),
    }) for index, summary in enumerate(histories)]  # fmt: skip
    timings: dict[str, Any] = {}
    for label, scoring_model in (("the rule score", None), ("the churn model", model)):
        began = time.perf_counter()
        for client in clients:
            score_client(client, now, scoring_model)
        timings[label] = (time.perf_counter() - began) / count * 1e6
    print(f"   scoring one client: {timings['the churn model']:.0f} µs with the churn model (P(alive), expected "
          f"orders, next order, words), {timings['the rule score']:.0f} µs with the rule score alone")  # fmt: skip
