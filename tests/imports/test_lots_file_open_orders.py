"""A lots file may not change or remove a lot that a released sale still open (open or partly
filled) names shares of, not yet sold: the order is at the custodian naming those shares (specific
identification, IRS Pub. 550 "Adequate identification"), and once they are replaced its fills could
not take what it names (refused, or booked at another basis or date). Accepting a custodian's
positions is refused on the same rule (tests/ledger/test_reconciliation_open_orders.py); the lots
file, which writes lots with no decision, cut D-1-L2 from 32 to 30 under an order still selling 32
of it. The file is refused whole, naming line, column, account, order and lot; nothing is written."""

import random
import re
from collections import Counter
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing.imports import lots_import
from rebalancing.imports.report import ImportRejected
from rebalancing.ledger.executions import executions_import
from rebalancing.models import Security, TaxLot
from tenants.roles import FirmRole

from ..ledger import open_orders
from ..ledger.helpers import cancel, execution_csv, release, sell
from ..rebalancing.book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
HEADER = open_orders.LOTS_HEADER
WHY = ("the order was released to sell the lot's shares as the ledger holds them, so the file may not change the "
       "lot while it is open. The custodian may have filled or cancelled it already: import those executions "
       "first, then this file again")
SALE = re.compile(r"order (?P<order>\S+) still sells (?P<sells>\d+) shares of lot (?P<lot>[\w-]+)")


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@lots.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def book(firm_a):
    with tenant_context(firm_a):
        make_securities()
        model = make_model()
        make_account("A-1", model=model, template=make_template(), holdings=[("VTI", 100, 8000, date(2020, 1, 2))])
        yield {"model": model}


@pytest.fixture
def partly_sold(book, pm):
    return open_orders.partly_sold(book["model"], pm=pm, as_of=AS_OF)


def lots_of(number: str) -> dict:
    return {lot.lot_id: (lot.quantity, lot.cost_basis, lot.inherited)
            for lot in TaxLot.objects.filter(account__custodian_number=number)}


def problems_of(excinfo) -> list[tuple]:
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


