"""Wash sales matched per household, from every purchase, recomputed when history arrives late.

A-1 (household HH-A-1) holds A-1-L2: 50 VTI bought 2026-06-01 for 6,000. Sold on 2026-10-01 for
5,000 it loses 1,000. VTI and ITOT are substantially identical ("us_total").
"""

import io
import itertools
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import transaction

from rebalancing.imports import book_import
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import (
    Account,
    BasisAdjustment,
    RealisedLot,
    ReconciliationAccount,
    TaxLot,
    WashSaleRecalculation,
)
from rebalancing.services.households import household_account_move
from tenants.audit.models import AuditEvent

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
LOSS_DAY = date(2026, 10, 1)


def apply(*rows):
    return executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=AS_OF)


def csv_file(header: str, *lines: str) -> io.BytesIO:
    return io.BytesIO(("\n".join((header, *lines)) + "\n").encode())


def ledger_state():
    """Every figure the ledger holds for wash sales, in a form that compares across runs."""
    lots = sorted((lot.account.custodian_number, lot.lot_id, lot.quantity, lot.cost_basis, lot.acquired,
                   lot.bought_on, lot.wash_adjustment) for lot in TaxLot.objects.select_related("account"))
    sales = sorted((r.account.custodian_number, r.execution.external_id, r.lot_id, r.quantity, r.proceeds,
                    r.cost_basis, r.gain, r.term, r.acquired, r.disallowed_loss, r.disallowed_permanently,
                    r.wash_matched_quantity) for r in RealisedLot.objects.select_related("account", "execution"))
    adjustments = sorted((a.account.custodian_number, a.lot_id, a.quantity, a.disallowed_loss, a.basis_added,
                          a.acquired_before, a.acquired_after) for a in BasisAdjustment.objects.select_related("account"))
    ytd = sorted(Account.objects.values_list("custodian_number", "realised_short_term_ytd", "realised_long_term_ytd"))
    return lots, sales, adjustments, ytd


def loss_order(book, pm):
    [order] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                      as_of=LOSS_DAY)
    return order


def buy_order(account, symbol, quantity, price, day, pm):
    [order] = release(account, [buy(symbol, quantity, price)], pm=pm, as_of=day)
    return order


def test_a_purchase_in_another_household_in_the_same_file_does_not_wash_the_loss(book, pm):
    # Matching is per taxpayer household: a fills file that carries several households must not
    # match one household's loss with another's purchase.
    stranger = make_account("Z-1", model=book["model"], holdings=[])
    sale = loss_order(book, pm)
    theirs = buy_order(stranger, "VTI", 50, "102", date(2026, 10, 5), pm)

    apply(fill("S-1", sale, 50, "100", LOSS_DAY), fill("Z-B1", theirs, 50, "102", date(2026, 10, 5)))

    sold = RealisedLot.objects.get(execution__external_id="S-1")
    assert (sold.disallowed_loss, sold.reportable_gain) == (D(0), D("-1000.00"))
    assert not BasisAdjustment.objects.exists()
    assert TaxLot.objects.get(lot_id="Z-B1").cost_basis == D("5100.00")


def test_late_arrivals_give_the_same_result_in_every_order(book, pm):
    """A loss sale, an earlier-dated purchase before it and a later purchase in the spouse's
    account, imported in all six orders: the result is the one the dates call for, every time.
    Treas. Reg. §1.1091-1(d): the replacement shares are those bought first (30 on 09-25), then 20
    of the 40 bought on 10-10."""
    spouse = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    sale = loss_order(book, pm)
    early = buy_order(book["account"], "ITOT", 30, "50", date(2026, 9, 25), pm)
    late = buy_order(spouse, "VTI", 40, "101", date(2026, 10, 10), pm)
    events = {
        "sale": fill("S-1", sale, 50, "100", LOSS_DAY),
        "early": fill("B-EARLY", early, 30, "50", date(2026, 9, 25)),
        "late": fill("B-LATE", late, 40, "101", date(2026, 10, 10)),
    }
    states = []
    for order in itertools.permutations(events):
        savepoint = transaction.savepoint()
        for name in order:
            apply(events[name])
        states.append(ledger_state())
        transaction.savepoint_rollback(savepoint)
    assert all(state == states[0] for state in states)
    lots, sales, adjustments, ytd = states[0]
    # 30 ITOT shares: 1,500 + 600 disallowed (30/50 of 1,000); bought before the sale, their holding
    # period starts with the sold shares' (2026-06-01).
    assert ("A-1", "B-EARLY", D(30), D("2100.00"), date(2026, 6, 1), date(2026, 9, 25), D("600.00")) in lots
    # 20 of the spouse's 40 VTI: 2,020 + 400, tacked 122 days back; the other 20 keep their own.
    assert ("A-2", "B-LATE-W1", D(20), D("2420.00"), date(2026, 6, 10), date(2026, 10, 10), D("400.00")) in lots
    assert ("A-2", "B-LATE", D(20), D("2020.00"), date(2026, 10, 10), date(2026, 10, 10), D(0)) in lots
    [sold] = sales
    assert sold[9:] == (D("1000.00"), D(0), D(50))
    assert dict((n, (st, lt)) for n, st, lt in ytd)["A-1"] == (D("0.00"), D(0))


