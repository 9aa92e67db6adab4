"""What happens to the household's history when a custodian's files change the lots held.

A wash sale stands once the replacement shares were acquired in the window (IRC §1091(a); Treas.
Reg. §1.1091-1(a) "has acquired"): the shares leaving the household later - a gift, a transfer to
another custodian - do not restore the loss (and under §1015(a) the donee takes the adjusted
basis). A sale's basis and term are fixed when it is made (§1012): a later split (Pub. 550 "Stock
splits") or return of capital (Pub. 550 "Nondividend distributions") changes the shares held, not
past sales. Worked examples, then random households through the real ledger against the
share-by-share reading of ``test_wash_sales_replay`` (found by the audit of 2026-12-06:
``adjustments._history`` dropped a fill whose lot had left, and priced every past draw at the held
lot's new cost per share)."""

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.imports import lots_import
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.holdings import held_lots_as_bought
from rebalancing.ledger.reconciliation import reconciliation_accept, reconciliation_import
from rebalancing.models import Account, BasisAdjustment, RealisedLot, Security, TaxLot, WashSaleRecalculation

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell
from .test_household_history_property import (
    _agree,
    _apply_each,
    _expected,
    _orders,
    _sale_of,
    _stored,
    histories,
)

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
LOTS = ("account_number", "lot_id", "symbol", "quantity", "cost_basis", "acquired", "gift_date", "gift_value")
POSITIONS = LOTS[:6]


def lots_file(*rows, columns=LOTS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([*row, *[""] * (len(columns) - len(row))])
    return out.getvalue().encode()


def sales():
    return sorted(RealisedLot.objects.values_list("lot_id", "quantity", "proceeds", "cost_basis", "gain", "term",
                                                  "acquired", "purchased", "disallowed_loss", "unit_cost"))


def ytd(account):
    account.refresh_from_db()
    return account.realised_short_term_ytd, account.realised_long_term_ytd


def wash_then_buy_back(book, pm):
    """A-1 sells A-1-L2 (50 VTI, basis 6,000) at 100 on 2026-10-20 and buys 50 back at 100 on
    2026-11-01 (lot B1): 1,000 disallowed and added to B1 (6,000)."""
    account = book["account"]
    [s] = release(account, [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=date(2026, 10, 20))
    executions_import(source=execution_csv(fill("S1", s, 50, "100", date(2026, 10, 20))), actor="t",
                      as_of=date(2026, 10, 20))
    [b] = release(account, [buy("VTI", 50, 100.0)], pm=pm, as_of=date(2026, 11, 1))
    executions_import(source=execution_csv(fill("B1", b, 50, "100", date(2026, 11, 1))), actor="t",
                      as_of=date(2026, 11, 1))
    [loss] = RealisedLot.objects.filter(lot_id="A-1-L2")
    assert (loss.gain, loss.disallowed_loss) == (D("-1000.00"), D("1000.00"))
    assert TaxLot.objects.get(account=account, lot_id="B1").cost_basis == D("6000.00")
    assert ytd(account) == (D("0.00"), D("0.00"))
    [adjustment] = BasisAdjustment.objects.all()
    # The buy-back changed the sale booked before it: recorded as a recalculation, the last one.
    assert WashSaleRecalculation.objects.count() == 1
    return adjustment


def assert_wash_stands(account, adjustment):
    [loss] = RealisedLot.objects.filter(lot_id="A-1-L2")
    assert (loss.gain, loss.disallowed_loss, loss.wash_matched_quantity) == (D("-1000.00"), D("1000.00"), D("50"))
    assert ytd(account) == (D("0.00"), D("0.00")), "the loss is not deducted a second time"
    # The record of the basis added stays as it was: the receiving side's basis includes it (§1015(a)).
    [kept] = BasisAdjustment.objects.all()
    assert kept.pk == adjustment.pk
    assert (kept.lot_id, kept.quantity, kept.basis_added, kept.purchase_id, kept.source_id) == (
        "B1", D("50"), D("1000.00"), adjustment.purchase_id, loss.pk)
    assert WashSaleRecalculation.objects.count() == 1, "the file changed no sale"


def test_replacement_shares_given_to_another_household_leave_the_wash_sale_standing(book, pm):
    adjustment = wash_then_buy_back(book, pm)
    child = make_account("C-1", model=book["model"], holdings=[])  # another household
    # B1 given to a child on 2026-11-15 (worth 5,000): the child takes the donor's 6,000 and dates.
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"),
                                 ("C-1", "G1", "VTI", 50, 6000, "2026-06-13", "2026-11-15", 5000)), as_of=AS_OF)
    assert not TaxLot.objects.filter(account=book["account"], lot_id="B1").exists()
    assert_wash_stands(book["account"], adjustment)
    assert TaxLot.objects.get(account=child, lot_id="G1").cost_basis == D("6000.00")


