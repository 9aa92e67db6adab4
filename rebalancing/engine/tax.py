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
from datetime import date

import numpy as np

__all__ = [
    "ORDINARY_LOSS_LIMIT",
    "anniversary",
    "is_long_term",
    "term",
    "long_term_mask",
    "anniversary_back",
    "NetGains",
    "net_gains",
    "estimated_tax",
    "incremental_tax",
]

ORDINARY_LOSS_LIMIT = 3000.0


def anniversary(acquired: date) -> date:
    """The first anniversary of ``acquired`` (Feb 29 maps to Feb 28 of the next year)."""
    try:
        return acquired.replace(year=acquired.year + 1)
    except ValueError:
        return acquired.replace(year=acquired.year + 1, day=28)


def is_long_term(acquired: date, sold: date) -> bool:
    """True if a sale on ``sold`` of a lot acquired on ``acquired`` is long-term (held > 1 year).

    Pub. 550: held more than one year means sold after the first anniversary of the acquisition
    (a lot bought 2023-01-05 is long-term from 2024-01-06 on).
    """
    return sold > anniversary(acquired)


def term(acquired: date, sold: date) -> str:
    """``"long"`` or ``"short"`` for a sale on ``sold``."""
    return "long" if is_long_term(acquired, sold) else "short"


def long_term_mask(acquired_ordinals: np.ndarray, sold: date) -> np.ndarray:
    """Vectorised ``is_long_term`` over acquisition dates given as ``date.toordinal()`` values."""
    if len(acquired_ordinals) == 0:
        return np.zeros(0, dtype=bool)
    # A lot is long-term iff acquired before the sale date's "one year ago" day, i.e. iff its
    # anniversary falls strictly before the sale date.  Computing the cut-off once keeps this
    # vectorised; leap days are handled by the exact check on the few lots near the cut-off.
    cutoff = anniversary_back(sold).toordinal()
    mask = acquired_ordinals < cutoff
    near = (np.abs(acquired_ordinals - cutoff) <= 2).nonzero()[0]
    for i in near:
        mask[i] = is_long_term(date.fromordinal(int(acquired_ordinals[i])), sold)
    return mask


def anniversary_back(sold: date) -> date:
    """The same day one year before ``sold`` (Feb 29 maps to Feb 28)."""
    try:
        return sold.replace(year=sold.year - 1)
    except ValueError:
        return sold.replace(year=sold.year - 1, day=28)


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


def estimated_tax(short_term: float, long_term: float, short_rate: float, long_rate: float) -> float:
    """Tax on a year's net capital result; negative when a net loss reduces ordinary income.

    Short-term gains are taxed at ``short_rate`` (ordinary income), long-term at ``long_rate``.
    """
    n = net_gains(short_term, long_term)
    if n.ordinary_deduction > 0:
        return -n.ordinary_deduction * short_rate
    return max(n.short_term, 0.0) * short_rate + max(n.long_term, 0.0) * long_rate


def incremental_tax(
    ytd_short: float, ytd_long: float, run_short: float, run_long: float, short_rate: float, long_rate: float
) -> float:
    """Extra tax for the year caused by this run's gains, given what was realised so far."""
    before = estimated_tax(ytd_short, ytd_long, short_rate, long_rate)
    after = estimated_tax(ytd_short + run_short, ytd_long + run_long, short_rate, long_rate)
    return after - before
