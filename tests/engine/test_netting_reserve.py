"""What gains can cost beyond their own rates once Schedule D nets them with the year so far
(``engine.tax.netting_reserve``), the household tax budget's set-aside: against worked returns and
against a deliberately simple reading of Schedule D searched over a grid of gains."""

import numpy as np
import pytest

from rebalancing.engine.tax import estimated_tax, netting_reserve


def _schedule_d(short, long, short_rate, long_rate, limit):
    """The year's tax, read plainly: both terms' gains at their rates; a loss on one side taken
    off the other's gain, the net taxed at the rate of the side that is left; a net loss deducted
    from ordinary income (at the short-term rate) up to the limit."""
    net = short + long
    return np.where((short >= 0) & (long >= 0), short_rate * short + long_rate * long,
                    np.where(net <= 0, -short_rate * np.minimum(-net, limit),
                             np.where(short < 0, long_rate * net, short_rate * net)))


def _reference(short, long, short_rate, long_rate, limit, reach):
    """The largest excess over every whole-dollar pair of gains added up to ``reach``."""
    added = np.arange(reach + 1, dtype=float)
    gs, gl = np.meshgrid(added, added)
    base = _schedule_d(np.float64(short), np.float64(long), short_rate, long_rate, limit)
    excess = _schedule_d(short + gs, long + gl, short_rate, long_rate, limit) - base - short_rate * gs - long_rate * gl
    return max(float(excess.max()), 0.0)


@pytest.mark.parametrize(("short", "long", "reserve"), [
    (0.0, 0.0, 0.0),            # nothing to net: each gain at its rate
    (2_000.0, 5_000.0, 0.0),    # gains on both sides already
    (-3_000.0, 0.0, 510.0),     # a carried short-term loss: the first 3,000 of long-term gain cost 37%, not 20%
    (-10_000.0, 0.0, 0.0),      # beyond the deduction a gain first uses up carryover, costing nothing this year
    (5_000.0, -3_000.0, 510.0), # a long-term loss offsetting short-term gain: long-term gain undoes it at 37%
    (-1_000.0, 0.0, 170.0),     # the deduction in use is 1,000
    (-20_000.0, 10_000.0, 0.0), # net -10,000: 7,000 of gain cost nothing, then 3,000 at 37% = 1,110 < 2,000 at 20%
])
def test_worked_returns(short, long, reserve):
    assert netting_reserve(short, long, 0.37, 0.20) == pytest.approx(reserve)


def test_a_gain_added_never_costs_more_than_its_rate_and_the_reserve_and_the_reserve_is_reached():
    rng = np.random.default_rng(20261205)
    for _ in range(300):
        short, long = (float(v) for v in rng.integers(-60, 61, size=2))
        limit = float(rng.choice([0, 7, 15, 30]))
        short_rate, long_rate = (float(v) for v in rng.choice([0.1, 0.2, 0.238, 0.37, 0.408], size=2))
        reserve = netting_reserve(short, long, short_rate, long_rate, limit)
        assert reserve == pytest.approx(_reference(short, long, short_rate, long_rate, limit, 200), abs=1e-9), (
            short, long, short_rate, long_rate, limit)
        base = estimated_tax(short, long, short_rate, long_rate, limit)
        for gs, gl in rng.uniform(0, 150, size=(20, 2)):
            cost = estimated_tax(short + gs, long + gl, short_rate, long_rate, limit) - base
            assert cost <= short_rate * gs + long_rate * gl + reserve + 1e-9