def test_replacement_shares_transferred_to_another_custodian_leave_the_wash_sale_standing(book, pm):
    adjustment = wash_then_buy_back(book, pm)
    # The custodian's positions no longer show B1 (moved out); accepting them changes no sale.
    reconciliation = reconciliation_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"), columns=POSITIONS),
                                           as_of=AS_OF)
    reconciliation_accept(reconciliation=reconciliation, user=pm)
    assert list(TaxLot.objects.filter(account=book["account"]).values_list("lot_id", flat=True)) == ["A-1-L1"]
    assert_wash_stands(book["account"], adjustment)


def test_half_the_replacement_shares_leave_and_the_half_held_keeps_its_basis(book, pm):
    adjustment = wash_then_buy_back(book, pm)
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"),
                                 ("A-1", "B1", "VTI", 25, 2500, "2026-11-01")), as_of=AS_OF)
    [loss] = RealisedLot.objects.filter(lot_id="A-1-L2")
    assert (loss.disallowed_loss, loss.wash_matched_quantity) == (D("1000.00"), D("50"))
    assert ytd(book["account"]) == (D("0.00"), D("0.00"))
    # The 25 held carry 500 (held shares first); the 25 gone took theirs with them.
    [held] = TaxLot.objects.filter(account=book["account"], lot_id__startswith="B1")
    assert (held.quantity, held.cost_basis, held.wash_adjustment, held.acquired) == (
        D("25"), D("3000.00"), D("500.00"), date(2026, 6, 13))
    assert sorted(BasisAdjustment.objects.values_list("lot_id", "quantity", "basis_added", "purchase_id")) == [
        ("B1", D("25"), D("500.00"), adjustment.purchase_id), ("B1", D("25"), D("500.00"), adjustment.purchase_id)]
    assert WashSaleRecalculation.objects.count() == 1


def test_replacement_shares_moved_in_kind_within_the_household_carry_the_basis_added(book, pm):
    wash_then_buy_back(book, pm)
    a2 = make_account("A-2", model=book["model"], household=book["account"].household, holdings=[])
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"),
                                 ("A-2", "X7", "VTI", 50, 5000, "2026-11-01")), as_of=AS_OF)
    moved = TaxLot.objects.get(account=a2, lot_id="X7")
    assert (moved.cost_basis, moved.wash_adjustment, moved.acquired) == (D("6000.00"), D("1000.00"), date(2026, 6, 13))
    [loss] = RealisedLot.objects.filter(lot_id="A-1-L2")
    assert (loss.disallowed_loss, loss.wash_matched_quantity) == (D("1000.00"), D("50")), "counted once, not twice"
    assert list(BasisAdjustment.objects.values_list("account__custodian_number", "lot_id", "basis_added")) == [
        ("A-2", "X7", D("1000.00"))]


def test_shares_moved_in_kind_stay_part_of_their_purchase(book, pm):
    # One order filled 25 + 25 on 11-01; 25 of the first fill sold at a loss on 11-05: the other 25
    # of the same purchase are no replacement (Rev. Rul. 56-602), and stay none once moved to A-2.
    account = book["account"]
    a2 = make_account("A-2", model=book["model"], household=account.household, holdings=[])
    [b] = release(account, [buy("VTI", 50, 100.0)], pm=pm, as_of=date(2026, 11, 1))
    executions_import(source=execution_csv(fill("F1", b, 25, "100", date(2026, 11, 1)),
                                           fill("F2", b, 25, "100", date(2026, 11, 1))), actor="t",
                      as_of=date(2026, 11, 1))
    [s] = release(account, [sell("VTI", 25, 90.0, [("F1", 25)])], pm=pm, as_of=date(2026, 11, 5))
    executions_import(source=execution_csv(fill("S1", s, 25, "90", date(2026, 11, 5))), actor="t",
                      as_of=date(2026, 11, 5))
    booked = sales()
    assert [(r[0], r[4], r[8]) for r in booked] == [("F1", D("-250.00"), D("0.00"))]
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"),
                                 ("A-1", "A-1-L2", "VTI", 50, 6000, "2026-06-01"),
                                 ("A-2", "X", "VTI", 25, 2500, "2026-11-01")), as_of=AS_OF)
    assert sales() == booked
    assert TaxLot.objects.get(account=a2, lot_id="X").cost_basis == D("2500.00")
    assert ytd(account) == (D("-250.00"), D("0.00"))
    assert not BasisAdjustment.objects.exists()


