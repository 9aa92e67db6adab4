"""Settling a year's tax: Schedule D netting (the engine's own rule), net losses offsetting gains
elsewhere, or $3,000 a year against income with the rest carried forward (IRC §1211(b), §1212(b))."""

import pytest

from rebalancing.backtest.errors import BacktestError
from rebalancing.backtest.taxes import Carryover, year_tax

ST, LT = 0.408, 0.238


def test_gains_are_taxed_at_their_rates_and_netted_first():
    assert year_tax(1_000, 2_000, ST, LT)[0] == pytest.approx(1_000 * ST + 2_000 * LT)
    # a short-term loss offsets a long-term gain before anything is taxed (Schedule D)
    assert year_tax(-500, 2_000, ST, LT)[0] == pytest.approx(1_500 * LT)


def test_offset_values_a_net_loss_at_its_rate():
    tax, carry = year_tax(-1_000, -400, ST, LT, "offset")
    assert tax == pytest.approx(-(1_000 * ST + 400 * LT))
    assert carry == Carryover()


def test_carry_forward_deducts_3000_and_carries_the_rest_short_term_first():
    tax, carry = year_tax(-5_000, -2_000, ST, LT, "carry_forward")
    assert tax == pytest.approx(-3_000 * ST)
    # §1212(b): the $3,000 comes out of the short-term loss first
    assert carry == Carryover(short_term=2_000, long_term=2_000)
    # next year the carried losses offset gains of their own character first
    tax2, carry2 = year_tax(1_000, 10_000, ST, LT, "carry_forward", carry)
    assert tax2 == pytest.approx((10_000 - 2_000 - 1_000) * LT) and carry2 == Carryover()


def test_an_unknown_loss_treatment_is_refused():
    with pytest.raises(BacktestError, match="losses"):
        year_tax(0, 0, ST, LT, "refund")
