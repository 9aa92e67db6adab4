"""Codes B and T over random household histories (two taxable accounts and an IRA, VTI and ITOT
substantially identical) through the real ledger, against a plain restatement of what a broker
knows: only a wash sale of the identical security in the same account, on its own figures (Treas.
Reg. §1.6045-1(d)(6)(iii)). Column (h), the box totals and Schedule D stay the ledger's gains."""

from datetime import date
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings

from rebalancing.engine.tax import replacement_start
from rebalancing.engine.tax import term as holding_term
from rebalancing.ledger.reports import box_totals, realised_gains, schedules_d
from rebalancing.models import Account, BasisAdjustment, Household, RealisedLot

from ..rebalancing.book import make_account
from .test_household_history_property import _apply_each, _orders, histories

pytestmark = pytest.mark.django_db


def broker_view(r: RealisedLot) -> tuple[Fraction, date, int]:
    """(basis the 1099-B leaves out, the 1099-B's holding period start, wash sales into the line),
    restated share-free: a wash sale counts for the broker only from a loss of the same security in
    the same account, and only as much of it as the broker saw as a loss (its own basis of the sold
    shares being short by what their 1099-B left out)."""
    into = list(BasisAdjustment.objects.filter(realised_lot=r).select_related("source"))
    if not into:
        return Fraction(0), r.acquired, 0
    unknown, starts = Fraction(0), [r.purchased]
    for a in into:
        s = a.source
        s_unknown, s_start, _ = broker_view(s)
        loss = Fraction(s.cost_basis - s.proceeds)
        seen = loss - s_unknown
        if s.account_id == r.account_id and s.security_id == r.security_id and seen > 0:
            unknown += Fraction(a.basis_added) * s_unknown / loss
            starts.append(replacement_start(a.acquired_before, s.sold, s_start))
        else:
            unknown += Fraction(a.basis_added)
    return unknown, min(starts), len(into)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=histories())
def test_codes_b_and_t_are_what_the_broker_does_not_know_and_gains_do_not_move(book, pm, steps):
    savepoint = transaction.savepoint()
    try:
        household = book["account"].household
        accounts = {"A-1": book["account"],
                    "A-2": make_account("A-2", model=book["model"], household=household, holdings=[]),
                    "IRA": make_account("IRA", model=book["model"], household=household, holdings=[])}
        Account.objects.filter(pk=accounts["IRA"].pk).update(tax_status="traditional")
        Account.objects.filter(pk=accounts["A-2"].pk).update(spouse="second")
        _apply_each(sorted(_orders(book, accounts, steps, pm), key=lambda r: (r[0]["trade_date"],
                                                                               r[0]["external_id"])))

        report = realised_gains(accounts=Account.objects.filter(household=household), start=date(2026, 1, 1),
                                end=date(2026, 12, 31))
        stored = {(r.account.custodian_number, r.lot_id, r.sold, r.execution.external_id): r
                  for r in RealisedLot.objects.filter(account__taxable=True).select_related("account", "execution")}
        assert len(stored) == len(report.lots)
        for line in report.lots:
            [r] = [r for k, r in stored.items() if k[:3] == (line.account_number, line.lot_id, line.sold)
                   and r.quantity == line.quantity and r.proceeds == line.proceeds][:1]
            unknown, start, n = broker_view(r)
            # Each wash sale's part is rounded to the cent once.
            assert abs(Fraction(line.basis_unknown_to_broker) - unknown) <= Fraction(n, 100), (line, unknown)
            broker_term = holding_term(start, r.sold)
            reported = line.box.letter in "AD"
            want_codes = "".join(c for c, on in (("B", line.basis_unknown_to_broker > 0),
                                                 ("T", broker_term != line.term),
                                                 ("W", line.adjustment > 0)) if on)
            assert (line.term_on_1099b, line.code) == (broker_term, want_codes)
            cut = line.basis_unknown_to_broker if reported else D(0)
            assert (line.form_8949_cost_basis, line.form_8949_adjustment) == (
                line.cost_basis - cut, line.adjustment - cut)
            # Column (h): the ledger's gain, whichever way (e) and (g) split the basis.
            assert line.gain_or_loss == line.proceeds - line.form_8949_cost_basis + line.form_8949_adjustment
            assert line.gain_or_loss == r.reportable_gain and line.term == r.term
            if line.schedule_d_line in ("1a", "8a"):
                assert not line.code and not line.form_8949_adjustment
        # The box totals and Schedule D are the terms' totals of the ledger's gains.
        by_term = {t: sum((r.reportable_gain for r in stored.values() if r.term == t), D(0)) for t in ("short", "long")}
        totals = box_totals(report.lots)
        for term, boxes in (("short", "ABC"), ("long", "DEF")):
            assert sum((t.gain_or_loss for t in totals if t.box in boxes), D(0)) == by_term[term]
        [sheet] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
        assert (sheet.sheet.short_term, sheet.sheet.long_term) == (by_term["short"], by_term["long"])
    finally:
        transaction.savepoint_rollback(savepoint)
