"""The Capital Loss Carryover Worksheet's taxable-income test in a proposal's estimated tax (IRC
§1211(b), §1212(b)(2); the Schedule D instructions' worksheet, lines 1-4): a net loss's deduction
saves tax only as far as the return's taxable income absorbs it (line 4); the rest is carried and
not valued this year. Worked examples against the ledger's Schedule D (``deduction_used``), and
random returns against a deliberately simple worksheet written here."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import Account, InvalidRequest, TaxReturn, run_tax
from rebalancing.engine.serialization import request_from_dict, request_to_dict
from rebalancing.engine.tax import RunTax, deduction_used, netting_reserve
from rebalancing.ledger.schedule_d import ScheduleD

from .builders import EXAMPLES

ST, LT = 0.37, 0.238


def worksheet_line_4(taxable_income: float | None, deduction: float) -> float:
    """Lines 1-4 as printed: line 1 the taxable income (a loss negative), line 2 the deduction,
    line 3 lines 1 + 2 (0 if zero or less), line 4 the smaller of lines 2 and 3. Not entered: the
    whole deduction (the product's reading of an unknown income)."""
    if taxable_income is None:
        return deduction
    line_1, line_2 = taxable_income, deduction
    line_3 = line_1 + line_2
    if line_3 <= 0:
        line_3 = 0.0
    return min(line_2, line_3)


def year_tax(short: float, long: float, r: TaxReturn, short_rate: float = ST, long_rate: float = LT) -> float:
    """The return's tax on its year: carried losses off their own kind, the kinds netted, a gain
    taxed by the kind of what is left, a net loss's deduction (line 21, up to the limit) worth the
    short-term rate on what line 4 says the taxable income absorbed."""
    short, long = short - r.carried_short, long - r.carried_long
    total = short + long
    if total < 0:
        return -worksheet_line_4(r.taxable_income, min(r.loss_limit, -total)) * short_rate
    if short >= 0 and long >= 0:
        return short * short_rate + long * long_rate
    return total * (long_rate if short < 0 else short_rate)


def _sheet(short: float, income: float | None, limit: float = 3_000.0) -> ScheduleD:
    return ScheduleD(year=2026, short_term=Decimal(str(short)), long_term=Decimal(0), carried_in_short=Decimal(0),
                     carried_in_long=Decimal(0), limit=Decimal(str(limit)),
                     taxable_income=None if income is None else Decimal(str(income)))


def _account(*returns: TaxReturn) -> Account:
    return Account(id="A", cash=0.0, short_term_rate=ST, long_term_rate=LT, tax_returns=returns)


@pytest.mark.parametrize(("income", "limit", "used"), [
    (-1_000.0, 3_000.0, 2_000.0),  # line 3: -1,000 + 3,000; 8,000 carried, not 7,000
    (None, 3_000.0, 3_000.0),      # not entered: the whole deduction, as before
    (50_000.0, 3_000.0, 3_000.0),  # income absorbs it all
    (-5_000.0, 3_000.0, 0.0),      # line 3 below 0: nothing saved this year
    (-1_000.0, 1_500.0, 500.0),    # married filing separately: 1,500 less the 1,000
])
def test_a_harvest_saves_the_rate_on_the_deduction_the_taxable_income_absorbed(income, limit, used):
    # given: a return with taxable income entered as (1,000) and nothing else this year
    household = TaxReturn(loss_limit=limit, taxable_income=income, id="household")
    # when the account harvests a 10,000 short-term loss at 37%
    tax = run_tax(_account(household), -10_000.0, 0.0)
    # then: the rate on Schedule D's line 4 (the ledger's own figure), not on the whole 3,000
    assert float(_sheet(-10_000.0, income, limit).deduction_used) == used
    assert tax == pytest.approx(-ST * used)
    assert RunTax.of(_account(household))(-10_000.0, 0.0) == pytest.approx(tax)


def test_a_harvest_on_a_return_with_taxable_income_below_zero_is_not_worth_1110():
    assert run_tax(_account(TaxReturn(taxable_income=-1_000.0)), -10_000.0, 0.0) == pytest.approx(-740.0)


money = st.floats(-40_000, 40_000, allow_nan=False).map(lambda v: round(v, 2))
carried = st.floats(0, 20_000, allow_nan=False).map(lambda v: round(v, 2))
income = st.one_of(st.none(), st.floats(-10_000, 10_000, allow_nan=False).map(lambda v: round(v, 2)),
                   st.sampled_from([0.0, -1_500.0, -3_000.0, -1_000.0]))
a_return = st.builds(TaxReturn, short_term_ytd=money, long_term_ytd=money, carried_short=carried,
                     carried_long=carried, loss_limit=st.sampled_from([3_000.0, 1_500.0]), share=st.just(1.0),
                     taxable_income=income, id=st.just("household"))


@settings(max_examples=1_500, deadline=None)
@given(r=a_return, run_short=money, run_long=money)
def test_the_estimate_is_what_the_worksheet_says_the_run_adds_to_the_return(r, run_short, run_long):
    expected = (year_tax(r.short_term_ytd + run_short, r.long_term_ytd + run_long, r)
                - year_tax(r.short_term_ytd, r.long_term_ytd, r))
    account = _account(r)
    assert run_tax(account, run_short, run_long) == pytest.approx(expected, abs=1e-6)
    assert RunTax.of(account)(run_short, run_long) == pytest.approx(expected, abs=1e-6)


@settings(max_examples=400, deadline=None)
@given(first=a_return, second=a_return, run_short=money, run_long=money)
def test_a_joint_account_of_a_couple_filing_separately_meets_each_spouses_test(first, second, run_short, run_long):
    first = TaxReturn(first.short_term_ytd, first.long_term_ytd, first.carried_short, first.carried_long, 1_500.0,
                      0.5, "first", first.taxable_income)
    second = TaxReturn(second.short_term_ytd, second.long_term_ytd, second.carried_short, second.carried_long,
                       1_500.0, 0.5, "second", second.taxable_income)
    expected = sum(year_tax(r.short_term_ytd + run_short / 2, r.long_term_ytd + run_long / 2, r)
                   - year_tax(r.short_term_ytd, r.long_term_ytd, r) for r in (first, second))
    account = _account(first, second)
    assert run_tax(account, run_short, run_long) == pytest.approx(expected, abs=1e-6)
    assert RunTax.of(account)(run_short, run_long) == pytest.approx(expected, abs=1e-6)


@settings(max_examples=500, deadline=None)
@given(r=a_return, ends=st.tuples(money, money, money, money))
def test_the_estimate_is_linear_between_the_kinks_a_least_tax_search_reads(r, ends):
    # A least-tax search evaluates corners and the crossings of ``kinks``: between two crossings the
    # tax must be a straight line, the taxable-income test's bend included.
    account = _account(r)
    tax = RunTax.of(account)
    s_a, l_a, s_b, l_b = ends
    cuts = [0.0, 1.0]
    for a, b, c in tax.kinks:
        f_a, f_b = a * s_a + b * l_a - c, a * s_b + b * l_b - c
        if (f_a < 0 < f_b) or (f_b < 0 < f_a):
            cuts.append(f_a / (f_a - f_b))
    cuts.sort()
    for t0, t1 in zip(cuts, cuts[1:], strict=False):
        if t1 - t0 < 1e-6:
            continue
        at = [tax(s_a + t * (s_b - s_a), l_a + t * (l_b - l_a)) for t in (t0, (t0 + t1) / 2, t1)]
        assert at[1] == pytest.approx((at[0] + at[2]) / 2, abs=1e-4)


def _year_tax_grid(short, long, limit, income):
    """``year_tax`` over arrays (no carried loss): line 4 read as printed, element by element."""
    net = short + long
    deduction = np.minimum(-net, limit)
    line_4 = deduction if income is None else np.minimum(deduction, np.maximum(income + deduction, 0.0))
    return np.where((short >= 0) & (long >= 0), ST * short + LT * long,
                    np.where(net <= 0, -ST * line_4, np.where(short < 0, LT * net, ST * net)))


@settings(max_examples=300, deadline=None)
@given(short=st.integers(-60, 60), long=st.integers(-60, 60), limit=st.sampled_from([7.0, 15.0, 30.0]),
       taxable_income=st.one_of(st.none(), st.integers(-40, 20)))
def test_the_budgets_netting_reserve_is_the_most_a_gain_costs_beyond_its_rate_with_the_test(
        short, long, limit, taxable_income):
    # The reserve is the largest excess over every pair of gains added: searched here over a grid of
    # whole dollars (the pieces' corners are whole when the figures are).
    income = None if taxable_income is None else float(taxable_income)
    added = np.arange(201, dtype=float)
    gs, gl = np.meshgrid(added, added)
    base = _year_tax_grid(np.float64(short), np.float64(long), limit, income)
    excess = _year_tax_grid(short + gs, long + gl, limit, income) - base - ST * gs - LT * gl
    assert netting_reserve(float(short), float(long), ST, LT, limit, income) == pytest.approx(
        max(float(excess.max()), 0.0), abs=1e-9)


@settings(max_examples=1_000, deadline=None)
@given(deduction=st.decimals(0, 3_000, places=2),
       taxable_income=st.one_of(st.none(), st.decimals(-20_000, 20_000, places=2)))
def test_one_rule_the_engine_and_the_ledgers_schedule_d(deduction, taxable_income):
    sheet = ScheduleD(year=2026, short_term=-deduction, long_term=Decimal(0), carried_in_short=Decimal(0),
                      carried_in_long=Decimal(0), limit=Decimal(3_000), taxable_income=taxable_income)
    assert deduction_used(deduction, taxable_income) == sheet.deduction_used
    ti = None if taxable_income is None else float(taxable_income)
    assert deduction_used(float(deduction), ti) == pytest.approx(worksheet_line_4(ti, float(deduction)))


def test_the_taxable_income_round_trips_through_the_requests_json_and_must_be_a_number():
    data = json.loads((EXAMPLES / "two_asset_rebalance.json").read_text())
    data["account"]["tax_returns"] = [{"id": "household", "taxable_income": -1_000.5}]
    request = request_from_dict(data)
    assert request.account.tax_returns == (TaxReturn(taxable_income=-1_000.5, id="household"),)
    assert request_from_dict(request_to_dict(request)) == request
    data["account"]["tax_returns"] = [{"id": "household", "taxable_income": None}]
    assert request_from_dict(data).account.tax_returns == (TaxReturn(id="household"),)
    with pytest.raises(InvalidRequest, match="taxable_income"):
        _account(TaxReturn(taxable_income=math.nan, id="household"))
    data["account"]["tax_returns"] = [{"id": "household", "taxable_income": "1000"}]
    with pytest.raises(InvalidRequest):
        request_from_dict(data)
