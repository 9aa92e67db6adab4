"""Lots as columns (``LotTable``, ``Account.from_lot_columns``): the same request and the same
result as the lots given one by one, on random books, and the same refusals of bad lots."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from rebalancing.engine import (
    Account,
    EngineError,
    HouseholdTrade,
    InvalidRequest,
    LotTable,
    TaxLot,
    rebalance,
    result_to_dict,
)
from rebalancing.engine.positions import build_book
from rebalancing.engine.request import validate_request
from rebalancing.engine.targets import universe_symbols
from rebalancing.engine.wash_sales import Equivalence, window_activity

from .builders import AS_OF
from .seeded import direct_index, model_portfolio
from .test_properties import accounts


def as_columns(request):
    """The request with its account's lots handed over as columns."""
    lots = request.account.lots
    account = request.account
    columnar = Account.from_lot_columns(
        lot_ids=[lot.id for lot in lots],
        symbols=[lot.symbol for lot in lots],
        quantities=np.array([lot.quantity for lot in lots], dtype=float),
        cost_bases=np.array([lot.cost_basis for lot in lots], dtype=float),
        acquired=np.array([lot.acquired.toordinal() for lot in lots], dtype=np.int64),
        id=account.id, cash=account.cash, short_term_rate=account.short_term_rate,
        long_term_rate=account.long_term_rate, realised_short_term_ytd=account.realised_short_term_ytd,
        realised_long_term_ytd=account.realised_long_term_ytd, household_trades=account.household_trades,
        taxable=account.taxable, loss_carryforward_short=account.loss_carryforward_short,
        loss_carryforward_long=account.loss_carryforward_long,
    )
    return replace(request, account=columnar)


def outcome(request) -> dict:
    """The advice without its timings, or the error the engine raised."""
    try:
        out = result_to_dict(rebalance(request))
    except EngineError as exc:
        return {"error": type(exc).__name__, "message": exc.message}
    out.pop("diagnostics")
    return out


SEEDED = {
    "model portfolio": lambda: model_portfolio(7),
    "model portfolio, instruction": lambda: model_portfolio(9, instruction=True),
    "direct index": lambda: direct_index(7),
    "direct index, budget": lambda: direct_index(8, budget=True),
    "direct index, turnover cap": lambda: direct_index(10, budget=True, turnover=0.15),
    "direct index, 2,000 lots": lambda: direct_index(11, names=300, n_lots=2000),
}


@pytest.mark.parametrize("name", SEEDED)
def test_lots_as_columns_give_the_same_request_and_result(name):
    # Given a seeded account, its lots given one by one and as columns
    by_lot = SEEDED[name]()
    columnar = as_columns(by_lot)
    assert isinstance(columnar.account.lots, LotTable)
    # Then the requests are equal, and so are the proposals
    assert columnar == by_lot and by_lot == columnar
    assert outcome(columnar) == outcome(by_lot)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts())
def test_lots_as_columns_give_the_same_result_on_random_accounts(by_lot):
    columnar = as_columns(by_lot)
    assert columnar == by_lot
    assert outcome(columnar) == outcome(by_lot)


def test_the_book_and_the_checks_read_the_columns_as_they_read_the_lots():
    by_lot = direct_index(12, names=60, n_lots=400)
    columnar = as_columns(by_lot)
    securities = validate_request(by_lot)
    assert validate_request(columnar) == securities
    assert universe_symbols(columnar) == universe_symbols(by_lot)
    extra = universe_symbols(by_lot)
    book, from_columns = build_book(by_lot, securities, extra), build_book(columnar, securities, extra)
    assert isinstance(from_columns.lots, LotTable) and tuple(from_columns.lots) == book.lots
    for name in ("symbols", "lot_sec", "lot_qty", "lot_basis", "lot_acquired", "lot_long", "lot_value", "lot_gain",
                 "quantity", "weights"):
        assert np.array_equal(getattr(from_columns, name), getattr(book, name)), name


def test_a_duplicate_lot_id_or_an_unknown_symbol_is_refused_as_with_lots():
    by_lot = model_portfolio(3)
    lots = by_lot.account.lots
    for changed in (
        (*lots, replace(lots[0], quantity=1.0)),  # the same id twice
        (*lots, replace(lots[0], id="NEW", symbol="NOPE")),
    ):
        request = replace(by_lot, account=replace(by_lot.account, lots=changed))
        with pytest.raises(InvalidRequest) as one_by_one:
            validate_request(request)
        with pytest.raises(InvalidRequest) as as_columns_:
            validate_request(as_columns(request))
        assert as_columns_.value.message == one_by_one.value.message


