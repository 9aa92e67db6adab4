"""Wash sales recorded in the ledger (IRC §1091, IRS Pub. 550), with hand-checked numbers.

A-1 holds A-1-L2: 50 VTI bought 2026-06-01 for 6,000. Sold for 5,000 on 2026-10-01, it loses
1,000 after 122 days (Jun 1 -> Oct 1: 30 + 31 + 31 + 30). VTI and ITOT are substantially
identical here (equivalence group "us_total").
"""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, BasisAdjustment, Household, RealisedLot, TaxLot
from tenants.audit.models import AuditEvent

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
LOSS_DAY = date(2026, 10, 1)


def apply(*rows):
    return executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=AS_OF)


def loss_sale(book, pm):
    [order] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                      as_of=LOSS_DAY)
    apply(fill("S-1", order, 50, "100", LOSS_DAY))
    return RealisedLot.objects.get(execution__external_id="S-1")


def purchase(account, symbol, quantity, price, day, pm, external_id="B-1"):
    [order] = release(account, [buy(symbol, quantity, price)], pm=pm, as_of=day)
    apply(fill(external_id, order, quantity, price, day))
    return TaxLot.objects.filter(account=account, lot_id__startswith=external_id)


def ytd(account) -> tuple:
    account = Account.objects.get(pk=account.pk)
    return account.realised_short_term_ytd, account.realised_long_term_ytd


def test_a_full_repurchase_weeks_later_disallows_the_loss_and_moves_it_to_the_new_shares(book, pm):
    account = book["account"]
    sold = loss_sale(book, pm)
    assert (sold.gain, sold.disallowed_loss, ytd(account)[0]) == (D("-1000.00"), D(0), D("-1000.00"))

    [lot] = purchase(account, "VTI", 50, "102", date(2026, 10, 15), pm)  # imported after the sale

    sold.refresh_from_db()
    assert (sold.disallowed_loss, sold.wash_matched_quantity, sold.reportable_gain) == (D("1000.00"), D(50), D(0))
    # 50 x 102 = 5,100 + the 1,000 disallowed; the holding period starts 122 days before 2026-10-15.
    assert (lot.lot_id, lot.quantity, lot.cost_basis, lot.acquired) == ("B-1", D(50), D("6100.00"), date(2026, 6, 15))
    adjustment = BasisAdjustment.objects.get(lot_id="B-1")
    assert (adjustment.source_id, adjustment.quantity, adjustment.disallowed_loss, adjustment.basis_added) == (
        sold.pk, D(50), D("1000.00"), D("1000.00"))
    assert (adjustment.acquired_before, adjustment.acquired_after, adjustment.holding_days_added) == (
        date(2026, 10, 15), date(2026, 6, 15), 122)
    assert "IRC §1091" in adjustment.reason and "14 days after the loss sale on 2026-10-01" in adjustment.reason
    assert ytd(account) == (D("0.00"), D(0))
    assert AuditEvent.objects.filter(action="lot.wash_sale", object_id=str(adjustment.pk)).exists()


def test_a_partial_repurchase_disallows_only_the_replaced_shares_loss(book, pm):
    account = book["account"]
    sold = loss_sale(book, pm)

    [lot] = purchase(account, "VTI", 20, "102", date(2026, 10, 15), pm)

    sold.refresh_from_db()
    # 1,000 x 20 / 50 = 400 disallowed; 600 of the loss stays deductible.
    assert (sold.disallowed_loss, sold.wash_matched_quantity, sold.reportable_gain) == (D("400.00"), D(20), D("-600.00"))
    assert (lot.quantity, lot.cost_basis, lot.acquired) == (D(20), D("2440.00"), date(2026, 6, 15))  # 2,040 + 400
    assert ytd(account)[0] == D("-600.00")


def test_buying_more_shares_than_were_sold_splits_off_the_replacement_shares(book, pm):
    account = book["account"]
    loss_sale(book, pm)

    lots = {lot.lot_id: lot for lot in purchase(account, "VTI", 80, "102", date(2026, 10, 15), pm)}

    # 80 x 102 = 8,160: 50 shares (5,100) replace the 50 sold and carry the 1,000; 30 (3,060) do not.
    assert {k: (v.quantity, v.cost_basis, v.acquired) for k, v in lots.items()} == {
        "B-1": (D(30), D("3060.00"), date(2026, 10, 15)),
        "B-1-W1": (D(50), D("6100.00"), date(2026, 6, 15)),
    }


def test_a_purchase_before_the_loss_sale_of_a_substantially_identical_fund_is_a_replacement(book, pm):
    account = book["account"]
    [lot] = purchase(account, "ITOT", 50, "50", date(2026, 9, 20), pm)  # 11 days before the sale
    assert (lot.cost_basis, lot.acquired) == (D("2500.00"), date(2026, 9, 20))

    sold = loss_sale(book, pm)

    lot.refresh_from_db()
    assert sold.disallowed_loss == D("1000.00")
    # Bought before the sale, while the sold shares were held: overlapping days count once, so its
    # holding period starts when theirs did (2026-06-01), not 122 days before its own purchase.
    assert (lot.cost_basis, lot.acquired) == (D("3500.00"), date(2026, 6, 1))
    assert "11 days before" in BasisAdjustment.objects.get(lot_id="B-1").reason


