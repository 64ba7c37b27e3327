"""Fit the churn model to a customer summary file and print the parameters as JSON: the same fit the sweep runs.

    python scripts/fit_churn_model.py --summary FILE.csv [--model mbgnbd|bgnbd]

FILE.csv has a header with the columns frequency (repeat purchases, a whole number), recency (the time of the last
purchase after the first) and T (the customer's age since the first purchase), all in one time unit of your
choice (the parameter alpha comes out in it); x and t_x are accepted for frequency and recency, other columns are
ignored. A bad row is reported with its line and reason on stderr and the rest is fitted (exit status 3); a file
without those columns, or with no usable row, fits nothing (status 2).

For example, the CDNOW sample of Fader, Hardie and Lee (2005), in weeks:

    python scripts/fit_churn_model.py --summary tests/fixtures/cdnow/cdnow_customers_summary.csv --model bgnbd
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engagement.domain import churn
from engagement.domain.churn import Summary, Variant
from scripts.importing import MissingColumns, Problem, read_rows

ALIASES = {"frequency": ("frequency", "x"), "recency": ("recency", "t_x"), "T": ("T",)}


def summaries(path: Path) -> tuple[list[Summary], list[Problem]]:
    found, problems = [], []
    for row in read_rows(path, "csv"):
        if row.problem:
            problems.append(Problem(row.line, row.problem))
            continue
        values = {name: next((row.values[alias] for alias in aliases if alias in row.values), None)
                  for name, aliases in ALIASES.items()}  # fmt: skip
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise MissingColumns(f"{path}: the header has no {', '.join(missing)} column "
                                 f"(it has: {', '.join(row.values)})")  # fmt: skip
        try:
            numbers = {name: _number(name, value) for name, value in values.items()}
            if not numbers["frequency"].is_integer():
                raise ValueError(f"frequency: a whole number of repeat purchases, not {values['frequency']}")
            found.append(Summary(int(numbers["frequency"]), numbers["recency"], numbers["T"]))
        except ValueError as exc:
            problems.append(Problem(row.line, str(exc)))
    return found, problems


def _number(name: str, text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        raise ValueError(f"{name}: not a number: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", type=Path, required=True, help="CSV with frequency, recency, T")
    parser.add_argument(
        "--model",
        choices=[variant.value for variant in Variant],
        default=Variant.MBGNBD.value,
        help="mbgnbd (default; a one-time buyer can lapse) or bgnbd (Fader, Hardie and Lee 2005)",
    )
    args = parser.parse_args(argv)
    try:
        rows, problems = summaries(args.summary)
    except (OSError, MissingColumns) as exc:
        print(exc, file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if not rows:
        print(f"{args.summary}: no usable row to fit", file=sys.stderr)
        return 2
    began = time.perf_counter()
    fitted = churn.fit(Variant(args.model), rows)
    result = {
        "model": fitted.variant.value,
        **fitted.parameters.as_dict(),
        "logLikelihood": fitted.log_likelihood,
        "clients": fitted.clients,
        "repeatBuyers": fitted.repeat_buyers,
        "iterations": fitted.iterations,
        "converged": fitted.converged,
        "seconds": round(time.perf_counter() - began, 3),
        "badRows": len(problems),
    }
    print(json.dumps(result, indent=2))
    if not fitted.converged:
        print(f"warning: the fit did not converge in {fitted.iterations} iterations (too few or too alike clients?); "
              "the sweep would not use it", file=sys.stderr)  # fmt: skip
    return 3 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
