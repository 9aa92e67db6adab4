"""Capital-gains tax: holding period, netting, estimated tax.

Sources: IRC §1222 and IRS Publication 550 ("Capital Gains and Losses"): a gain or loss is
long-term when the asset was held *more than one year*; the holding period starts the day after
acquisition and includes the day of sale.  Netting follows Schedule D / Pub. 550: short-term and
long-term results are netted separately, then a net loss on one side offsets a net gain on the
other; a remaining net capital loss offsets at most $3,000 of ordinary income a year
(IRC §1211(b)), the rest is carried forward (not valued here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

__all__ = [
    "ORDINARY_LOSS_LIMIT",
    "long_term_from",
    "is_long_term",
    "term",
    "long_term_mask",
    "replacement_start",
    "NetGains",
    "net_gains",
    "estimated_tax",
    "incremental_tax",
]

ORDINARY_LOSS_LIMIT = 3000.0


def long_term_from(acquired: date) -> date:
    """The first day a sale of a lot acquired on ``acquired`` is long-term.

    The holding period is counted in calendar months from the day after the acquisition, the sale
    day included (Pub. 550: "start counting on the date after the day you acquired the property";
    Rev. Rul. 66-7, 1966-1 C.B. 188: by calendar months, not days; Rev. Rul. 70-598): the twelfth
    month ends the day before the same date a year after the count began, so the lot is held more
    than one year from that date on. A lot bought 2023-01-05 is long-term from 2024-01-06.
    Property acquired on the last day of a month must be held until the first day of the
    thirteenth month after it (Rev. Rul. 66-7): bought 2023-02-28, its twelfth month ends
    2024-02-29 and it is long-term from 2024-03-01. A count begun on 29 February starts its
    thirteenth month on 1 March of a common year (bought 2024-02-28: long-term from 2025-03-01).
    """
    start = acquired + timedelta(days=1)
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February in a common year: that month's 29th is its 1 March
        return date(start.year + 1, 3, 1)


def is_long_term(acquired: date, sold: date) -> bool:
    """True if a sale on ``sold`` of a lot acquired on ``acquired`` is long-term (held more than
    one year, IRC §1222): on or after ``long_term_from(acquired)``."""
    return sold >= long_term_from(acquired)


def term(acquired: date, sold: date) -> str:
    """``"long"`` or ``"short"`` for a sale on ``sold``."""
    return "long" if is_long_term(acquired, sold) else "short"


def replacement_start(purchased: date, sold: date, sold_start: date) -> date:
    """Where a wash sale's replacement share's holding period starts (as an acquisition day, like
    ``long_term_from``'s): IRC §1223(3) adds the sold share's holding period (which started on
    ``sold_start``) to the replacement's, a day held as both counting once (Pub. 550, "Wash
    Sales"). Bought on or after the sale (``sold``), the sold share's days come before its own:
    they start that many days before its purchase. Bought before the sale, the two periods
    overlap: it starts where the earlier of them did."""
    if purchased >= sold:
        return purchased - timedelta(days=(sold - sold_start).days)
    return min(purchased, sold_start)


def _latest_long_term_acquisition(sold: date) -> date:
    """The last acquisition day whose lot is long-term when sold on ``sold`` (``long_term_from``
    never decreases as the acquisition day moves later, so the lots long-term on a day are those
    acquired up to one day)."""
    day = date.fromordinal(sold.toordinal() - 368)  # long-term by more than a day: a year is <= 366
    while long_term_from(day + timedelta(days=1)) <= sold:
        day += timedelta(days=1)
    return day


def long_term_mask(acquired_ordinals: np.ndarray, sold: date) -> np.ndarray:
    """Vectorised ``is_long_term`` over acquisition dates given as ``date.toordinal()`` values."""
    if len(acquired_ordinals) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(acquired_ordinals) <= _latest_long_term_acquisition(sold).toordinal()


@dataclass(frozen=True, slots=True)
class NetGains:
    """Result of netting: net short-term, net long-term, and the ordinary-income deduction."""

    short_term: float
    long_term: float
    ordinary_deduction: float


def net_gains(short_term: float, long_term: float, loss_limit: float = ORDINARY_LOSS_LIMIT) -> NetGains:
    """Net short- and long-term results against each other (Schedule D order).

    A net loss on one side reduces a net gain on the other; what remains negative on both is a
    net capital loss, of which at most ``loss_limit`` is deducted from ordinary income.
    """
    st, lt = float(short_term), float(long_term)
    if st < 0 < lt:
        lt, st = lt + st, 0.0
        if lt < 0:
            st, lt = lt, 0.0
    elif lt < 0 < st:
        st, lt = st + lt, 0.0
        if st < 0:
            lt, st = st, 0.0
    deduction = 0.0
    if st <= 0 and lt <= 0:
        deduction = min(loss_limit, -(st + lt))
        return NetGains(min(st, 0.0), min(lt, 0.0), deduction)
    return NetGains(st, lt, 0.0)


def estimated_tax(short_term: float, long_term: float, short_rate: float, long_rate: float,
                  loss_limit: float = ORDINARY_LOSS_LIMIT) -> float:
    """Tax on a year's net capital result; negative when a net loss reduces ordinary income.

    Short-term gains are taxed at ``short_rate`` (ordinary income), long-term at ``long_rate``; a
    net loss reduces ordinary income by at most ``loss_limit`` (an account's share of its return's).
    """
    n = net_gains(short_term, long_term, loss_limit)
    if n.ordinary_deduction > 0:
        return -n.ordinary_deduction * short_rate
    return max(n.short_term, 0.0) * short_rate + max(n.long_term, 0.0) * long_rate


def incremental_tax(
    ytd_short: float, ytd_long: float, run_short: float, run_long: float, short_rate: float, long_rate: float,
    loss_limit: float = ORDINARY_LOSS_LIMIT,
) -> float:
    """Extra tax for the year caused by this run's gains, given what was realised so far."""
    before = estimated_tax(ytd_short, ytd_long, short_rate, long_rate, loss_limit)
    after = estimated_tax(ytd_short + run_short, ytd_long + run_long, short_rate, long_rate, loss_limit)
    return after - before
