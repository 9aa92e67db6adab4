"""What a run earned against buy-and-hold on the same data, by year and over its whole period.

Definitions (every figure is computed the same way for every strategy):

- **tax alpha** of a year: tax saved against buy-and-hold (its tax less the strategy's) as a
  fraction of the strategy's value at the start of the year; over a period, the mean of its years;
- **after-tax liquidation value**: value at the end less the tax of selling everything then;
  reported as the excess over buy-and-hold's, in total and per year (geometric);
- **tracking error**: annualised standard deviation of daily active returns (strategy less
  buy-and-hold, time-weighted: tax refunds and bills are external flows), ``sqrt(252)``;
  **active return**: annualised time-weighted return less buy-and-hold's;
- **harvests**: (day, security) sales that realised a net loss, and the losses they realised;
  **gains realised**: gains of the lots sold at a gain; **wash sales**: loss sales whose loss the
  wash-sale rule disallowed (the account applies it to every strategy);
- **cash drag**: mean cash weight, and the return it cost (cash weight x buy-and-hold's return).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from .simulation import Run

__all__ = ["PeriodMetrics", "period_metrics", "TRADING_DAYS"]

TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    """One strategy over one period (a year, or a cohort's whole holding period)."""

    strategy: str
    start: date
    end: date
    start_value: float
    end_value: float
    tax: float
    tax_alpha: float
    tracking_error: float
    active_return: float
    annual_return: float
    harvests: int
    losses_harvested: float
    short_term_gains: float
    long_term_gains: float
    wash_sales: int
    failed_calls: int
    decisions: int
    cash_weight: float
    cash_drag: float
    turnover: float
    after_tax_value: float | None = None
    after_tax_excess: float | None = None
    after_tax_excess_per_year: float | None = None


def _returns(run: Run) -> np.ndarray:
    v = run.values
    return (v[1:] - run.flows[1:]) / v[:-1] - 1.0


def period_metrics(
    run: Run, baseline: Run, history_dates: np.ndarray, lo: int, hi: int, *, whole: bool
) -> PeriodMetrics:
    """Metrics of ``run`` over rows ``lo..hi`` (offsets into the run), against ``baseline``.

    ``whole``: the run's entire period (adds the after-tax liquidation figures; tax alpha is the
    mean of its years).
    """
    r, rb = _returns(run), _returns(baseline)
    # Returns of days lo+1..hi (the return of day t needs the close of day t-1).
    a = slice(lo, hi)
    active = r[a] - rb[a]
    days = max(hi - lo, 1)
    te = float(np.std(active, ddof=1) * math.sqrt(TRADING_DAYS)) if len(active) > 1 else 0.0
    growth = float(np.prod(1 + r[a]))
    growth_b = float(np.prod(1 + rb[a]))
    ann = growth ** (TRADING_DAYS / days) - 1
    ann_b = growth_b ** (TRADING_DAYS / days) - 1
    cash_w = run.cash[lo:hi] / run.values[lo:hi]
    drag = float(np.mean(cash_w * rb[a]) * TRADING_DAYS) if len(cash_w) else 0.0
    start_d, end_d = (
        date.fromordinal(int(history_dates[run.rows[lo]])),
        date.fromordinal(int(history_dates[run.rows[hi]])),
    )
    execs = [e for e in run.executions if start_d < e.day <= end_d]
    loss_days: dict[tuple[date, str], float] = {}
    st_gain = lt_gain = traded = 0.0
    for e in execs:
        traded += e.quantity * e.price
        if e.side != "sell":
            continue
        key = (e.day, e.symbol)
        loss_days[key] = loss_days.get(key, 0.0) + e.gain
        if e.gain > 0:
            if e.term == "long":
                lt_gain += e.gain
            else:
                st_gain += e.gain
    losses = [g for g in loss_days.values() if g < 0]
    # A tax year counts when the period holds at least one of its trading days after its start.
    with_days = {date.fromordinal(int(d)).year for d in history_dates[run.rows[lo + 1 : hi + 1]]}
    years = [y for y in run.years if y.year in with_days]
    base_tax = {y.year: y.tax for y in baseline.years}
    alphas = [(base_tax.get(y.year, 0.0) - y.tax) / y.start_value for y in years if y.start_value > 0]
    mean_value = float(np.mean(run.values[lo : hi + 1]))
    extra = {}
    if whole:
        atv, atv_b = run.after_tax_value, baseline.after_tax_value
        n_years = days / TRADING_DAYS
        extra = {
            "after_tax_value": atv,
            "after_tax_excess": atv / atv_b - 1,
            "after_tax_excess_per_year": (atv / atv_b) ** (1 / max(n_years, 1e-9)) - 1,
        }
    return PeriodMetrics(
        strategy=run.strategy,
        start=start_d,
        end=end_d,
        start_value=float(run.values[lo]),
        end_value=float(run.values[hi]),
        tax=float(sum(y.tax for y in years)),
        tax_alpha=float(np.mean(alphas)) if alphas else 0.0,
        tracking_error=te,
        active_return=ann - ann_b,
        annual_return=ann,
        harvests=len(losses),
        losses_harvested=-float(sum(losses)),
        short_term_gains=st_gain,
        long_term_gains=lt_gain,
        wash_sales=sum(1 for w in run.wash_sales if start_d < w.day <= end_d),
        failed_calls=sum(1 for d, _ in run.failures if start_d < d <= end_d),
        decisions=run.decisions if whole else 0,
        cash_weight=float(np.mean(cash_w)) if len(cash_w) else 0.0,
        cash_drag=drag,
        turnover=traded / 2 / mean_value / (days / TRADING_DAYS) if mean_value > 0 else 0.0,
        **extra,
    )