def test_an_earlier_purchase_arriving_later_takes_the_replacement_from_the_later_one(book, pm):
    sale = loss_order(book, pm)
    later = buy_order(book["account"], "VTI", 50, "102", date(2026, 10, 15), pm)
    apply(fill("S-1", sale, 50, "100", LOSS_DAY), fill("B-2", later, 50, "102", date(2026, 10, 15)))
    assert TaxLot.objects.get(lot_id="B-2").cost_basis == D("6100.00")

    earlier = buy_order(book["account"], "ITOT", 100, "50", date(2026, 9, 20), pm)
    summary = apply(fill("B-1", earlier, 100, "50", date(2026, 9, 20)))  # reported two months late

    # Replacement shares are matched in the order they were acquired: the 09-20 ITOT replaces the
    # whole sale; the 10-15 VTI goes back to its own basis and date.
    assert TaxLot.objects.get(lot_id="B-2").cost_basis == D("5100.00")
    assert TaxLot.objects.get(lot_id="B-2").acquired == date(2026, 10, 15)
    replaced = TaxLot.objects.get(lot_id="B-1-W1")
    assert (replaced.quantity, replaced.cost_basis, replaced.acquired) == (D(50), D("3500.00"), date(2026, 6, 1))
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == D("1000.00")
    # The sale's figures did not change (still all disallowed), so no recalculation is recorded...
    assert not WashSaleRecalculation.objects.exists(), list(WashSaleRecalculation.objects.values_list("changes", flat=True))
    assert any("wash-sale adjustment" in note for note in summary.notes)


def test_a_late_purchase_that_changes_a_recorded_sale_says_what_changed(book, pm):
    sale = loss_order(book, pm)
    apply(fill("S-1", sale, 50, "100", LOSS_DAY))
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == 0

    spouse = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    late = buy_order(spouse, "VTI", 20, "101", date(2026, 10, 20), pm)
    apply(fill("B-1", late, 20, "101", date(2026, 10, 20)))

    [recalculation] = WashSaleRecalculation.objects.all()
    assert (recalculation.first_sold, recalculation.group, recalculation.trigger) == (LOSS_DAY, "us_total",
                                                                                      "executions from csv")
    assert {"account": "A-1", "lot_id": "A-1-L2", "sold": "2026-10-01", "field": "disallowed_loss",
            "before": "0.00", "after": "400.00"} in recalculation.changes
    assert AuditEvent.objects.filter(action="ledger.wash_sales_recompute", object_id=str(recalculation.pk)).exists()


def test_a_purchase_in_the_trades_file_washes_a_loss_in_another_account_of_the_household(book, pm):
    spouse = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    apply(fill("S-1", loss_order(book, pm), 50, "100", LOSS_DAY))

    book_import(kind="trades", source=csv_file("account_number,symbol,side,quantity,price,trade_date,external_id",
                                               "A-2,ITOT,buy,40,51,2026-10-12,T-9"), as_of=AS_OF)

    sold = RealisedLot.objects.get(execution__external_id="S-1")
    assert (sold.disallowed_loss, sold.wash_matched_quantity) == (D("800.00"), D(40))
    [adjustment] = BasisAdjustment.objects.all()
    assert (adjustment.account_id, adjustment.lot_id, adjustment.trade.external_id) == (spouse.pk, "", "T-9")
    assert "trade record" in adjustment.reason

    # The custodian cancels the trade (a bust): the loss is deductible again.
    book_import(kind="trades", source=csv_file("account_number,symbol,side,quantity,price,trade_date,external_id,"
                                               "cancelled", "A-2,ITOT,buy,40,51,2026-10-12,T-9,yes"), as_of=AS_OF)
    sold.refresh_from_db()
    assert (sold.disallowed_loss, sold.reportable_gain) == (D(0), D("-1000.00"))
    assert not BasisAdjustment.objects.exists()


