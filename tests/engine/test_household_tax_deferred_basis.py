"""A tax-deferred account's sales in a household proposal are reported at the lots' true basis (as
the account's own proposal reports them), while its solve still sees the lots at market value: the
trades are those of that solve and its tax estimate stays 0 (an IRA's or Roth's sales realise
nothing for tax, IRC §408(e)(1), §408A(a))."""

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from rebalancing.engine import (
    Account,
    CashParams,
    HouseholdAccount,
    HouseholdRequest,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    WashSaleParams,
    rebalance_household,
)

from .builders import AS_OF
from .household_builders import household, lot, member


def _account(result, account_id):
    return next(r for r in result.accounts if r.account_id == account_id)


def test_an_ira_lot_sold_in_a_household_proposal_shows_its_true_basis_and_loss_and_no_tax():
    # Given a household whose IRA holds lot L1, 658 EQ (price 100) bought for 138,697.11, and whose
    # placement moves part of the IRA's equity into bonds
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 300, 15_000), lot("t2", "BD", 200, 8_000)])
    ira = member("IRA", "traditional", [lot("L1", "EQ", 658, 138_697.11), lot("L2", "BD", 100, 4_000)])
    # When the household is rebalanced as one
    result = rebalance_household(household(taxable, ira))
    # Then the IRA sells 293 of L1's 658 shares, at 293/658 of its basis: 61,760.26, a loss of
    # 32,460.26 (long-term) - not at its proceeds with no gain
    sale = _account(result, "IRA").trades[0]
    assert (sale.symbol, sale.side, sale.quantity) == ("EQ", "sell", 293.0)
    (ls,) = sale.lots
    assert ls.proceeds == pytest.approx(29_300.0)
    assert ls.cost_basis == pytest.approx(138_697.11 * 293 / 658)
    assert round(ls.cost_basis, 2) == 61_760.26
    assert ls.gain == pytest.approx(29_300.0 - 61_760.26, abs=0.01)
    assert ls.term == "long"
    assert sale.realised_gain == pytest.approx(ls.gain)
    summary = _account(result, "IRA").summary
    assert summary.realised_long_term_loss == pytest.approx(32_460.26, abs=0.01)
    assert summary.realised_long_term_gain == 0 and summary.realised_short_term_loss == 0
    assert summary.net_realised_gain == pytest.approx(-32_460.26, abs=0.01)
    # and no tax: neither the IRA's estimate nor the household's
    assert summary.estimated_tax == 0
    assert summary.harvested_losses == 0
    assert result.tax_cost == 0


def test_a_roth_lot_sold_at_a_gain_shows_the_gain_and_no_tax():
    # Given the household of three: the IRA's EQ lot i1 (100 at price 100) bought for 12,000, and
    # a Roth with the same lot bought for 6,000
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 300, 15_000), lot("t2", "BD", 200, 8_000)])
    roth = member("ROTH", "roth", [lot("r1", "EQ", 100, 6_000), lot("r2", "BD", 200, 9_000)])
    # When rebalanced as one, with the Roth told to move its equity to bonds
    ira = member("IRA", "traditional", [lot("i1", "EQ", 100, 12_000), lot("i2", "BD", 200, 9_000)])
    result = rebalance_household(household(taxable, ira, roth))
    # Then every tax-deferred sale reports lot basis and gain at the lot's own basis
    basis = {"i1": 12_000 / 100, "i2": 9_000 / 200, "r1": 6_000 / 100, "r2": 9_000 / 200}
    sold = [ls for a in ("IRA", "ROTH") for t in _account(result, a).trades for ls in t.lots]
    assert sold
    for ls in sold:
        assert ls.cost_basis == pytest.approx(basis[ls.lot_id] * ls.quantity)
        assert ls.gain == pytest.approx(ls.proceeds - ls.cost_basis)
    assert all(_account(result, a).summary.estimated_tax == 0 for a in ("IRA", "ROTH"))


# --- the trades do not change: the solve sees market value whatever the basis ---------------------

SYMBOLS = ("A", "B", "C", "D")
CLASSES = {"A": "equity", "B": "equity", "C": "bonds", "D": "bonds"}


