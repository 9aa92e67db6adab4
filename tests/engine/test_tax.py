"""Holding period, netting and estimated tax (IRS Pub. 550, IRC §1222)."""

from datetime import date

import numpy as np
import pytest

from rebalancing.engine.tax import (
    estimated_tax,
    incremental_tax,
    is_long_term,
    long_term_mask,
    net_gains,
    term,
)


@pytest.mark.parametrize(
    ("acquired", "sold", "expected"),
    [
        (date(2023, 1, 5), date(2024, 1, 5), False),  # exactly one year: still short-term
        (date(2023, 1, 5), date(2024, 1, 6), True),  # more than one year
        (date(2024, 2, 29), date(2025, 2, 28), False),
        (date(2024, 2, 29), date(2025, 3, 1), True),
        (date(2025, 6, 1), date(2025, 6, 30), False),
    ],
)
def test_long_term_means_held_more_than_one_year(acquired, sold, expected):
    # given a lot acquired on `acquired`, when it is sold on `sold`, then the term follows Pub. 550
    assert is_long_term(acquired, sold) is expected
    assert term(acquired, sold) == ("long" if expected else "short")


def test_vectorised_term_matches_the_scalar_rule():
    # given acquisition dates around the one-year boundary, including leap days
    sold = date(2025, 3, 1)
    days = [date(2024, 2, 27), date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2020, 1, 1)]
    ordinals = np.array([d.toordinal() for d in days])
    # when classified in bulk, then it agrees with the scalar rule lot by lot
    assert long_term_mask(ordinals, sold).tolist() == [is_long_term(d, sold) for d in days]


def test_netting_offsets_a_short_term_loss_against_long_term_gains():
    # given a net short-term loss and a larger long-term gain
    result = net_gains(-3_000.0, 10_000.0)
    # then the loss reduces the long-term gain
    assert result.short_term == 0.0
    assert result.long_term == pytest.approx(7_000.0)


def test_net_capital_loss_deducts_at_most_3000_from_ordinary_income():
    # given net losses on both sides
    result = net_gains(-2_000.0, -5_000.0)
    # then only $3,000 is deducted this year
    assert result.ordinary_deduction == 3_000.0
    assert estimated_tax(-2_000.0, -5_000.0, 0.37, 0.20) == pytest.approx(-3_000.0 * 0.37)


def test_estimated_tax_uses_the_rate_of_each_term():
    assert estimated_tax(1_000.0, 2_000.0, 0.37, 0.20) == pytest.approx(370.0 + 400.0)


def test_incremental_tax_nets_with_gains_realised_earlier_in_the_year():
    # given $5,000 of long-term gains already realised this year
    # when this run realises a $2,000 short-term loss
    extra = incremental_tax(0.0, 5_000.0, -2_000.0, 0.0, 0.37, 0.20)
    # then the loss offsets long-term gains: the year's tax falls by 2,000 x 20%
    assert extra == pytest.approx(-400.0)


def test_a_loss_carried_forward_nets_against_the_proposals_gains_first():
    import pytest

    from rebalancing.engine import rebalance

    from .builders import funds, lot, model, request

    # A long-held EQ lot sold to buy BD realises a 10,000 long-term gain (100 x 150 - 5,000).
    lots = [lot("L1", "EQ", 100, 5000.0)]
    plain = rebalance(request(lots, funds(EQ=150.0, BD=100.0), model(BD=1.0), cash=0.0))
    assert plain.summary.estimated_tax > 0
    carried = rebalance(request(lots, funds(EQ=150.0, BD=100.0), model(BD=1.0), cash=0.0,
                                loss_carryforward_long=plain.summary.net_realised_gain))
    # The gain is absorbed by the loss carried in from earlier years: it costs no capital-gains tax,
    # only the $3,000 of ordinary income that loss would have offset this year (IRC §1211(b)).
    assert carried.summary.net_realised_gain == plain.summary.net_realised_gain
    assert plain.summary.estimated_tax == pytest.approx(plain.summary.net_realised_gain * 0.20)
    assert carried.summary.estimated_tax == pytest.approx(3000 * 0.37)


def test_a_negative_carryforward_is_refused():
    import pytest

    from rebalancing.engine import Account, InvalidRequest

    with pytest.raises(InvalidRequest, match="loss_carryforward_short"):
        Account("T", 0.0, loss_carryforward_short=-1.0)
