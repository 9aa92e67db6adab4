"""Inherited shares through the ledger: held long-term whenever sold (IRC §1223(9); Pub. 550
"Inherited property"), reported on Form 8949 with the date acquired "INHERITED", and never a
wash-sale replacement, since they were not bought (IRC §1091(a))."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from rebalancing.engine.tax import inherited_start, long_term_from, term
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.imports import lots_import
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.holdings import purchases_known_from_lots
from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.ledger.reports import realised_gains, realised_lots_csv
from rebalancing.models import Account, RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
PASSED = date(2026, 10, 1)
AS_OF = date(2026, 11, 20)


def lots_file(*rows: str, inherited: bool = True) -> bytes:
    header = "account_number,lot_id,symbol,quantity,cost_basis,acquired" + (",inherited" if inherited else "")
    return "\n".join((header, *rows)).encode() + b"\n"


@pytest.fixture
def heir(book):
    """A-2 in A-1's household, holding VTI inherited on 2026-10-01 at its stepped-up value."""
    account = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    lots_import(source=lots_file("A-2,H1,VTI,100,10000,2026-10-01,yes"), as_of=AS_OF)
    return account


def test_inherited_shares_are_held_long_term_from_the_day_they_pass(heir):
    lot = TaxLot.objects.get(account=heir, lot_id="H1")
    assert (lot.inherited, lot.purchased, lot.acquired) == (True, PASSED, date(2025, 9, 30))
    assert term(lot.acquired, PASSED) == "long"  # sold the very day they passed: long-term
    # The engine sees them long-term; an account's lots file read again changes nothing.
    [inputs] = rebalance_inputs_load([heir.pk], as_of=AS_OF)
    [engine_lot] = inputs.request.account.lots
    assert term(engine_lot.acquired, AS_OF) == "long"
    assert lots_import(source=lots_file("A-2,H1,VTI,100,10000,2026-10-01,yes"), as_of=AS_OF).unchanged == 1
    # Without the column the mark is kept (a custodian's file may not carry it).
    assert lots_import(source=lots_file("A-2,H1,VTI,100,10000,2026-10-01", inherited=False), as_of=AS_OF).unchanged == 1
    assert TaxLot.objects.get(account=heir, lot_id="H1").inherited


@pytest.mark.parametrize("passed", [date(2026, 1, 31), date(2026, 2, 28), date(2024, 2, 29), date(2026, 12, 31)])
def test_the_holding_period_of_inherited_shares_is_more_than_a_year_on_the_day_they_pass(passed):
    start = inherited_start(passed)
    assert long_term_from(start) <= passed < long_term_from(start + timedelta(days=1))