def test_a_buy_whose_lot_left_before_the_loss_sale_still_washes_it(book, pm):
    # Bought 50 on 11-01, given away before the loss sale of 11-10: acquired within 30 days before it.
    account = book["account"]
    make_account("C-1", model=book["model"], holdings=[])
    [b] = release(account, [buy("VTI", 50, 100.0)], pm=pm, as_of=date(2026, 11, 1))
    executions_import(source=execution_csv(fill("B1", b, 50, "100", date(2026, 11, 1))), actor="t",
                      as_of=date(2026, 11, 1))
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 8000, "2020-01-02"),
                                 ("A-1", "A-1-L2", "VTI", 50, 6000, "2026-06-01"),
                                 ("C-1", "G1", "VTI", 50, 5000, "2026-11-01", "2026-11-05", 5000)),
                as_of=date(2026, 11, 5))
    [s] = release(account, [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=date(2026, 11, 10))
    executions_import(source=execution_csv(fill("S1", s, 50, "100", date(2026, 11, 10))), actor="t",
                      as_of=date(2026, 11, 10))
    [loss] = RealisedLot.objects.filter(lot_id="A-1-L2")
    assert (loss.gain, loss.disallowed_loss) == (D("-1000.00"), D("1000.00"))
    [adjustment] = BasisAdjustment.objects.all()
    assert (adjustment.lot_id, adjustment.basis_added, adjustment.trade_id) == ("B1", D("1000.00"), None)


def sell_both_lots(book, pm):
    """A-1 sells 50 of A-1-L1 (80 a share) and 25 of A-1-L2 (120 a share) at 100 on 2026-11-02:
    +1,000 long-term and -500 short-term."""
    [order] = release(book["account"], [sell("VTI", 75, 100.0, [("A-1-L1", 50), ("A-1-L2", 25)])], pm=pm,
                      as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("S1", order, 75, "100", date(2026, 11, 2))), actor="t",
                      as_of=date(2026, 11, 2))
    assert sales() == [
        ("A-1-L1", D("50"), D("5000.00"), D("4000.00"), D("1000.00"), "long", date(2020, 1, 2), date(2020, 1, 2),
         D("0.00"), D("80")),
        ("A-1-L2", D("25"), D("2500.00"), D("3000.00"), D("-500.00"), "short", date(2026, 6, 1), date(2026, 6, 1),
         D("0.00"), D("120"))]
    assert ytd(book["account"]) == (D("-500.00"), D("1000.00"))
    return sales()


def test_a_split_in_a_lots_file_leaves_the_sales_before_it_as_booked(book, pm):
    booked = sell_both_lots(book, pm)
    # A 2:1 split on 2026-11-10: the 50 and 25 shares held are now 100 at 40 and 50 at 60.
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 100, 4000, "2020-01-02"),
                                 ("A-1", "A-1-L2", "VTI", 50, 3000, "2026-06-01")), as_of=AS_OF)
    assert sales() == booked
    assert ytd(book["account"]) == (D("-500.00"), D("1000.00"))
    assert not WashSaleRecalculation.objects.exists()
    assert sorted(TaxLot.objects.values_list("lot_id", "quantity", "cost_basis")) == [
        ("A-1-L1", D("100"), D("4000.00")), ("A-1-L2", D("50"), D("3000.00"))]
    # The next sale takes the new cost per share: 40 of A-1-L1 at 50 gain 10 a share.
    [order] = release(book["account"], [sell("VTI", 40, 50.0, [("A-1-L1", 40)])], pm=pm, as_of=date(2026, 11, 20))
    executions_import(source=execution_csv(fill("S2", order, 40, "50", date(2026, 11, 20))), actor="t", as_of=AS_OF)
    assert RealisedLot.objects.get(execution__external_id="S2").cost_basis == D("1600.00")
    assert [s for s in sales() if s[1] != D("40")] == booked