def test_a_lot_an_open_sale_still_sells_is_not_changed_and_the_file_is_refused_naming_it(partly_sold):
    before = {number: lots_of(number) for number in ("A-1", "D-1")}

    with pytest.raises(ImportRejected) as refused:
        lots_import(source=(HEADER + "A-1,A-1-L1,VTI,100,8100,2020-01-02\n"  # acceptable alone
                                     "D-1,D-1-L2,VTI,30,3000,2024-02-01\n"
                                     "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), as_of=AS_OF)

    order = partly_sold.order_id
    assert problems_of(refused) == [(3, "quantity", (
        f"account D-1: order {order} still sells 32 shares of lot D-1-L2 (4 of the 36 it names already sold); "
        f"the file's lot holds 30 and its cost basis differs; {WHY}"))]
    assert "Nothing was imported" in refused.value.message
    assert {number: lots_of(number) for number in ("A-1", "D-1")} == before
    assert before["D-1"] == {"D-1-L2": (D(32), D("3200.00"), False), "D-1-L3": (D(10), D("1000.00"), False)}


def test_a_lot_the_file_leaves_out_is_named_on_its_accounts_first_line(partly_sold):
    order = partly_sold.order_id
    gone = f"account D-1: order {order} still sells 32 shares of lot D-1-L2 (4 of the 36 it names already sold); "
    with pytest.raises(ImportRejected) as left_out:
        lots_import(source=(HEADER + "A-1,A-1-L1,VTI,100,8000,2020-01-02\n"
                                     "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), as_of=AS_OF)
    assert problems_of(left_out) == [(3, "account_number", f"{gone}this file does not have the lot; {WHY}")]

    with pytest.raises(ImportRejected) as emptied:
        lots_import(source=(HEADER + "D-1,,,,,\n").encode(), as_of=AS_OF)
    assert problems_of(emptied) == [(2, "account_number", f"{gone}this file does not have the lot; {WHY}")]
    assert set(lots_of("D-1")) == {"D-1-L2", "D-1-L3"}


def test_only_the_fields_the_file_gives_are_compared_and_each_is_named_by_its_column(partly_sold):
    order = partly_sold.order_id
    sale = f"account D-1: order {order} still sells 32 shares of lot D-1-L2 (4 of the 36 it names already sold); "
    with pytest.raises(ImportRejected) as basis:
        lots_import(source=(HEADER + "D-1,D-1-L2,VTI,32,3300,2024-02-01\n"
                                     "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), as_of=AS_OF)
    assert problems_of(basis) == [(2, "cost_basis", f"{sale}the file's lot holds 32 too and its cost basis differs; {WHY}")]

    with pytest.raises(ImportRejected) as inherited:
        lots_import(source=(HEADER.replace("\n", ",inherited\n") + "D-1,D-1-L2,VTI,32,3200,2024-02-01,yes\n"
                                                                   "D-1,D-1-L3,VTI,10,1000,2024-03-01,no\n").encode(),
                    as_of=AS_OF)
    assert problems_of(inherited) == [
        (2, "inherited", f"{sale}the file's lot holds 32 too and its inherited mark differs; {WHY}")]
    assert lots_of("D-1")["D-1-L2"] == (D(32), D("3200.00"), False)

    # The same lot as the ledger has it, the lots no open sale names changed: written.
    summary = lots_import(source=(HEADER + "D-1,D-1-L2,VTI,32,3200,2024-02-01\n"
                                           "D-1,D-1-L3,VTI,12,1200,2024-03-01\n"
                                           "D-1,D-1-L4,VTI,5,500,2024-04-01\n").encode(), as_of=AS_OF)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 1)
    assert lots_of("D-1")["D-1-L3"] == (D(12), D("1200.00"), False)


def test_once_the_custodians_cancel_is_imported_the_same_file_is_written(partly_sold):
    source = (HEADER + "D-1,D-1-L2,VTI,30,3000,2024-02-01\nD-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode()
    with pytest.raises(ImportRejected):
        lots_import(source=source, as_of=AS_OF)

    executions_import(source=execution_csv(cancel("C-1", partly_sold, date(2026, 11, 19))), actor="feed", as_of=AS_OF)

    assert lots_import(source=source, as_of=AS_OF).updated == 1
    assert lots_of("D-1") == {"D-1-L2": (D(30), D("3000.00"), False), "D-1-L3": (D(10), D("1000.00"), False)}


def test_a_wash_sale_piece_the_order_names_is_named_on_its_lot_as_bought(book, pm):
    account = make_account("W-1", model=book["model"], holdings=[("VTI", 30, 3000, date(2024, 1, 2))])
    TaxLot.objects.filter(lot_id="W-1-L1").update(quantity=20, cost_basis=2000)
    TaxLot.objects.create(account=account, lot_id="W-1-L1-W1", purchase_lot_id="W-1-L1",
                          security=Security.objects.get(symbol="VTI"), quantity=10, cost_basis=1100,
                          wash_adjustment=100, acquired=date(2023, 12, 1), purchased=date(2024, 1, 2))
    [order] = release(account, [sell("VTI", 10, 100.0, [("W-1-L1-W1", 10)])], pm=pm, as_of=AS_OF)

    with pytest.raises(ImportRejected) as refused:
        lots_import(source=(HEADER + "W-1,W-1-L1,VTI,25,2500,2024-01-02\n").encode(), as_of=AS_OF)

    assert problems_of(refused) == [(2, "quantity", (
        f"account W-1: order {order.order_id} still sells 10 shares of lot W-1-L1-W1 (part of lot W-1-L1); the "
        f"file's lot holds 25 and its cost basis differs; {WHY}"))]
    assert TaxLot.objects.filter(account=account).count() == 2


def test_which_files_are_refused_agrees_with_a_share_by_share_reading(book, pm):
    """Random accounts, open orders and lots files: a file is refused exactly when a lot it changes
    (quantity, basis, date, or left out) still has shares to sell under an open order, naming each."""
    rng = random.Random(1212)
    outcomes = Counter()
    for n in range(25):
        savepoint = transaction.savepoint()
        try:
            case = open_orders.random_open_orders(rng, f"R-{n}", book["model"], AS_OF)
            number, expected, source = case.account.custodian_number, case.expected, case.source
            before = lots_of(number)
            if expected:
                with pytest.raises(ImportRejected) as refused:
                    lots_import(source=source, as_of=AS_OF)
                named = [SALE.search(problem) for _, _, problem in problems_of(refused)]
                assert sorted((m["order"], m["lot"], int(m["sells"])) for m in named) == expected
                assert lots_of(number) == before
                outcomes["refused"] += 1
            else:
                lots_import(source=source, as_of=AS_OF)
                assert set(lots_of(number)) == {line.split(",")[1] for line in case.lines} - {""}
                outcomes["written"] += 1
        finally:
            transaction.savepoint_rollback(savepoint)
    assert outcomes["refused"] >= 5 and outcomes["written"] >= 5, outcomes  # both sides were tried
