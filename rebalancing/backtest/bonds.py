"""A stated bond series for the household backtest: the bundled data has stock prices only.

The series is a 10-year US Treasury held at constant maturity (rolled daily), built from yields:

- **Yields**: the annual averages of the 10-year Treasury constant-maturity yield (Federal Reserve
  H.15, FRED series ``GS10``) for 1990-2022, entered by hand to two decimals below (the machines
  reach no data service).  Cross-checked where a published copy was at hand: the means of the
  FDIC's quarterly figures for the same series (one decimal, 1990-1995) agree within 0.03 points,
  and a published annual table gives the same 2018-2020 values; the rest are unchecked.  Each year's average
  sits on July 1; the days between are interpolated linearly, flat before the first and after
  the last.  So the series follows the level of rates and its big moves (1994, 1999, 2008-2012,
  2022), not their day-to-day noise: **its volatility is understated** (0.5%/yr measured on
  its daily returns 1990-2022, against the 6-8%/yr of a real 10-year note); its return is about
  right (5.7%/yr 1990-2022).
- **Total return** of a day: the coupon accrued at yesterday's yield (``y dt``, a par bond's
  coupon equals its yield) plus the price change ``-D (y_today - y_yesterday)``, with ``D`` the
  modified duration of a 10-year semi-annual par bond at yesterday's yield.  Convexity is left out.
- **Tax**: the coupon is interest, taxed as ordinary income in the year it accrues when held in a
  taxable account (IRC §61(a)(4)); reinvested, it adds to the basis.  The price change is a
  capital gain or loss when sold.  ``income`` gives the coupon per unit of value, day by day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from .errors import BacktestError

__all__ = ["TREASURY_10Y", "BondSeries", "bond_series", "BOND_SYMBOL"]

BOND_SYMBOL = "UST10"
MATURITY_YEARS = 10

# Annual averages, percent (H.15 / FRED GS10).
TREASURY_10Y = {
    1990: 8.55, 1991: 7.86, 1992: 7.01, 1993: 5.87, 1994: 7.09, 1995: 6.57, 1996: 6.44, 1997: 6.35,
    1998: 5.26, 1999: 5.65, 2000: 6.03, 2001: 5.02, 2002: 4.61, 2003: 4.01, 2004: 4.27, 2005: 4.29,
    2006: 4.80, 2007: 4.63, 2008: 3.66, 2009: 3.26, 2010: 3.22, 2011: 2.78, 2012: 1.80, 2013: 2.35,
    2014: 2.54, 2015: 2.14, 2016: 1.84, 2017: 2.33, 2018: 2.91, 2019: 2.14, 2020: 0.89, 2021: 1.45,
    2022: 2.95,
}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class BondSeries:
    """On the price history's days: ``price`` (total-return index, 100 on the first day),
    ``yields`` (fraction) and ``income`` (coupon accrued that day per unit of yesterday's value)."""

    price: np.ndarray
    yields: np.ndarray
    income: np.ndarray


def modified_duration(y: np.ndarray, years: int = MATURITY_YEARS) -> np.ndarray:
    """Modified duration of a semi-annual par bond of ``years`` at yield ``y`` (fraction)."""
    y = np.maximum(y, 1e-6)
    return (1 - (1 + y / 2) ** (-2 * years)) / y


def bond_series(dates: np.ndarray, yields: dict[int, float] | None = None) -> BondSeries:
    """The constant-maturity total-return series on ``dates`` (ordinals, ascending)."""
    table = yields or TREASURY_10Y
    years = sorted(table)
    first, last = date.fromordinal(int(dates[0])).year, date.fromordinal(int(dates[-1])).year
    if first < years[0] or last > years[-1]:
        raise BacktestError(f"the bond yields cover {years[0]}-{years[-1]}; the prices run {first}-{last}")
    anchors = np.array([date(y, 7, 1).toordinal() for y in years], dtype=float)
    y = np.interp(dates.astype(float), anchors, np.array([table[k] for k in years]) / 100)
    dt = np.diff(dates.astype(float)) / 365.0
    income = np.concatenate([[0.0], y[:-1] * dt])
    price_change = np.concatenate([[0.0], -modified_duration(y[:-1]) * np.diff(y)])
    price = 100.0 * np.cumprod(1.0 + income + price_change)
    return BondSeries(price, y, income)