def test_a_return_of_capital_accepted_from_the_custodian_lowers_the_shares_held_only(book, pm):
    booked = sell_both_lots(book, pm)
    # 10 a share returned on the 50 shares still held of A-1-L1: their basis 4,000 -> 3,500.
    reconciliation = reconciliation_import(source=lots_file(("A-1", "A-1-L1", "VTI", 50, 3500, "2020-01-02"),
                                                            ("A-1", "A-1-L2", "VTI", 25, 3000, "2026-06-01"),
                                                            columns=POSITIONS), as_of=AS_OF)
    reconciliation_accept(reconciliation=reconciliation, user=pm)
    assert sales() == booked
    assert ytd(book["account"]) == (D("-500.00"), D("1000.00"))
    assert TaxLot.objects.get(lot_id="A-1-L1").cost_basis == D("3500.00")
    assert not WashSaleRecalculation.objects.exists()


def test_a_later_file_of_the_lots_purchase_date_or_gift_leaves_the_sales_before_it(book, pm):
    booked = sell_both_lots(book, pm)
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 50, 4000, "2020-01-02", "2024-03-01", 3000),
                                 ("A-1", "A-1-L2", "VTI", 25, 3000, "2025-01-02")), as_of=AS_OF)
    assert sales() == booked
    assert ytd(book["account"]) == (D("-500.00"), D("1000.00"))
    assert not RealisedLot.objects.exclude(gift_date=None).exists()


def test_a_split_of_a_replacement_keeps_the_wash_sale_and_its_basis(book, pm):
    account = book["account"]
    [s] = release(account, [sell("VTI", 25, 100.0, [("A-1-L2", 25)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("S1", s, 25, "100", date(2026, 11, 2))), actor="t",
                      as_of=date(2026, 11, 2))
    [b] = release(account, [buy("VTI", 25, 100.0)], pm=pm, as_of=date(2026, 11, 5))
    executions_import(source=execution_csv(fill("B1", b, 25, "100", date(2026, 11, 5))), actor="t",
                      as_of=date(2026, 11, 5))
    booked, recalculations = sales(), WashSaleRecalculation.objects.count()
    assert booked[0][3:5] == (D("3000.00"), D("-500.00")) and booked[0][8] == D("500.00")
    # 2:1 on 2026-11-10: every lot's shares double, their cost as bought stays.
    lots_import(source=lots_file(("A-1", "A-1-L1", "VTI", 200, 8000, "2020-01-02"),
                                 ("A-1", "A-1-L2", "VTI", 50, 3000, "2026-06-01"),
                                 ("A-1", "B1", "VTI", 50, 2500, "2026-11-05")), as_of=AS_OF)
    assert sales() == booked
    assert ytd(account) == (D("0.00"), D("0.00"))
    pieces = TaxLot.objects.filter(account=account, lot_id__startswith="B1")
    assert sum(p.quantity for p in pieces) == D("50") and sum(p.cost_basis for p in pieces) == D("3000.00")
    assert WashSaleRecalculation.objects.count() == recalculations


# -- random households -----------------------------------------------------------------------------


def _household(book):
    household = book["account"].household
    accounts = {"A-1": book["account"],
                "A-2": make_account("A-2", model=book["model"], household=household, holdings=[]),
                "IRA": make_account("IRA", model=book["model"], household=household, holdings=[])}
    Account.objects.filter(pk=accounts["IRA"].pk).update(tax_status="traditional")
    make_account("C-1", model=book["model"], holdings=[])  # another household: gifts go there
    return accounts


def _booked():
    """Every sale as booked and the accounts' year's figures."""
    rows = sorted((r.account.custodian_number, r.execution.external_id, r.lot_id, r.quantity, r.proceeds,
                   r.cost_basis, r.gain, r.term, r.acquired, r.purchased, r.disallowed_loss, r.disallowed_permanently,
                   r.wash_matched_quantity, r.wash_adjustment, r.unit_cost)
                  for r in RealisedLot.objects.select_related("account", "execution"))
    figures = sorted(Account.objects.values_list("custodian_number", "realised_short_term_ytd",
                                                 "realised_long_term_ytd"))
    return rows, figures


def _restated_file(accounts, choose) -> bytes:
    """The household's lots as bought, each one ``choose(lot)`` -> rows of the new file (A-1 keeps
    its own account line even when empty)."""
    symbols = dict(Security.objects.values_list("pk", "symbol"))
    number = {a.pk: n for n, a in accounts.items()}
    rows = [(n,) for n in accounts]
    for lot in sorted(held_lots_as_bought([a.pk for a in accounts.values()]),
                      key=lambda e: (number[e["account_id"]], e["lot_id"])):
        rows += choose(number[lot["account_id"]], lot["lot_id"], symbols[lot["security_id"]], lot["quantity"],
                       lot["cost_basis"], lot["acquired"])
    with_lots = {r[0] for r in rows if len(r) > 1}
    return lots_file(*(r for r in rows if len(r) > 1 or r[0] not in with_lots))


@st.composite
def fates(draw):
    """What the file says of each held lot: kept, left (gone to another custodian, or given to
    another household), moved in kind to the household's other taxable account under another id, a
    return of capital of a part of its basis."""
    return draw(st.lists(st.sampled_from(["keep", "gone", "gift", "move", "return"]), min_size=30,
                         max_size=30)), \
        draw(st.lists(st.integers(1, 99), min_size=30, max_size=30))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=histories(), fate=fates())
def test_lots_leaving_moving_or_returning_capital_change_no_sale_and_agree_with_the_share_by_share_reading(
        book, pm, steps, fate):
    savepoint = transaction.savepoint()
    try:
        accounts = _household(book)
        _apply_each(sorted(_orders(book, accounts, steps, pm), key=lambda r: (r[0]["trade_date"], r[0]["external_id"])))
        booked, recalculations = _booked(), WashSaleRecalculation.objects.count()
        before_adjusted = sum((a.disallowed_loss for a in BasisAdjustment.objects.all()), D(0))
        kinds, parts = fate
        count = iter(range(30))

        def choose(account, lot_id, symbol, quantity, cost, acquired):
            n = next(count)
            if kinds[n] == "gone":
                return []
            if kinds[n] == "gift":
                return [("C-1", f"G-{account}-{lot_id}", symbol, quantity, cost, acquired, AS_OF, cost)]
            if kinds[n] == "move" and account != "IRA":
                return [("A-2" if account == "A-1" else "A-1", f"M-{lot_id}", symbol, quantity, cost, acquired)]
            if kinds[n] == "return":
                cost = (cost * parts[n] / 100).quantize(D("0.01"))
            return [(account, lot_id, symbol, quantity, cost, acquired)]

        lots_import(source=_restated_file(accounts, choose), as_of=AS_OF)
        assert _booked() == booked, "no sale, and no year's figure, moved"
        assert WashSaleRecalculation.objects.count() == recalculations
        assert sum((a.disallowed_loss for a in BasisAdjustment.objects.all()), D(0)) == before_adjusted
        # The sales agree with the share-by-share reading of the whole history, as bought.
        sale_of = _sale_of(steps)
        stored = {k: v for k, v in _stored(sale_of).items() if k[2] is not None}
        expected = {k: v for k, v in _expected(steps, {"A-1": True, "A-2": True, "IRA": False}).items()
                    if k[2] is not None}
        _agree(stored, expected)
    finally:
        transaction.savepoint_rollback(savepoint)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=histories(), ratio=st.sampled_from([2, 3, D("0.5")]))
