"""A withdrawal plan as per-account results: every sale of the plan and nothing else, cash after =
cash + proceeds - what leaves, and the accounts' estimated taxes adding up to the plan's tax cost
(random households, against the plan itself; and a worked example)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import InvalidRequest, plan_withdrawal
from rebalancing.engine.withdrawal_results import withdrawal_results

from .household_builders import household, lot, member
from .test_withdrawal import households


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.sampled_from(["withdrawal", "rmd"]))
def test_the_results_carry_exactly_the_plan(case, kind):
    request, amount, born = case
    try:
        plan = plan_withdrawal(request, amount=amount, kind=kind, birth_dates=born)
    except InvalidRequest:
        return
    results = {r.account_id: r for r in withdrawal_results(request, plan)}
    sold = sorted((a, s.lot_id, s.quantity) for a, _, s in plan.sales)
    assert sorted((r.account_id, s.lot_id, s.quantity) for r in results.values() for t in r.trades for s in t.lots) == sold
    assert all(t.side == "sell" and t.reasons == ("cash",) for r in results.values() for t in r.trades)
    assert set(results) == {a for a, _, _ in plan.sales} | {a for a, v in plan.distributions.items() if v > 0}
    accounts = {a.id: a.request.account for a in request.accounts}
    for account_id, r in results.items():
        proceeds = sum(t.value for t in r.trades)
        assert r.summary.cash_after == pytest.approx(
            accounts[account_id].cash + proceeds - plan.distributions.get(account_id, 0.0), abs=1e-6)
        assert r.summary.cash_after >= -1e-6  # never more out than the account raised
    assert sum(r.summary.estimated_tax for r in results.values()) == pytest.approx(plan.tax_cost, abs=0.01)


def test_a_worked_withdrawal_from_a_taxable_account_and_an_ira():
    # Taxable: 500 cash and a lot of 10 EQ at 100 bought for 1,200 (a 200 long-term loss);
    # IRA: 5,000 cash. Withdraw 2,000: 500 cash, the loss lot (1,000), then 500 of the IRA's cash.
    request = household(
        member("TAX", "taxable", [lot("L1", "EQ", 10, 1200)], cash=500.0),
        member("IRA", "traditional", [], cash=5000.0),
    )
    plan = plan_withdrawal(request, amount=2000.0)
    results = {r.account_id: r for r in withdrawal_results(request, plan)}
    tax_account, ira = results["TAX"], results["IRA"]
    assert [(t.symbol, t.quantity, t.realised_gain) for t in tax_account.trades] == [("EQ", 10, pytest.approx(-200))]
    assert tax_account.summary.cash_after == pytest.approx(0) and tax_account.summary.realised_long_term_loss == 200
    # With no other gain this year the net loss is deducted from ordinary income (IRC §1211(b), up
    # to $3,000): it saves tax at the ordinary rate.
    assert tax_account.summary.estimated_tax == pytest.approx(-200 * 0.37)
    assert ira.trades == () and ira.summary.cash_after == pytest.approx(4500)
    assert ira.summary.estimated_tax == pytest.approx(500 * 0.37)  # ordinary income


def test_an_iras_result_taxes_its_distribution_at_its_ordinary_rate_as_the_plan_does():
    # The IRA's rate (37%: the ordinary rate without the 3.8% NIIT, IRC §1411(c)(5)), not the taxable
    # account's 40.8%, in the plan and in the IRA's proposal alike (engine.distribution_rate)
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 10, 500)], cash=0, short_term_rate=0.408,
                     long_term_rate=0.238)
    ira = member("IRA", "traditional", [lot("i1", "EQ", 200, 10_000)], cash=10_000, short_term_rate=0.37)
    request = household(taxable, ira)
    plan = plan_withdrawal(request, amount=10_000.0, kind="rmd", account_id="IRA")
    [result] = withdrawal_results(request, plan)
    assert result.summary.estimated_tax == pytest.approx(3_700.0) == pytest.approx(plan.tax_cost)