def test_a_sale_of_inherited_shares_weeks_later_is_long_term_and_says_inherited_on_form_8949(heir, pm):
    [order] = release(heir, [sell("VTI", 100, 90.0, [("H1", 100)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("H-S", order, 100, "90", date(2026, 11, 2))), actor="feed",
                      as_of=AS_OF)

    [sale] = RealisedLot.objects.filter(account=heir)
    assert (sale.term, sale.gain, sale.inherited, sale.replacement, sale.purchased) == (
        "long", D("-1000.00"), True, False, PASSED)
    heir.refresh_from_db()
    assert (heir.realised_short_term_ytd, heir.realised_long_term_ytd) == (0, D("-1000.00"))
    csv = realised_lots_csv(realised_gains(accounts=Account.objects.filter(pk=heir.pk), start=date(2026, 1, 1),
                                           end=date(2026, 12, 31))).splitlines()
    header, [line] = csv[0].split(","), csv[1:]
    assert dict(zip(header, line.split(","), strict=True))["date_acquired"] == "INHERITED"


def test_the_api_reports_inherited_shares_as_form_8949_does(heir, pm, firm_a, client_for):
    """An integrator building Form 8949 from the API reads column (b) as the form wants it, not the
    holding period's start the ledger computes (a day on which nothing happened)."""
    [order] = release(heir, [sell("VTI", 100, 90.0, [("H1", 100)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("H-S", order, 100, "90", date(2026, 11, 2))), actor="feed",
                      as_of=AS_OF)
    client = client_for(firm_a, pm)
    [row] = client.get("/api/v1/reports/realised-gains/", {"start": "2026-01-01", "end": "2026-12-31"}).json()["lots"]
    assert (row["inherited"], row["date_acquired"], row["purchased"], row["term"]) == (
        True, "INHERITED", "2026-10-01", "long")


def test_inherited_shares_do_not_wash_a_loss_and_bought_ones_do(book, pm):
    # A-1 sells its short-term VTI lot at a 1,000 loss on 11-18; ten days later the household
    # receives ITOT (the same equivalence group) from an estate: not a purchase, no wash sale.
    account = book["account"]
    [order] = release(account, [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=date(2026, 11, 18))
    executions_import(source=execution_csv(fill("L-S", order, 50, "100", date(2026, 11, 18))), actor="feed",
                      as_of=date(2026, 11, 30))
    make_account("A-2", model=book["model"], household=account.household, holdings=[])
    lots_import(source=lots_file("A-2,H1,ITOT,40,4000,2026-11-28,yes"), as_of=date(2026, 11, 30))
    [loss] = RealisedLot.objects.filter(account=account)
    assert (loss.gain, loss.disallowed_loss) == (D("-1000.00"), 0)
    assert purchases_known_from_lots([account.household_id], date(2026, 10, 19), date(2026, 12, 18)) == []

    # The same shares bought are a replacement: 40 of the 50 loss shares' loss is disallowed.
    lots_import(source=lots_file("A-2,H1,ITOT,40,4000,2026-11-28,no"), as_of=date(2026, 11, 30))
    loss.refresh_from_db()
    assert loss.disallowed_loss == D("800.00")


def test_a_loss_on_inherited_shares_washed_by_a_purchase_passes_on_their_long_holding_period(heir, pm):
    [order] = release(heir, [sell("VTI", 100, 90.0, [("H1", 100)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("H-S", order, 100, "90", date(2026, 11, 2))), actor="feed",
                      as_of=AS_OF)
    lots_import(source=lots_file("A-2,B1,VTI,100,9100,2026-11-10,no"), as_of=AS_OF)  # bought back 8 days later

    [sale] = RealisedLot.objects.filter(account=heir)
    assert sale.disallowed_loss == D("1000.00")
    replacement = TaxLot.objects.get(account=heir, lot_id="B1")
    assert replacement.wash_adjustment == D("1000.00") and replacement.cost_basis == D("10100.00")
    # IRC §1223(3): the inherited shares' holding period (from 2025-09-30) carries over, so the
    # replacement is long-term at once.
    assert term(replacement.acquired, date(2026, 11, 11)) == "long"


def test_a_position_file_without_the_mark_keeps_the_ledgers_and_shows_no_difference(heir):
    reconciliation = reconciliation_import(source=lots_file("A-2,H1,VTI,100,10000,2026-10-01", inherited=False),
                                           as_of=AS_OF)
    assert reconciliation.status == "closed"  # matched: nothing differs
    differing = reconciliation_import(source=lots_file("A-2,H1,VTI,100,10000,2026-10-01,no"), as_of=AS_OF)
    [entry] = differing.accounts.all()
    assert entry.lot_differences == [{"lot_id": "H1", "problem": "differs", "fields": ["inherited"],
                                      "ledger": {"inherited": "True"}, "custodian": {"inherited": "False"}}]


def test_the_pages_show_the_day_inherited_shares_passed_and_form_8949s_inherited(heir, pm, firm_a, client_for):
    client = client_for(firm_a, pm)
    page = client.get(f"/accounts/{heir.pk}/").content.decode()
    assert '2026-10-01 <span class="badge">inherited</span>' in page and "Long-term" in page
    [order] = release(heir, [sell("VTI", 100, 90.0, [("H1", 100)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("H-S", order, 100, "90", date(2026, 11, 2))), actor="feed",
                      as_of=AS_OF)
    report = client.get("/reports/realised/?year=2026").content.decode()
    assert '<td class="nowrap">INHERITED</td><td class="nowrap">2026-10-01</td>' in report
