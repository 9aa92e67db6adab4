"""The audit of ``test_sources_reference`` through the real ledger: random household histories (the
first spouse's taxable account, the second spouse's, an IRA) across a year end, every fill imported
as the custodian sends it, and what the ledger stores and reports - each sale's shares by term,
proceeds, basis and disallowed loss (deferred or lost for good), each held lot's basis and holding
period, each year's Schedule D with the carryover - against the share-by-share reading and the
statute's Schedule D written in that file."""

from collections import defaultdict
from datetime import date
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine.tax import term
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import realised_gains, schedules_d
from rebalancing.models import Account, Household, RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell
from .test_sources_reference import TAXABLE, Event, histories, reference, statute_sheet

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 5)
OPENING = {  # make_account's lot ids: (account, quantity, cost a share, purchased)
    "T-1-L1": ("T-1", 12, 150, date(2019, 3, 4)),
    "T-1-L2": ("T-1", 10, 140, date(2025, 1, 31)),
    "T-2-L1": ("T-2", 8, 60, date(2018, 6, 30)),
}
SPOUSE = {"T-1": "first", "T-2": "second"}
YEARS = (2025, 2026)


def _apply(household, book, pm, events: list[Event]):
    accounts = {}
    for number in TAXABLE:
        accounts[number] = make_account(number, model=book["model"], household=household, holdings=[
            ("VTI", q, q * c, d) for lot, (a, q, c, d) in sorted(OPENING.items()) if a == number])
    Account.objects.filter(pk=accounts["T-2"].pk).update(spouse="second")
    Account.objects.filter(pk=accounts["IRA"].pk).update(tax_status="traditional")
    symbols = {lot: "VTI" for lot in OPENING}
    rows = []
    for n, e in enumerate(events):
        if e.kind == "buy":
            symbols[e.lot] = "ITOT" if n % 2 else "VTI"  # one equivalence group
            [order] = release(accounts[e.account], [buy(symbols[e.lot], e.quantity, float(e.price))], pm=pm, as_of=e.day)
            rows.append(fill(e.lot, order, e.quantity, str(e.price), e.day))
        else:
            [order] = release(accounts[e.account], [sell(symbols[e.lot], e.quantity, float(e.price), [(e.lot, e.quantity)])],
                              pm=pm, as_of=e.day)
            rows.append(fill(e.sale, order, e.quantity, str(e.price), e.day))
    executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=AS_OF)


def _want(events):
    lots, sold_on = reference(events, TAXABLE, OPENING)
    sales = defaultdict(lambda: [Fraction(0)] * 5)  # (account, lot, sale, term) -> shares, proceeds, basis, disallowed, lost
    held = defaultdict(lambda: [Fraction(0)] * 2)  # (account, lot, start) -> shares, basis
    results = defaultdict(lambda: [Fraction(0)] * 2)  # (spouse, year) -> short, long (Form 8949's column h)
    for lot in lots.values():
        for s in lot.shares:
            start = s.start(sold_on)
            if s.sale is None:
                row = held[(lot.account, lot.key, start)]
                row[0] += 1
                row[1] += s.basis()
                continue
            if not lot.taxable:
                continue
            sold = sold_on[s.sale]
            t = term(start, sold)
            disallowed = s.loss() if s.replaced_by is not None else Fraction(0)
            row = sales[(lot.account, lot.key, s.sale, t)]
            for i, value in enumerate((1, s.proceeds, s.basis(), disallowed,
                                       disallowed if s.replaced_by is not None and not s.replaced_by.taxable else 0)):
                row[i] += value
            results[(SPOUSE[lot.account], sold.year)][0 if t == "short" else 1] += s.proceeds - s.basis() + disallowed
    return sales, held, results


def _close(got, want, pieces: int) -> bool:
    return abs(Fraction(got) - Fraction(want)) <= Fraction(pieces, 100)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(events=histories(opening={k: v for k, v in OPENING.items()}, start=date(2025, 11, 20), steps=(4, 8)),
       status=st.sampled_from(["married_joint", "married_separate", "single"]))