def _lots(rng, n: int) -> tuple[TaxLot, ...]:
    days = rng.integers(0, 90, n)
    return tuple(
        TaxLot(f"L{k}", str(rng.choice(["A", "B", "C"])), float(rng.integers(1, 50)), float(rng.integers(0, 5000)),
               AS_OF - timedelta(days=int(days[k])))
        for k in range(n)
    )


def _table(lots) -> LotTable:
    return LotTable([lot.id for lot in lots], [lot.symbol for lot in lots], [lot.quantity for lot in lots],
                    [lot.cost_basis for lot in lots], [lot.acquired for lot in lots])


@pytest.mark.parametrize("seed", range(20))
def test_a_lot_table_reads_as_its_tuple_of_lots(seed):
    rng = np.random.default_rng(seed)
    lots = _lots(rng, int(rng.integers(0, 30)))
    table = _table(lots)
    assert len(table) == len(lots) and tuple(table) == lots and list(table) == list(lots)
    assert table == lots and lots == table and hash(table) == hash(lots)
    for i in range(-len(lots), len(lots)):
        assert table[i] == lots[i]
    assert table[2:7] == lots[2:7]
    with pytest.raises(IndexError):
        table[len(lots)]
    # The lots acquired in a window, against a filter of the tuple
    start, end = AS_OF - timedelta(days=int(rng.integers(0, 60))), AS_OF - timedelta(days=int(rng.integers(0, 20)))
    assert table.acquired_between(start, end) == tuple(lot for lot in lots if start <= lot.acquired <= end)
    # Taken in another order, as the book sorts them
    order = rng.permutation(len(lots))
    assert tuple(table.take(order)) == tuple(lots[i] for i in order)


@pytest.mark.parametrize("seed", range(20))
def test_the_wash_sale_window_counts_the_same_purchases_from_columns(seed):
    rng = np.random.default_rng(100 + seed)
    lots = _lots(rng, 40)
    trades = ()
    if seed % 2:  # a recorded purchase that is also a lot is counted once
        lot = lots[int(rng.integers(len(lots)))]
        trades = (HouseholdTrade(lot.acquired, lot.symbol, "buy", lot.quantity),)
    eq = Equivalence((("A", "B"),) if seed % 3 else ())
    assert window_activity(AS_OF, trades, _table(lots), eq) == window_activity(AS_OF, trades, lots, eq)


BAD = [
    ("quantity", -1.0),
    ("quantity", float("nan")),
    ("quantity", float("inf")),
    ("quantity", 2e12),
    ("quantity", True),
    ("quantity", "12"),
    ("cost_basis", -0.01),
    ("cost_basis", float("nan")),
    ("cost_basis", 2e15),
    ("cost_basis", None),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_a_bad_lot_is_refused_with_the_message_a_tax_lot_gives(field, value):
    rng = np.random.default_rng(1)
    lots = list(_lots(rng, 6))
    with pytest.raises(InvalidRequest) as one_by_one:
        TaxLot(**{**{k: getattr(lots[3], k) for k in ("id", "symbol", "quantity", "cost_basis", "acquired")},
                  field: value})
    columns = {
        "ids": [lot.id for lot in lots], "symbols": [lot.symbol for lot in lots],
        "quantity": [lot.quantity for lot in lots], "cost_basis": [lot.cost_basis for lot in lots],
        "acquired": [lot.acquired for lot in lots],
    }
    columns[field][3] = value
    with pytest.raises(InvalidRequest) as as_columns_:
        LotTable(**columns)
    assert as_columns_.value.message == one_by_one.value.message


def test_columns_of_different_lengths_or_without_dates_are_refused():
    with pytest.raises(InvalidRequest, match="different lengths"):
        LotTable(["a", "b"], ["X", "Y"], [1.0], [1.0, 2.0], [date(2020, 1, 1)] * 2)
    with pytest.raises(InvalidRequest, match="dates"):
        LotTable(["a"], ["X"], [1.0], [1.0], [1.5])
    with pytest.raises(InvalidRequest, match="dates"):
        LotTable(["a"], ["X"], [1.0], [1.0], [0])
    assert len(LotTable([], [], [], [], [])) == 0


def test_the_columns_cannot_be_changed_behind_the_request():
    quantities = np.array([1.0, 2.0])
    table = LotTable(["a", "b"], ["X", "Y"], quantities, [1.0, 2.0], [date(2020, 1, 1)] * 2)
    quantities[0] = 99.0  # the caller's array is not the table's
    assert table[0].quantity == 1.0
    with pytest.raises(ValueError):
        table.quantity[1] = 5.0
