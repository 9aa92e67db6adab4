"""A loss carried forward lives through a year without sales (``--losses carry_forward``): that year
still takes 3,000 of it off ordinary income and carries the rest on (IRC §1211(b), §1212(b); Pub. 550,
"Capital Loss Carryover"). A year with no sale used to drop the whole carryover, so a later gain was
taxed in full: the naive harvester, which sells only some years, was charged for it."""

from datetime import date, timedelta

import numpy as np
import pytest

from rebalancing.backtest.prices import PriceHistory
from rebalancing.backtest.simulation import Settings, simulate
from rebalancing.backtest.strategies import Orders, Strategy
from rebalancing.backtest.taxes import year_tax


def _history(price) -> PriceHistory:
    days, d = [], date(2010, 12, 1)
    while d <= date(2014, 12, 31):
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    closes = np.array([[price(s, d) for s in ("A", "B")] for d in days], dtype=float)
    return PriceHistory(np.array([d.toordinal() for d in days]), ("A", "B"), closes, {"A": None, "B": None})


class _Script(Strategy):
    name, label = "script", "Script"

    def __init__(self, plan):
        self.plan = plan

    def decide(self, account, market):
        symbol = self.plan.get(market.day)
        if symbol is None:
            return Orders()
        return Orders(sells=tuple((lot.id, lot.quantity) for lot in account.lots.values() if lot.symbol == symbol))


def test_a_year_without_sales_keeps_the_loss_carried_forward():
    # A falls from 100 to 50 (sold in June 2011: a 250,000 short-term loss); nothing is sold in 2012;
    # B, up from 100 to 150, is sold in June 2013 (a 250,000 long-term gain)
    history = _history(lambda s, d: (100.0 if d < date(2011, 6, 1) else 50.0) if s == "A"
                       else (100.0 if d < date(2013, 3, 1) else 150.0))
    first, last = history.row_on_or_before(date(2010, 12, 31)), history.row_on_or_before(date(2014, 12, 31))
    month_ends = [history.day(r) for r in history.month_ends(first + 1, last - 1)]
    sell_a = next(d for d in month_ends if (d.year, d.month) == (2011, 6))
    sell_b = next(d for d in month_ends if (d.year, d.month) == (2013, 6))
    settings = Settings(amount=1_000_000, losses="carry_forward")

    run = simulate(_Script({sell_a: "A", sell_b: "B"}), history, settings, first, last, np.array([0.5, 0.5]))

    # by hand: 3,000 deducted in 2011 and again in 2012 (no sale), the rest offsets 2013's gain
    rates = (settings.short_term_rate, settings.long_term_rate, "carry_forward")
    tax_2011, carried = year_tax(-250_000.0, 0.0, *rates)
    tax_2012, carried = year_tax(0.0, 0.0, *rates, carried)
    tax_2013, _ = year_tax(0.0, 250_000.0, *rates, carried)
    taxes = {y.year: y.tax for y in run.years}
    assert (taxes[2011], taxes[2012], taxes[2013]) == pytest.approx((tax_2011, tax_2012, tax_2013))
    assert tax_2012 == pytest.approx(-3_000 * settings.short_term_rate)
    assert tax_2013 == pytest.approx((250_000 - 244_000) * settings.long_term_rate)