def test_a_split_restates_the_shares_held_and_never_a_sales_own_figures(book, pm, steps, ratio):
    savepoint = transaction.savepoint()
    try:
        accounts = _household(book)
        _apply_each(sorted(_orders(book, accounts, steps, pm), key=lambda r: (r[0]["trade_date"], r[0]["external_id"])))

        def own():
            """What each sale of each lot was booked with, before the wash-sale rule."""
            out = defaultdict(lambda: [D(0), D(0), D(0), set()])
            for r in RealisedLot.objects.select_related("account", "execution"):
                row = out[(r.account.custodian_number, r.execution.external_id, r.bought_as)]
                row[0] += r.quantity
                row[1] += r.proceeds
                row[2] += r.cost_basis - r.wash_adjustment
                row[3].add((r.purchased, r.unit_cost, r.sold))
            return dict(out)

        booked = own()
        shares_held = defaultdict(Fraction)
        for lot in held_lots_as_bought([a.pk for a in accounts.values()]):
            shares_held[lot["lot_id"]] += Fraction(lot["quantity"])

        def split(account, lot_id, symbol, quantity, cost, acquired):
            return [(account, lot_id, symbol, quantity * ratio, cost, acquired)]

        lots_import(source=_restated_file(accounts, split), as_of=AS_OF)
        assert own() == booked
        for lot in held_lots_as_bought([a.pk for a in accounts.values()]):
            assert Fraction(lot["quantity"]) == shares_held[lot["lot_id"]] * Fraction(ratio)
    finally:
        transaction.savepoint_rollback(savepoint)
