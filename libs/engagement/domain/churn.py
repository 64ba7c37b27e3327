"""The buying-cycle churn model: BG/NBD and its modified variant MBG/NBD, in pure Python.

Each client is summarised by (x, t_x, T): x repeat purchases (orders after the first), t_x the time of the last
one and T the client's age, both measured from the first purchase, in one time unit (days here; weeks in the
papers). The model says a client, while alive, buys as a Poisson process of rate lambda, and after each purchase
drops out with probability p; across clients lambda ~ Gamma(r, alpha) and p ~ Beta(a, b).

- BG/NBD (Fader, Hardie and Lee, "Counting your customers the easy way", Marketing Science 24(2), 2005): a client
  can drop out only after a repeat purchase, so a one-time buyer is alive forever. Likelihood (their eq. 6):
      L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
  P(alive) (their eq. 13): 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
- MBG/NBD (Batislam, Denizel and Filiztekin, "Empirical validation and comparison of models for customer base
  analysis", International Journal of Research in Marketing 24(3), 2007): a client may also drop out right after
  the first purchase, so a one-time buyer grows less likely alive with time. Likelihood:
      L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
  P(alive): 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)).

Both share one shape: with b' = b + x (BG/NBD) or b + x + 1 (MBG/NBD), a client alive at T has p ~ Beta(a, b') and
lambda ~ Gamma(r+x, alpha+T), and the second term (absent for BG/NBD's one-time buyers) is the first times
a/(b'-1) ((alpha+T)/(alpha+t_x))^(r+x). From that posterior:

- expected purchases in the next t (Fader et al.'s eq. 10, computed as the integral it comes from):
      P(alive) * E[(1 - exp(-lambda p t)) / p] = P(alive) * E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p],
  the expectation over p ~ Beta(a, b') by tanh-sinh quadrature (finite for every parameter, where the closed form
  through the hypergeometric function needs a != 1 and a convergent series);
- the chance of at least one purchase in the next t: P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x));
- the time to the next purchase if alive is Lomax (shape r+x, scale alpha+T): its median is
  (alpha+T)(2^(1/(r+x)) - 1), the "expected next order" this module gives.

Fitting is maximum likelihood over (log r, log alpha, log a, log b) by BFGS with the analytic gradient and a
backtracking line search, every parameter kept within [1e-6, 1e6] (in units of the clients' mean age) and the
iterations capped: it always returns. Sums of log-gammas over whole x are exact finite sums, so no special
function beyond math.log is needed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Variant(StrEnum):
    BGNBD = "bgnbd"
    MBGNBD = "mbgnbd"

    @property
    def label(self) -> str:
        return {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}[self.value]


@dataclass(frozen=True)
class Summary:
    """One client's history: x repeat purchases, the last at t_x, age T; times from the first purchase."""

    frequency: int  # x
    recency: float  # t_x
    age: float  # T

    def __post_init__(self) -> None:
        if isinstance(self.frequency, bool) or not isinstance(self.frequency, int) or self.frequency < 0:
            raise ValueError(f"frequency must be a whole number of repeat purchases, not {self.frequency!r}")
        if not (math.isfinite(self.recency) and math.isfinite(self.age)):
            raise ValueError("recency and T must be finite")
        if not 0 <= self.recency <= self.age:
            raise ValueError(f"recency must be between 0 and T ({self.recency} and {self.age})")
        if self.frequency == 0 and self.recency != 0:
            raise ValueError("a client with no repeat purchase has recency 0")

    @property
    def silence(self) -> float:
        """Time since the last purchase."""
        return self.age - self.recency

    @property
    def usual_gap(self) -> float | None:
        """The mean time between this client's purchases; None with a single purchase."""
        return self.recency / self.frequency if self.frequency else None


DAY_S = 86_400.0


def summary_of(order_count: int, first_order: datetime, last_order: datetime, now: datetime) -> Summary:
    """A client's summary in days from their order aggregates. Dates out of order are put in order, a last order
    in the future counts as now, so any stored facts give a summary."""
    first, last = sorted((first_order, last_order))
    age = max(0.0, (now - first).total_seconds() / DAY_S)
    recency = min(age, max(0.0, (last - first).total_seconds() / DAY_S))
    frequency = max(0, int(order_count) - 1)
    return Summary(frequency, recency if frequency else 0.0, age)


@dataclass(frozen=True)
class Parameters:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class Fit:
    variant: Variant
    parameters: Parameters
    log_likelihood: float
    clients: int
    repeat_buyers: int
    iterations: int
    converged: bool


# -- likelihood --------------------------------------------------------------------------------------------------