def test_the_ledgers_figures_agree_with_the_share_by_share_reading_and_the_statute(book, pm, events, status):
    savepoint = transaction.savepoint()
    try:
        household = Household.objects.create(name="Sources", external_id="HH-SRC", filing_status=status)
        _apply(household, book, pm, events)
        sales, held, results = _want(events)

        got_sales = defaultdict(lambda: [Fraction(0)] * 6)
        for r in RealisedLot.objects.filter(account__household=household, account__taxable=True).select_related(
                "account", "execution"):
            row = got_sales[(r.account.custodian_number, r.bought_as, r.execution.external_id, r.term)]
            for i, value in enumerate((r.quantity, r.proceeds, r.cost_basis, r.disallowed_loss, r.disallowed_permanently)):
                row[i] += Fraction(value)
            row[5] += 1
            assert r.term == term(r.acquired, r.sold)
        assert set(got_sales) == set(sales), "the same shares sold, by lot, sale and term"
        for key, want in sales.items():
            got = got_sales[key]
            assert got[0] == want[0], key
            for i in (1, 2, 3, 4):
                assert _close(got[i], want[i], int(got[5]) + 1), (key, i, float(got[i]), float(want[i]))

        got_held = defaultdict(lambda: [Fraction(0)] * 3)
        for lot in TaxLot.objects.filter(account__household=household).select_related("account"):
            row = got_held[(lot.account.custodian_number, lot.bought_as, lot.acquired)]
            row[0] += Fraction(lot.quantity)
            row[1] += Fraction(lot.cost_basis)
            row[2] += 1
        assert {k for k, v in got_held.items() if v[0]} == {k for k, v in held.items() if v[0]}
        for key, want in held.items():
            if want[0]:
                assert got_held[key][0] == want[0] and _close(got_held[key][1], want[1], int(got_held[key][2]) + 1), key

        # The realised-gains report (Form 8949's column h by term) adds up to the same per spouse.
        for year in YEARS:
            report = realised_gains(accounts=Account.objects.filter(household=household), start=date(year, 1, 1),
                                    end=date(year, 12, 31))
            for totals in report.accounts:
                spouse = SPOUSE[totals.key]
                for i, side in enumerate((totals.short, totals.long)):
                    assert _close(side.gain_or_loss, results[(spouse, year)][i], 2 * len(sales) + 2), (year, totals.key)

        # Schedule D, year by year, each return as the statute reads it.
        carried = {"first": (Fraction(0), Fraction(0)), "second": (Fraction(0), Fraction(0))}
        for year in YEARS:
            rows = {r.spouse: r.sheet for r in schedules_d(households=Household.objects.filter(pk=household.pk),
                                                          year=year)}
            if status == "married_separate":
                returns = {"first": ("first",), "second": ("second",)}
            else:
                returns = {"": ("first", "second")}
            assert set(rows) == set(returns)
            for key, spouses in returns.items():
                short = sum((results[(s, year)][0] for s in spouses), Fraction(0))
                long = sum((results[(s, year)][1] for s in spouses), Fraction(0))
                in_short = sum((carried[s][0] for s in spouses), Fraction(0))
                in_long = sum((carried[s][1] for s in spouses), Fraction(0))
                limit = 1500 if status == "married_separate" else 3000
                deduction, out_short, out_long, ordinary, capital_gain = statute_sheet(short, long, in_short, in_long, limit)
                sheet = rows[key]
                slack = 2 * len(sales) + 2
                for got, want in ((sheet.short_term, short), (sheet.long_term, long), (sheet.deduction, deduction),
                                  (sheet.carried_out_short, out_short), (sheet.carried_out_long, out_long),
                                  (sheet.taxable_short, ordinary), (sheet.taxable_long, capital_gain)):
                    assert _close(got, want, slack), (year, key, float(got), float(want))
                # From the ledger's own carry, so rounding does not compound across the years.
                carried[spouses[0]] = (Fraction(sheet.carried_out_short), Fraction(sheet.carried_out_long))
                for other in spouses[1:]:
                    carried[other] = (Fraction(0), Fraction(0))
    finally:
        transaction.savepoint_rollback(savepoint)


def test_pub_550_example_1_through_the_ledger(book, pm):
    """Pub. 550 "More or less stock bought than sold", Example 1, filled through the ledger and read
    from its report: 750 of the 1,000 loss disallowed, the 50 and 25 replacement shares' basis 3,250
    and 1,375, their holding period the sold shares'; the 250 left is a short-term loss."""
    household = Household.objects.create(name="Pub 550", external_id="HH-P550", filing_status="married_joint")
    a = make_account("P-1", model=book["model"], household=household, holdings=[("VTI", 100, 5000, date(2025, 9, 24))])
    [b1] = release(a, [buy("VTI", 50, 55.0)], pm=pm, as_of=date(2025, 12, 21))
    [b2] = release(a, [buy("ITOT", 25, 45.0)], pm=pm, as_of=date(2025, 12, 28))
    [s] = release(a, [sell("VTI", 100, 40.0, [("P-1-L1", 100)])], pm=pm, as_of=date(2026, 1, 4))
    executions_import(source=execution_csv(fill("DEC21", b1, 50, "55", date(2025, 12, 21)),
                                           fill("DEC28", b2, 25, "45", date(2025, 12, 28)),
                                           fill("JAN4", s, 100, "40", date(2026, 1, 4))),
                      actor="custodian feed", as_of=AS_OF)
    [sold] = RealisedLot.objects.filter(account=a)
    assert (sold.disallowed_loss, sold.reportable_gain, sold.term) == (D("750.00"), D("-250.00"), "short")
    lots = {lot.bought_as: (lot.cost_basis, lot.acquired) for lot in TaxLot.objects.filter(account=a)}
    assert lots == {"DEC21": (D("3250.00"), date(2025, 9, 24)), "DEC28": (D("1375.00"), date(2025, 9, 24))}
    [sheet] = [r.sheet for r in schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)]
    assert (sheet.short_term, sheet.deduction) == (D("-250.00"), D("250.00"))
