"""A proposal that spends cash far below its target says so: the cash target is a penalty weighed
against drift (docs/engine.md, "Formulation"), so where the gains budget holds sales back the optimiser
may invest nearly all of it - a portfolio manager reading "cash target 3%" must not find $17 left
without a word. A shortfall of a quarter of the target or less (whole shares) goes unsaid."""

from dataclasses import replace

import pytest

from rebalancing.engine import CashParams, rebalance

from .seeded import model_portfolio

SAID = "below the cash target"


def _cash_words(result) -> list[str]:
    return [w for w in result.warnings if SAID in w]


@pytest.mark.parametrize("seed", [106, 118])
def test_cash_spent_far_below_its_target_under_a_binding_budget_is_said(seed):
    request = model_portfolio(seed, funds=10, n_lots=25)
    result = rebalance(request)
    s = result.summary
    line = request.parameters.cash.target * (s.market_value - s.trading_cost)
    # Given a run whose budget holds sales back and whose buys spend cash far below the target
    assert s.cash_after < s.cash_before and s.cash_after < 0.5 * line
    # Then one warning says how far, from what, and why - and what keeps cash at a level
    [words] = _cash_words(result)
    assert "while the limit on net realised gain holds sales back" in words
    assert "a cash floor keeps cash from going below a level" in words


@pytest.mark.parametrize("seed", range(100, 120))
def test_the_warning_matches_the_rule_written_plainly(seed):
    """Over the seeded small portfolios, with and without a cash floor: said exactly when cash fell and
    ended more than a quarter of the target short (the rule, restated here from its doc)."""
    for floor in (0.0, 0.02):
        request = model_portfolio(seed, funds=10, n_lots=25)
        cash = replace(request.parameters.cash, floor=floor, target=max(request.parameters.cash.target, floor))
        request = replace(request, parameters=replace(request.parameters, cash=cash))
        result = rebalance(request)
        s = result.summary
        line = result.targets["$CASH"] * (s.market_value - s.trading_cost)
        expected = s.cash_after < s.cash_before - 0.005 and line - s.cash_after > 0.25 * line + 0.005
        assert bool(_cash_words(result)) == expected, (seed, floor, s.cash_before, s.cash_after, line)
        if floor:  # a floor holds cash at its level: never far below a target at the floor
            assert s.cash_after >= floor * (s.market_value - s.trading_cost) - 0.01


def test_a_cash_target_met_is_not_said():
    request = model_portfolio(100, funds=10, n_lots=25)
    request = replace(request, parameters=replace(request.parameters, cash=CashParams(target=0.0)))
    assert not _cash_words(rebalance(request))