def _b_prime_offset(variant: Variant) -> int:
    """b' = b + x + offset: BG/NBD 0, MBG/NBD 1 (the first purchase is a chance to drop out too)."""
    return 1 if variant is Variant.MBGNBD else 0


def _has_second_term(variant: Variant, x: int) -> bool:
    return variant is Variant.MBGNBD or x > 0


def _softplus(d: float) -> tuple[float, float]:
    """log(1 + e^d) and its derivative, the logistic sigmoid; stable for any d."""
    if d > 0:
        e = math.exp(-d)
        return d + math.log1p(e), 1.0 / (1.0 + e)
    e = math.exp(d)
    return math.log1p(e), e / (1.0 + e)


def _evaluate(
    variant: Variant, params: Parameters, groups: Sequence[tuple[int, float, float, int]], gradient: bool
) -> tuple[float, tuple[float, float, float, float]]:
    """The log-likelihood of the weighted groups (x, t_x, T, count), and its gradient in (r, alpha, a, b)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    offset = _b_prime_offset(variant)
    top = max((x for x, _, _, _ in groups), default=0)
    # Per whole x: sum_{j<x} ln(r+j) (= lnG(r+x) - lnG(r)) and the beta ratio's sum_{j<x+offset}, with derivatives.
    gamma_r, d_gamma_r = [0.0], [0.0]
    beta, d_beta_a, d_beta_b = [0.0], [0.0], [0.0]
    for j in range(top + offset):
        if j < top:
            gamma_r.append(gamma_r[-1] + math.log(r + j))
            d_gamma_r.append(d_gamma_r[-1] + 1.0 / (r + j))
        beta.append(beta[-1] + math.log(b + j) - math.log(a + b + j))
        d_beta_a.append(d_beta_a[-1] - 1.0 / (a + b + j))
        d_beta_b.append(d_beta_b[-1] + 1.0 / (b + j) - 1.0 / (a + b + j))
    log_alpha, log_a = math.log(alpha), math.log(a)
    total = g_r = g_alpha = g_a = g_b = 0.0
    for x, t_x, age, count in groups:
        rx = r + x
        log_age = math.log(alpha + age)
        k = x + offset
        b_gap = b + k - 1  # b' - 1
        term = gamma_r[x] + r * log_alpha - rx * log_age + beta[k]
        share = 0.0
        if _has_second_term(variant, x):
            log_recency = math.log(alpha + t_x)
            softplus, share = _softplus(log_a - math.log(b_gap) + rx * (log_age - log_recency))
            term += softplus
        total += count * term
        if gradient:
            g_r += count * (d_gamma_r[x] + log_alpha - log_age + (share * (log_age - log_recency) if share else 0.0))
            g_alpha += count * (
                r / alpha - rx / (alpha + age)
                + (share * rx * (1.0 / (alpha + age) - 1.0 / (alpha + t_x)) if share else 0.0)
            )  # fmt: skip
            g_a += count * (d_beta_a[k] + share / a)
            g_b += count * (d_beta_b[k] - (share / b_gap if share else 0.0))
    return total, (g_r, g_alpha, g_a, g_b)


def _groups(summaries: Iterable[Summary], scale: float = 1.0) -> list[tuple[int, float, float, int]]:
    counts = Counter((s.frequency, s.recency / scale, s.age / scale) for s in summaries)
    return [(x, t_x, age, count) for (x, t_x, age), count in counts.items()]


def log_likelihood(variant: Variant, params: Parameters, summaries: Iterable[Summary]) -> float:
    """The model's log-likelihood of the clients' histories, in the summaries' own time unit."""
    return _evaluate(variant, params, _groups(summaries), gradient=False)[0]


# -- fitting -----------------------------------------------------------------------------------------------------

BOUND = math.log(1e6)  # every parameter within [1e-6, 1e6], alpha in units of the mean age
MAX_ITERATIONS = 500
GRADIENT_TOLERANCE = 1e-9


