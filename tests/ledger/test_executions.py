"""Fills in: lots relieved by specific identification, realised gains, cash, orders and proposals;
twice is once; a bad file is refused whole with a row-level report."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection

from rebalancing.imports import ImportRejected
from rebalancing.ledger.executions import executions_apply, executions_import
from rebalancing.models import (
    Account,
    Execution,
    Order,
    Proposal,
    RealisedLot,
    TaxLot,
    TradeRecord,
)
from tenants.audit.models import AuditEvent

from .helpers import buy, cancel, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
RELEASED = date(2026, 11, 16)  # the orders' day: the fills below come after it
LEDGER_MODELS = (Account, TaxLot, Order, Execution, RealisedLot, TradeRecord, Proposal, AuditEvent)


def lots_of(account) -> dict:
    return {lot.lot_id: (lot.security.symbol, lot.quantity, lot.cost_basis, lot.acquired)
            for lot in TaxLot.objects.filter(account=account).select_related("security")}


def realised_of(account) -> list[tuple]:
    return [(r.lot_id, r.quantity, r.proceeds, r.cost_basis, r.gain, r.term, r.sold)
            for r in RealisedLot.objects.filter(account=account).order_by("sold", "pk")]


def physical_rows(*models) -> dict:
    snapshot = {}
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'SELECT ctid::text, * FROM "{model._meta.db_table}" ORDER BY id')
            snapshot[model.__name__] = cursor.fetchall()
    return snapshot


def problems_of(excinfo) -> list[tuple]:
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


@pytest.fixture
def sale(book, pm):
    """An order selling 120 VTI: the short-term loss lot L2 first, then 70 of L1, as the engine chose."""
    [order] = release(book["account"], [sell("VTI", 120, 100.0, [("A-1-L2", 50), ("A-1-L1", 70)])], pm=pm, as_of=RELEASED)
    return order


def test_release_makes_orders_naming_the_engines_lots(book, pm, sale):
    assert (sale.order_id, sale.side, sale.quantity, sale.status) == (f"P{sale.proposal_id}-1", "sell", D(120), "open")
    assert sale.lots == [{"lot_id": "A-1-L2", "quantity": "50.000000"}, {"lot_id": "A-1-L1", "quantity": "70.000000"}]
    assert sale.block_id == "B20261116-SELL-VTI" and sale.proposal.status == Proposal.Status.RELEASED
    assert AuditEvent.objects.filter(action="orders.create", object_id=str(sale.proposal_id)).exists()


def test_a_fill_relieves_the_named_lots_and_records_gains_per_lot_with_their_term(book, sale):
    account = book["account"]

    summary = executions_import(source=execution_csv(fill("X-1", sale, 120, "100.00", date(2026, 11, 18))),
                                actor="test", as_of=AS_OF)

    assert (summary.rows, summary.created, summary.unchanged) == (1, 1, 0)
    # L2: 50 x 100 = 5,000 against 6,000: a 1,000 short-term loss. L1: 70 x 100 = 7,000 against
    # 70 x 80 = 5,600: a 1,400 long-term gain. 30 shares of L1 remain, at 2,400.
    assert realised_of(account) == [
        ("A-1-L2", D(50), D("5000.00"), D("6000.00"), D("-1000.00"), "short", date(2026, 11, 18)),
        ("A-1-L1", D(70), D("7000.00"), D("5600.00"), D("1400.00"), "long", date(2026, 11, 18)),
    ]
    assert lots_of(account) == {"A-1-L1": ("VTI", D(30), D("2400.00"), date(2020, 1, 2))}
    account.refresh_from_db()
    assert (account.cash, account.realised_short_term_ytd, account.realised_long_term_ytd) == (
        D("13000.00"), D("-1000.00"), D("1400.00"))
    trade = TradeRecord.objects.get(account=account, external_id="X-1")
    assert (trade.side, trade.quantity, trade.realised_gain) == ("sell", D(120), D("400.00"))
    sale.refresh_from_db()
    assert (sale.status, sale.filled_quantity) == ("filled", D(120))
    assert sale.proposal.status == Proposal.Status.EXECUTED
    assert AuditEvent.objects.filter(action="proposal.execute", object_id=str(sale.proposal_id)).exists()
    assert AuditEvent.objects.get(action="order.execute", object_id=sale.order_id).after["status"] == "filled"


@pytest.mark.parametrize("stored_year, expected", [
    # last year's figures give way: the new year starts from this fill (before: 5,000 + -1,000 and
    # 3,000 + 1,400, last year's gains counted as this year's in every January estimate and budget)
    (2025, (D("-1000.00"), D("1400.00"), 2026)),
    (2026, (D("4000.00"), D("4400.00"), 2026)),  # this year's: added to
    (None, (D("4000.00"), D("4400.00"), 2026)),  # of no stated year: taken as this year's, as before
    (2027, (D("5000.00"), D("3000.00"), 2027)),  # a later year's already: a 2026 fill does not touch it
])
def test_realised_gains_year_to_date_start_afresh_in_a_new_year(book, sale, stored_year, expected):
    account = book["account"]
    Account.objects.filter(pk=account.pk).update(realised_short_term_ytd=D("5000.00"),
                                                 realised_long_term_ytd=D("3000.00"), realised_ytd_year=stored_year)

    executions_import(source=execution_csv(fill("X-1", sale, 120, "100.00", date(2026, 11, 18))),
                      actor="test", as_of=AS_OF)

    account.refresh_from_db()
    assert (account.realised_short_term_ytd, account.realised_long_term_ytd, account.realised_ytd_year) == expected
    assert account.realised_ytd(2026) == ((0, 0) if stored_year == 2027 else expected[:2])


def test_partial_fills_take_the_named_lots_in_order_and_the_proposal_waits_for_the_last(book, sale):
    account = book["account"]

    summary = executions_import(source=execution_csv(fill("X-1", sale, 60, "100", date(2026, 11, 17))), actor="t",
                                as_of=AS_OF)
    assert summary.notes[0] == f"0 orders filled; {sale.order_id} (VTI) 60 of 120 filled so far"
    sale.refresh_from_db()
    assert (sale.status, sale.filled_quantity, sale.open_quantity) == ("partially_filled", D(60), D(60))
    assert Proposal.objects.get(pk=sale.proposal_id).status == Proposal.Status.RELEASED

    executions_import(source=execution_csv(fill("X-2", sale, 60, "101", date(2026, 11, 18))), actor="t", as_of=AS_OF)

    # First fill: all 50 of L2 (loss 1,000) and 10 of L1 (1,000 - 800 = 200). Second: 60 of L1 at
    # 101 = 6,060 against 4,800 = 1,260.
    assert realised_of(account) == [
        ("A-1-L2", D(50), D("5000.00"), D("6000.00"), D("-1000.00"), "short", date(2026, 11, 17)),
        ("A-1-L1", D(10), D("1000.00"), D("800.00"), D("200.00"), "long", date(2026, 11, 17)),
        ("A-1-L1", D(60), D("6060.00"), D("4800.00"), D("1260.00"), "long", date(2026, 11, 18)),
    ]
    assert lots_of(account)["A-1-L1"][1:3] == (D(30), D("2400.00"))
    account.refresh_from_db()
    assert account.cash == D("13060.00")
    assert Proposal.objects.get(pk=sale.proposal_id).status == Proposal.Status.EXECUTED


def test_a_cancel_closes_what_is_left_of_the_order(book, sale):
    summary = executions_import(source=execution_csv(fill("X-1", sale, 60, "100", date(2026, 11, 17)),
                                                     cancel("X-2", sale, date(2026, 11, 17))), actor="t", as_of=AS_OF)

    # The summary says what was not traded, not "1 orders filled" (a partial fill read as filled)
    assert summary.notes[0] == f"0 orders filled; {sale.order_id} (VTI) 60 of 120 filled, 60 cancelled"

    sale.refresh_from_db()
    assert (sale.status, sale.filled_quantity, sale.cancelled_quantity) == ("cancelled", D(60), D(60))
    assert lots_of(book["account"])["A-1-L1"][1:3] == (D(90), D("7200.00"))
    assert Proposal.objects.get(pk=sale.proposal_id).status == Proposal.Status.EXECUTED


def test_a_buy_fill_creates_a_lot_whose_basis_includes_fees(book, pm):
    [order] = release(book["account"], [buy("BND", 10, 80.0)], pm=pm, as_of=RELEASED)

    executions_import(source=execution_csv(fill("X-B1", order, 10, "80.00", date(2026, 11, 18), fees="1.50"),
                                           columns=("external_id", "order_id", "quantity", "price", "fees",
                                                    "trade_date", "kind")),
                      actor="t", as_of=AS_OF)

    assert lots_of(book["account"])["X-B1"] == ("BND", D(10), D("801.50"), date(2026, 11, 18))
    account = Account.objects.get(pk=book["account"].pk)
    assert account.cash == D("198.50")  # 1,000 - 800 - 1.50
    assert Execution.objects.get(external_id="X-B1").lot_id == "X-B1"


def test_a_fill_applied_twice_changes_nothing(book, sale):
    file = execution_csv(fill("X-1", sale, 60, "100", date(2026, 11, 17)), fill("X-2", sale, 60, "101", date(2026, 11, 18)))
    executions_import(source=file, actor="t", as_of=AS_OF)
    before = physical_rows(*LEDGER_MODELS)

    again = executions_import(source=file, actor="t", as_of=AS_OF)
    through_the_api = executions_apply(records=[fill("X-2", sale, "60", "101", date(2026, 11, 18))], actor="t",
                                       as_of=AS_OF)

    assert (again.created, again.unchanged) == (0, 2)
    assert (through_the_api.created, through_the_api.unchanged) == (0, 1)
    assert physical_rows(*LEDGER_MODELS) == before


def test_an_execution_id_sent_again_with_other_values_is_refused(book, sale):
    executions_import(source=execution_csv(fill("X-1", sale, 60, "100", date(2026, 11, 17))), actor="t", as_of=AS_OF)

    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("X-1", sale, 60, "99", date(2026, 11, 17))), actor="t", as_of=AS_OF)

    [(row, column, problem)] = problems_of(refused)
    assert (row, column) == (2, "price") and "applied once" in problem


def test_a_malformed_execution_file_is_refused_whole_with_a_row_level_report(book, sale):
    before = physical_rows(*LEDGER_MODELS)
    file = execution_csv(
        fill("X-1", sale, 10, "100", date(2026, 11, 17)),  # fine on its own
        fill("X-2", sale, 10, "100", date(2026, 11, 17)) | {"trade_date": "2026-02-30"},
        fill("X-3", sale, 10, "100", date(2026, 11, 17)) | {"order_id": "P999-1"},
        fill("X-4", sale, "ten", "100", date(2026, 11, 17)),
        fill("X-5", sale, 10, None, date(2026, 11, 17)),
        fill("X-1", sale, 10, "100", date(2026, 11, 17)),
        fill("X-6", sale, 500, "100", date(2026, 11, 17)),
        fill("X-7", sale, 10, "100", date(2026, 12, 1)),
        fill("X-8", sale, 10, "100", date(2026, 11, 15)),  # before the order was released
        cancel("X-9", sale, date(2026, 1, 5)),
    )

    with pytest.raises(ImportRejected) as refused:
        executions_import(source=file, actor="t", as_of=AS_OF)

    assert refused.value.code == "import_rejected"
    assert problems_of(refused) == [
        (3, "trade_date", "'2026-02-30' is not a day of the calendar"),
        (4, "order_id", "order 'P999-1' is not known"),
        (5, "quantity", "'ten' is not a number"),
        (6, "price", "is empty; a fill needs its price"),
        (7, "external_id", "repeats the external id of row 2"),
        (8, "quantity", f"fills 500 shares but 110 of order {sale.order_id} are open"),
        (9, "trade_date", "2026-12-01 is in the future (after 2026-11-20)"),
        (10, "trade_date", f"2026-11-15 is before order {sale.order_id} was released, on 2026-11-16: a fill cannot "
                           "come before its order"),
        (11, "trade_date", f"2026-01-05 is before order {sale.order_id} was released, on 2026-11-16: a cancel "
                           "cannot come before its order"),
    ]
    assert physical_rows(*LEDGER_MODELS) == before


def test_records_from_the_api_are_reported_by_their_line_as_a_csv(book, sale):
    # (the second record is line 3 of the same executions sent as a CSV file, header line 1)
    with pytest.raises(ImportRejected) as refused:
        executions_apply(records=[fill("X-1", sale, 10, 100, date(2026, 11, 17)), {"external_id": "X-2", "colour": "red"}],
                         actor="t", as_of=AS_OF)

    assert problems_of(refused) == [(3, "colour", "unknown field; the fields of an execution are external_id, "
                                                  "order_id, quantity, trade_date, kind, price, fees, lot_id, "
                                                  "account_number, symbol, side")]
    assert not Execution.objects.exists()


def test_a_fill_beyond_the_named_lots_is_refused(book, pm):
    [order] = release(book["account"], [sell("VTI", 40, 100.0, [("A-1-L2", 30)])], pm=pm, as_of=RELEASED)

    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("X-1", order, 40, "100", date(2026, 11, 17))), actor="t", as_of=AS_OF)

    assert problems_of(refused) == [(2, "quantity", f"the lots named by order {order.order_id} hold 30 "
                                                    "shares for this fill of 40")]
