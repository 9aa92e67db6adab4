"""A proposal above both tax limits: the alert's amount is the largest excess, not their sum (the two
limits measure the same gains), and the per-year words give the year's net gains with it."""


import pytest

from rebalancing.engine import Instruction, TransitionParams, rebalance
from rebalancing.models import Alert
from rebalancing.services.runs import _alerts
from tests.engine.builders import funds, lot, model, request, with_params


def test_the_tax_limit_alert_counts_the_largest_excess_once():
    # Given 6,000 of long-term gain to realise (liquidate), 8,000 realised so far this year, limits of
    # 1,000 a run and 5,000 a year: 5,000 over the first, 9,000 over the second (8,000 + 6,000 - 5,000)
    req = request([lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 1_000)], funds(EQ=100, BD=100),
                  model(EQ=0.6, BD=0.4), realised_long_term_ytd=8_000.0)
    req = with_params(req, instructions=(Instruction("liquidate"),),
                      transition=TransitionParams(max_net_gain_per_run=1_000.0, max_net_gain_per_year=5_000.0))
    result = rebalance(req)
    engine_alerts = [a for a in result.alerts if a.code == "tax_limit_exceeded"]
    assert sorted(a.amount for a in engine_alerts) == [5_000.0, 9_000.0]
    assert any("the year's net gains would be $14,000.00 ($8,000.00 so far), above the per year limit of "
               "$5,000.00" in a.message for a in engine_alerts)

    # When the run writes its alerts
    [limit] = [a for a in _alerts(None, 1, result) if a.kind == Alert.Kind.TAX_LIMIT]

    # Then the amount is the largest excess (their sum, 14,000, counted the proposal's gains twice)
    assert limit.amount == pytest.approx(9_000.0)