def seeded_household(seed: int) -> HouseholdRequest:
    """A random household of 2-4 accounts (one taxable, one IRA or Roth at least), lots at gains and
    losses, from ``seed``."""
    rng = random.Random(seed)
    prices = {s: float(rng.randint(5, 300)) for s in SYMBOLS}
    securities = tuple(Security(s, prices[s], CLASSES[s]) for s in SYMBOLS)
    eq = rng.choice((0.4, 0.6, 0.8))
    model = Model("m", (Sleeve("equity", eq, {"A": 0.5, "B": 0.5}), Sleeve("bonds", 1 - eq, {"C": 0.6, "D": 0.4})))
    statuses = ["taxable", rng.choice(("traditional", "roth")),
                *rng.sample(("taxable", "traditional", "roth"), rng.randint(0, 2))]
    members = []
    for k, status in enumerate(statuses):
        lots = tuple(
            TaxLot(f"{k}L{n}", s, float(q), round(q * prices[s] * rng.uniform(0.5, 1.6), 2),
                   AS_OF - timedelta(days=rng.randint(1, 1500)))
            for n in range(rng.randint(1, 6))
            for s, q in [(rng.choice(SYMBOLS), rng.randint(1, 200))]
        )
        params = Parameters(
            wash_sale=WashSaleParams(equivalent_groups=(("A", "B"),)),
            cash=CashParams(target=rng.choice((0.0, 0.02))),
            trading=TradingParams(whole_shares=rng.random() < 0.5, trading_cost_bps=rng.choice((0.0, 5.0))),
        )
        account = Account(f"A{k}", float(rng.randint(0, 20_000)), lots=lots, taxable=status == "taxable")
        members.append(HouseholdAccount(RebalanceRequest(AS_OF, account, securities, model, params), status))
    return HouseholdRequest("H", AS_OF, model, securities, tuple(members))


def at_market_value(request: HouseholdRequest) -> HouseholdRequest:
    """``request`` with every tax-deferred lot's basis set to its market value (what its solve sees)."""
    prices = {s.symbol: s.price for s in request.securities}
    accounts = []
    for a in request.accounts:
        if a.tax_status != "taxable":
            acct = a.request.account
            lots = tuple(replace(lot, cost_basis=lot.quantity * prices[lot.symbol]) for lot in acct.lots)
            a = replace(a, request=replace(a.request, account=replace(acct, lots=lots)))
        accounts.append(a)
    return replace(request, accounts=tuple(accounts))


def trade_key(result):
    """Every trade's account, security, side and quantity, and its lots' quantities and proceeds."""
    return tuple(
        (r.account_id, tuple((t.symbol, t.side, t.quantity, tuple((ls.lot_id, ls.quantity, ls.proceeds) for ls in t.lots))
                             for t in r.trades))
        for r in result.accounts
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_trades_are_those_the_solve_chose_at_market_value_and_only_the_basis_reported_differs(seed):
    # Given a seeded household, and the same household with its IRA and Roth lots at market value
    request = seeded_household(seed)
    # When both are rebalanced
    result = rebalance_household(request)
    at_market = rebalance_household(at_market_value(request))
    # Then the trades, their lots, the estimates and the taxable accounts' results are identical
    assert trade_key(result) == trade_key(at_market)
    assert result.tax_cost == at_market.tax_cost
    for a, r, m in zip(request.accounts, result.accounts, at_market.accounts, strict=True):
        assert r.summary.estimated_tax == m.summary.estimated_tax
        if a.tax_status == "taxable":
            assert replace(r, diagnostics=None) == replace(m, diagnostics=None)  # timings apart
            continue
        assert r.summary.estimated_tax == 0
        # and each tax-deferred lot sold reports its true share of basis (at market value: no gain)
        lots = {lot.id: lot for lot in a.request.account.lots}
        for t, tm in zip(r.trades, m.trades, strict=True):
            for ls, lm in zip(t.lots, tm.lots, strict=True):
                lot = lots[ls.lot_id]
                assert ls.cost_basis == pytest.approx(lot.cost_basis * ls.quantity / lot.quantity)
                assert ls.gain == pytest.approx(ls.proceeds - ls.cost_basis, abs=1e-6)
                assert lm.gain == 0
            assert t.realised_gain == pytest.approx(sum(ls.gain for ls in t.lots), abs=1e-6)