def test_a_lot_in_the_lots_file_bought_inside_the_window_is_a_replacement(book, pm):
    make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    apply(fill("S-1", loss_order(book, pm), 50, "100", LOSS_DAY))
    lots = ("account_number,lot_id,symbol,quantity,cost_basis,acquired", "A-2,C-7,VTI,50,5050,2026-10-03")

    book_import(kind="lots", source=csv_file(*lots), as_of=AS_OF)

    lot = TaxLot.objects.get(lot_id="C-7")
    assert (lot.cost_basis, lot.acquired, lot.bought_on, lot.wash_adjustment) == (
        D("6050.00"), date(2026, 6, 3), date(2026, 10, 3), D("1000.00"))
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == D("1000.00")

    # The same file again changes nothing: it is compared with the lots as bought.
    again = book_import(kind="lots", source=csv_file(*lots), as_of=AS_OF)
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 1)
    # The custodian corrects the date to outside the window: the wash sale is undone.
    book_import(kind="lots", source=csv_file(lots[0], "A-2,C-7,VTI,50,5050,2026-11-05"), as_of=AS_OF)
    lot.refresh_from_db()
    assert (lot.cost_basis, lot.acquired, lot.wash_adjustment) == (D("5050.00"), date(2026, 11, 5), D(0))
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == 0
    assert WashSaleRecalculation.objects.filter(trigger="lots file").exists()


def test_a_custodians_position_file_matches_lots_the_household_adjusted(book, pm, firm_a):
    apply(fill("S-1", loss_order(book, pm), 50, "100", LOSS_DAY))
    apply(fill("B-1", buy_order(book["account"], "VTI", 80, "102", date(2026, 10, 15), pm), 80, "102",
               date(2026, 10, 15)))
    assert set(TaxLot.objects.values_list("lot_id", flat=True)) == {"A-1-L1", "B-1", "B-1-W1"}

    # The custodian knows the lots as bought: B-1 is 80 shares for 8,160 on 10-15.
    reconciliation = reconciliation_import(source=csv_file(
        "account_number,lot_id,symbol,quantity,cost_basis,acquired",
        "A-1,A-1-L1,VTI,100,8000,2020-01-02", "A-1,B-1,VTI,80,8160,2026-10-15"), actor="custodian", as_of=AS_OF)

    [entry] = reconciliation.accounts.all()
    assert (entry.decision, entry.lot_differences) == (ReconciliationAccount.Decision.MATCHED, [])


def test_the_shares_kept_of_a_purchase_do_not_replace_the_half_sold_at_a_loss(book, pm):
    account = book["account"]
    order = buy_order(account, "VTI", 100, "100", date(2026, 10, 1), pm)
    apply(fill("B-1", order, 100, "100", date(2026, 10, 1)))
    [half] = release(account, [sell("VTI", 50, 90.0, [("B-1", 50)])], pm=pm, as_of=date(2026, 10, 20))
    apply(fill("S-1", half, 50, "90", date(2026, 10, 20)))

    # Rev. Rul. 56-602: the 50 kept were bought in the same purchase as the 50 sold, not to replace
    # them: the 500 loss is allowed, and the shares kept keep their basis and date.
    sold = RealisedLot.objects.get(execution__external_id="S-1")
    assert (sold.gain, sold.disallowed_loss, sold.wash_matched_quantity) == (D("-500.00"), D("0.00"), D(0))
    kept = TaxLot.objects.get(account=account, lot_id="B-1")
    assert (kept.quantity, kept.cost_basis, kept.acquired) == (D(50), D("5000.00"), date(2026, 10, 1))
    account.refresh_from_db()
    assert account.realised_short_term_ytd == D("-500.00")


@pytest.mark.parametrize("how", ["service", "accounts file"])
def test_an_account_moved_into_the_household_of_a_loss_sale_washes_it_whichever_way_it_moves(book, pm, how):
    """Pub. 550: a loss is washed by substantially identical shares bought within 30 days by you or
    your spouse (the household here). Z-1, in another household, bought VTI four days after A-1's
    loss sale; once Z-1 joins A-1's household the purchase washes the loss, and moving it out again
    undoes that - by the people's page (``household_account_move``) or an accounts file alike."""
    stranger = make_account("Z-1", model=book["model"], holdings=[])
    theirs = buy_order(stranger, "VTI", 50, "102", date(2026, 10, 5), pm)
    apply(fill("S-1", loss_order(book, pm), 50, "100", LOSS_DAY), fill("Z-B1", theirs, 50, "102", date(2026, 10, 5)))
    apart = ledger_state()
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == D(0)
    own, theirs_household = book["account"].household, Account.objects.get(pk=stranger.pk).household

    def move(household):
        if how == "service":
            household_account_move(user=pm, account=Account.objects.get(pk=stranger.pk), household=household)
        else:
            book_import(kind="accounts", as_of=AS_OF, source=csv_file("account_number,account_name,household_id",
                                                                      f"Z-1,Z,{household.external_id}"))

    move(own)
    assert Account.objects.get(pk=stranger.pk).household_id == own.pk
    assert RealisedLot.objects.get(execution__external_id="S-1").disallowed_loss == D("1000.00")
    move(theirs_household)
    assert ledger_state() == apart
