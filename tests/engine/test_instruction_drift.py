"""The drift an instruction's proposal reports is measured against the account's model.

Found in the demo (2026-12-06 browser audit): ACM-000007 showed "Drift (latest proposal) 8.6%";
the advisor's "Sell VNQ, buy VOO" made a proposal reading "Drift before -> after 13.0% -> 0.0%" on
the same holdings, because the drift was measured against the targets the instruction had moved
(VNQ's target handed to VOO). The account page then read 13.0%. An instruction changes what this
solve aims at, not what the account is measured against: before is what a plain proposal finds,
after is how far the instruction's trades leave the account from its model.
"""

import pytest

from rebalancing.engine import Instruction, rebalance

from .builders import funds, lot, model, request, trades_by_symbol, with_params

SECURITIES = funds(EQ=100, EQ2=100, BD=100, RE=100)


def _request():
    # EQ 45%, BD 45%, RE 10% on a 50/40/10 model: 5 points in the wrong place
    lots = [lot("E", "EQ", 45, 4_500), lot("B", "BD", 45, 4_500), lot("R", "RE", 10, 1_000)]
    return request(lots, SECURITIES, model(EQ=0.5, BD=0.4, RE=0.1))


def test_sell_and_buy_reports_the_drift_from_the_model():
    plain = rebalance(_request())
    result = rebalance(with_params(_request(), instructions=(Instruction("sell_buy", sell="RE", buy="EQ"),)))

    assert trades_by_symbol(result) == {"RE": ("sell", 10.0), "BD": ("sell", 5.0), "EQ": ("buy", 15.0)}
    # before: what a plain proposal on the same holdings finds (was 15%: RE's 10% target moved to EQ)
    assert plain.summary.drift_before == pytest.approx(0.05)
    assert result.summary.drift_before == pytest.approx(plain.summary.drift_before)
    # after: EQ 60% and RE 0% against 50% and 10% (was 0%: measured against the moved targets)
    assert result.summary.drift_after == pytest.approx(0.10)


def test_raising_cash_and_liquidating_report_the_drift_from_the_model():
    lots = [lot("E", "EQ", 60, 6_000), lot("B", "BD", 40, 4_000)]
    req = request(lots, SECURITIES, model(EQ=0.6, BD=0.4))

    raised = rebalance(with_params(req, instructions=(Instruction("raise_cash", amount=2_000.0),)))
    # on its model before (was 20%: against a 20% cash target); 20% in cash after
    assert raised.summary.drift_before == pytest.approx(0.0, abs=1e-12)
    assert raised.summary.drift_after == pytest.approx(0.20)

    sold = rebalance(with_params(req, instructions=(Instruction("liquidate"),)))
    assert sold.summary.drift_before == pytest.approx(0.0, abs=1e-12)
    assert sold.summary.drift_after == pytest.approx(1.0)