def fit(variant: Variant, summaries: Sequence[Summary], *, max_iterations: int = MAX_ITERATIONS) -> Fit:
    """The maximum-likelihood parameters for the clients' histories. Always returns: the parameters stay bounded,
    the iterations are capped, and a fit that stopped before the gradient vanished says so (converged False)."""
    if not summaries:
        raise ValueError("no clients to fit")
    clients = len(summaries)
    # times in units of the mean age: well conditioned (at least a millionth of a unit: alpha stays a positive float)
    scale = max(sum(s.age for s in summaries) / clients, 1e-6)
    groups = _groups(summaries, scale)
    repeat_buyers = sum(1 for s in summaries if s.frequency > 0)
    repeat_purchases = sum(s.frequency for s in summaries)

    def objective(theta: list[float]) -> tuple[float, list[float]]:
        params = Parameters(*(math.exp(value) for value in theta))
        try:
            value, grad = _evaluate(variant, params, groups, gradient=True)
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.inf, [0.0] * 4
        if not math.isfinite(value):
            return math.inf, [0.0] * 4
        # minimise -LL per client, in log parameters: d/d(log p) = p d/dp
        return -value / clients, [-g * p / clients for g, p in zip(grad, params.as_dict().values(), strict=True)]

    theta, iterations, converged = _bfgs(objective, [0.0, 0.0, 0.0, 0.0], max_iterations)
    scaled = [math.exp(value) for value in theta]
    params = Parameters(r=scaled[0], alpha=scaled[1] * scale, a=scaled[2], b=scaled[3])
    value = _evaluate(variant, Parameters(*scaled), groups, gradient=False)[0]
    # Back to the summaries' time unit: each repeat purchase's density scales by 1/scale.
    value -= repeat_purchases * math.log(scale)
    return Fit(variant, params, value, clients, repeat_buyers, iterations, converged)


def _bfgs(objective, start: list[float], max_iterations: int) -> tuple[list[float], int, bool]:  # type: ignore[no-untyped-def]
    """Minimise over the box [-BOUND, BOUND]^n: BFGS directions, Armijo backtracking, steps clipped to the box. A
    coordinate held at a bound by its gradient is fixed there (the projected gradient is what must vanish): some
    data's optimum is a limit, such as every client sharing one dropout probability (a, b -> infinity)."""
    n = len(start)
    theta = [min(BOUND, max(-BOUND, value)) for value in start]
    value, grad = objective(theta)

    def free(i: int, g: list[float]) -> bool:
        return not ((theta[i] >= BOUND and g[i] < 0) or (theta[i] <= -BOUND and g[i] > 0))

    def projected(g: list[float]) -> list[float]:
        return [g[i] if free(i, g) else 0.0 for i in range(n)]

    identity = [[float(i == j) for j in range(n)] for i in range(n)]
    inverse = [row[:] for row in identity]
    held: list[bool] = []
    for iteration in range(1, max_iterations + 1):
        pg = projected(grad)
        if max(abs(g) for g in pg) < GRADIENT_TOLERANCE:
            return theta, iteration - 1, True
        now_held = [not free(i, grad) for i in range(n)]
        if now_held != held:  # the curvature learnt with other coordinates free does not hold: start afresh
            inverse, held = [row[:] for row in identity], now_held
        direction = [0.0 if held[i] else -sum(inverse[i][j] * pg[j] for j in range(n)) for i in range(n)]
        slope = sum(d * g for d, g in zip(direction, pg, strict=True))
        if not slope < 0:  # not a descent direction: restart from steepest descent
            inverse = [row[:] for row in identity]
            direction, slope = [-g for g in pg], -sum(g * g for g in pg)
        step, accepted = 1.0, None
        for _ in range(40):  # down to a step of 1e-12
            trial = [min(BOUND, max(-BOUND, t + step * d)) for t, d in zip(theta, direction, strict=True)]
            trial_value, trial_grad = objective(trial)
            if trial_value <= value + 1e-4 * step * slope:
                accepted = trial, trial_value, trial_grad
                break
            step *= 0.5
        if accepted is None:  # no step improves: as close as floating point gets
            return theta, iteration, max(abs(g) for g in pg) < 1e-5
        trial, trial_value, trial_grad = accepted
        s = [0.0 if held[i] else trial[i] - theta[i] for i in range(n)]
        y = [0.0 if held[i] else trial_grad[i] - grad[i] for i in range(n)]
        sy = sum(a * b for a, b in zip(s, y, strict=True))
        improvement = value - trial_value
        theta, value, grad = trial, trial_value, trial_grad
        if sy > 1e-12:  # the BFGS update of the inverse Hessian
            hy = [sum(inverse[i][j] * y[j] for j in range(n)) for i in range(n)]
            yhy = sum(y[i] * hy[i] for i in range(n))
            for i in range(n):
                for j in range(n):
                    inverse[i][j] += ((sy + yhy) * s[i] * s[j]) / (sy * sy) - (hy[i] * s[j] + s[i] * hy[j]) / sy
        if improvement <= 1e-15 * max(1.0, abs(value)) and max(abs(g) for g in projected(grad)) < 1e-6:
            return theta, iteration, True
    return theta, max_iterations, max(abs(g) for g in projected(grad)) < GRADIENT_TOLERANCE


# -- one client --------------------------------------------------------------------------------------------------


