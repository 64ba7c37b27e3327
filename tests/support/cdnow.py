"""The CDNOW sample (Fader, Hardie and Lee 2005): 2,357 customers who first bought from CDNOW in the first quarter
of 1997, followed for 78 weeks; the first 39 are the calibration period, the next 39 the holdout. The files in
tests/fixtures/cdnow/ are copied unchanged from the lifetimes package (0.11.3, lifetimes/datasets/; Apache 2.0),
which took them from Bruce Hardie's site (brucehardie.com/datasets/): see tests/fixtures/cdnow/README.md."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from engagement.domain.churn import Summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow"
CALIBRATION_END = date(1997, 9, 30)  # week 39 ends; T = 38.86 weeks for a customer who first bought on Jan 1
HOLDOUT_END = date(1998, 6, 30)


def cdnow_calibration() -> list[Summary]:
    """The published calibration summary (x, t_x, T in weeks), in customer order."""
    with (FIXTURES / "cdnow_customers_summary.csv").open() as rows:
        return [Summary(int(row["frequency"]), float(row["recency"]), float(row["T"])) for row in csv.DictReader(rows)]


def cdnow_purchases() -> Iterator[tuple[int, date, float]]:
    """Every purchase of the sample: the customer (1-2357), the day, the amount in dollars."""
    with (FIXTURES / "CDNOW_sample.txt").open() as lines:
        for line in lines:
            _, customer, day, _, amount = line.split()
            yield int(customer), date(int(day[:4]), int(day[4:6]), int(day[6:])), float(amount)


def cdnow_holdout_purchases() -> list[int]:
    """Each customer's purchases in the 39-week holdout (days with a purchase, as the calibration counts them), in
    the same order as cdnow_calibration()."""
    days: dict[int, set[date]] = defaultdict(set)
    for customer, bought, _ in cdnow_purchases():
        if CALIBRATION_END < bought <= HOLDOUT_END:
            days[customer].add(bought)
    return [len(days[customer]) for customer in range(1, 2358)]