def test_a_purchase_in_another_account_of_the_household_is_a_replacement(book, pm):
    account = book["account"]
    spouse = make_account("A-2", model=book["model"], household=account.household, holdings=[])
    loss_sale(book, pm)

    [lot] = purchase(spouse, "VTI", 50, "102", date(2026, 10, 20), pm)

    assert (lot.cost_basis, lot.acquired) == (D("6100.00"), date(2026, 6, 20))
    assert RealisedLot.objects.get(account=account).disallowed_loss == D("1000.00")
    assert ytd(account)[0] == D("0.00") and ytd(spouse) == (D(0), D(0))


def test_a_replacement_in_the_households_ira_disallows_the_loss_for_good(book, pm):
    account = book["account"]
    ira = make_account("A-IRA", model=book["model"], household=account.household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    loss_sale(book, pm)

    [lot] = purchase(ira, "VTI", 50, "102", date(2026, 10, 20), pm)

    # Rev. Rul. 2008-5: disallowed, and the IRA's basis does not grow.
    assert RealisedLot.objects.get(account=account).disallowed_loss == D("1000.00")
    assert (lot.cost_basis, lot.acquired) == (D("5100.00"), date(2026, 10, 20))
    assert BasisAdjustment.objects.get(lot_id="B-1").basis_added == D(0)


def test_a_loss_sale_with_no_repurchase_keeps_its_loss(book, pm):
    account = book["account"]
    stranger = make_account("Z-1", model=book["model"], holdings=[])  # another household
    assert stranger.household_id != account.household_id
    sold = loss_sale(book, pm)
    purchase(account, "VTI", 50, "102", date(2026, 11, 1), pm)  # 31 days after
    purchase(stranger, "VTI", 50, "102", date(2026, 10, 15), pm, external_id="B-2")
    purchase(account, "BND", 50, "80", date(2026, 10, 15), pm, external_id="B-3")  # not identical

    sold.refresh_from_db()
    assert (sold.disallowed_loss, sold.reportable_gain) == (D(0), D("-1000.00"))
    assert not BasisAdjustment.objects.exists()
    assert Household.objects.count() == 2


def test_the_holding_period_of_the_shares_sold_is_tacked_onto_the_replacement(book, pm):
    account = make_account("T-1", model=book["model"], holdings=[("VTI", 100, 12000, date(2025, 9, 1))])
    [sale] = release(account, [sell("VTI", 100, 100.0, [("T-1-L1", 100)])], pm=pm, as_of=date(2026, 2, 2))
    apply(fill("S-1", sale, 100, "100", date(2026, 2, 2)))  # held 154 days, 2,000 short-term loss
    [lot] = purchase(account, "VTI", 100, "101", date(2026, 2, 10), pm)
    assert (lot.cost_basis, lot.acquired) == (D("12100.00"), date(2025, 9, 9))  # 10,100 + 2,000; -154 days

    [resale] = release(account, [sell("VTI", 100, 130.0, [("B-1", 100)])], pm=pm, as_of=date(2026, 9, 15))
    apply(fill("S-2", resale, 100, "130", date(2026, 9, 15)))

    # Bought 2026-02-10 and sold 2026-09-15 (seven months), yet long-term: the holding period runs
    # from 2025-09-09, and 2026-09-15 is after its anniversary.
    realised = RealisedLot.objects.get(execution__external_id="S-2")
    assert (realised.proceeds, realised.cost_basis, realised.gain, realised.term) == (
        D("13000.00"), D("12100.00"), D("900.00"), "long")
    assert (realised.acquired, realised.purchased, realised.replacement) == (date(2025, 9, 9), date(2026, 2, 10), True)
    assert ytd(account) == (D("0.00"), D("900.00"))


def test_replacement_shares_sold_before_the_loss_sale_carry_the_disallowed_loss_in_their_sale(book, pm):
    account = book["account"]
    purchase(account, "VTI", 50, "100", date(2026, 9, 20), pm, external_id="B-1")
    [resale] = release(account, [sell("VTI", 50, 110.0, [("B-1", 50)])], pm=pm, as_of=date(2026, 9, 25))
    apply(fill("S-0", resale, 50, "110", date(2026, 9, 25)))  # a 500 short-term gain

    sold = loss_sale(book, pm)  # 2026-10-01: B-1 was bought 11 days before

    resold = RealisedLot.objects.get(execution__external_id="S-0")
    assert sold.pk != resold.pk and RealisedLot.objects.get(pk=sold.pk).disallowed_loss == D("1000.00")
    # The 1,000 goes into the basis of the shares sold on 2026-09-25: 5,500 - 6,000 = -500; their
    # holding period starts with the sold shares' (2026-06-01).
    assert (resold.cost_basis, resold.gain, resold.acquired, resold.replacement) == (
        D("6000.00"), D("-500.00"), date(2026, 6, 1), True)
    assert ytd(account)[0] == D("-500.00")  # +500 - 1,000 + 1,000 - 1,000