def p_alive(variant: Variant, params: Parameters, summary: Summary) -> float:
    """The probability the client is still a client (has not dropped out), in [0, 1]."""
    x = summary.frequency
    if not _has_second_term(variant, x):
        return 1.0
    b_gap = params.b + x + _b_prime_offset(variant) - 1
    log_odds = (
        math.log(params.a) - math.log(b_gap)
        + (params.r + x) * (math.log(params.alpha + summary.age) - math.log(params.alpha + summary.recency))
    )  # fmt: skip
    if log_odds > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(log_odds))


def _tanh_sinh(step: float = 1 / 16, reach: float = 3.2) -> list[tuple[float, float, float]]:
    """Nodes (p, 1 - p, weight) of tanh-sinh quadrature on (0, 1); both ends kept exact for endpoint singularities."""
    nodes = []
    k = -int(reach / step)
    while k * step <= reach:
        t = k * step
        u = math.pi / 2 * math.sinh(t)
        # p = (1 + tanh u) / 2 = 1 / (1 + e^(-2u)); 1 - p = 1 / (1 + e^(2u)); dp/dt = (pi/2) cosh t / (2 cosh^2 u)
        p, q = 1.0 / (1.0 + math.exp(-2 * u)), 1.0 / (1.0 + math.exp(2 * u))
        weight = step * (math.pi / 2) * math.cosh(t) / (2 * math.cosh(u) ** 2)
        if p > 0 and q > 0 and weight > 0:
            nodes.append((p, q, weight))
        k += 1
    return nodes


_NODES = _tanh_sinh()


def expected_purchases(variant: Variant, params: Parameters, summary: Summary, horizon: float) -> float:
    """The expected number of purchases in the next `horizon` time units."""
    alive = p_alive(variant, params, summary)
    if horizon <= 0 or alive == 0.0:
        return 0.0
    x = summary.frequency
    rx = params.r + x
    a, b_prime = params.a, params.b + x + _b_prime_offset(variant)
    s = horizon / (params.alpha + summary.age)

    def bought(p: float) -> float:  # (1 - (1 + p s)^-(r+x)) / p, exact for small p s too
        return -math.expm1(-rx * math.log1p(p * s)) / p

    # E[f(p)] = E[line] + E[f - line], the line through f(0) = (r+x) s and f(1): the line's expectation is exact
    # (E[p] = a / (a + b')), and the rest vanishes at both ends, where a Beta with a or b' near 0 puts its mass.
    at_0, at_1 = rx * s, bought(1.0)
    line = at_0 + (at_1 - at_0) * a / (a + b_prime)
    log_norm = math.lgamma(a + b_prime) - math.lgamma(a) - math.lgamma(b_prime)
    rest = 0.0
    for p, q, weight in _NODES:
        log_density = log_norm + (a - 1) * math.log(p) + (b_prime - 1) * math.log(q)
        if log_density > -700:
            rest += weight * math.exp(min(log_density, 700.0)) * (bought(p) - at_0 - (at_1 - at_0) * p)
    return max(0.0, alive * (line + rest))


def p_buys_within(variant: Variant, params: Parameters, summary: Summary, horizon: float) -> float:
    """The probability of at least one purchase in the next `horizon`: alive, and the Poisson process not silent
    (given alive, P(no purchase in t) = E[exp(-lambda t)] = ((alpha+T)/(alpha+T+t))^(r+x))."""
    if horizon <= 0:
        return 0.0
    rx = params.r + summary.frequency
    silent = math.exp(-rx * math.log1p(horizon / (params.alpha + summary.age)))
    return p_alive(variant, params, summary) * (1.0 - silent)


def median_time_to_next(params: Parameters, summary: Summary) -> float:
    """If the client is alive, the median time from now to their next purchase."""
    rx = params.r + summary.frequency
    exponent = math.log(2) / rx
    if exponent > 50:  # a tiny rate: a huge wait, kept finite
        return math.exp(min(690.0, math.log(params.alpha + summary.age) + exponent))
    return (params.alpha + summary.age) * math.expm1(exponent)


def draw_histories(variant: Variant, params: Parameters, ages: Sequence[float], rng: random.Random) -> list[Summary]:
    """Histories drawn from the model itself, one per age: what a fit must recover its parameters from."""
    summaries = []
    for age in ages:
        rate = rng.gammavariate(params.r, 1.0 / params.alpha)
        dropout = rng.betavariate(params.a, params.b)
        x, last, now = 0, 0.0, 0.0
        alive = variant is Variant.BGNBD or rng.random() >= dropout
        while alive and rate > 0:
            now += rng.expovariate(rate)
            if now > age:
                break
            x, last = x + 1, now
            alive = rng.random() >= dropout
        summaries.append(Summary(x, last, age))
    return summaries
