"""The model portfolio's shortcuts (issue 16, sixth round) give what the general code gives, to the bit.

Each shortcut is checked against the code it stands in for, on seeded accounts of both shapes with
the parameters that reach it (budgets, turnover caps, instructions, fractional shares, other lot
selections, wash-sale windows): the list of trades built trade by trade against the columns,
the wash-sale groups without equivalents against the general grouping, and compressed columns
from entries already in column order against the sorting path.
"""

from dataclasses import replace

import numpy as np
import pytest

from rebalancing.engine import WashSaleParams, rebalance
from rebalancing.engine import rebalancer as rebalancer_module
from rebalancing.engine.qp import _csc

from .seeded import direct_index, model_portfolio


def _cases():
    yield "model portfolio", model_portfolio(3)
    yield "model portfolio, instruction", model_portfolio(4, instruction=True)
    yield "model portfolio, few lots", model_portfolio(5, funds=10, n_lots=24)
    mp = model_portfolio(6)
    p = mp.parameters
    yield "fractional shares", replace(mp, parameters=replace(p, trading=replace(p.trading, whole_shares=False)))
    yield "fifo", replace(mp, parameters=replace(p, trading=replace(p.trading, lot_selection="fifo")))
    yield "no budget", replace(mp, parameters=replace(p, transition=None))
    yield "direct index", direct_index(3, names=40, n_lots=120)
    yield "direct index, budget and turnover", direct_index(4, names=40, n_lots=120, budget=True, turnover=0.1)
    di = direct_index(5, names=40, n_lots=120)
    allow = replace(di.parameters, wash_sale=WashSaleParams(allow=True))
    yield "direct index, wash sales allowed", replace(di, parameters=allow)


CASES = list(_cases())


@pytest.mark.parametrize("name,request_", CASES, ids=[name for name, _ in CASES])
def test_trades_built_trade_by_trade_equal_the_columns(name, request_, monkeypatch):
    # Given an account, when its trades are built column by column (no account has that few)
    # and then trade by trade (every account has that few),
    monkeypatch.setattr(rebalancer_module, "FEW_TRADES", -1)
    by_columns = rebalance(request_)
    monkeypatch.setattr(rebalancer_module, "FEW_TRADES", 10**9)
    by_trade = rebalance(request_)
    # then the advice is the same to the bit (``repr`` gives every float exactly).
    assert by_columns.trades, name
    assert repr(replace(by_trade, diagnostics=None)) == repr(replace(by_columns, diagnostics=None))


@pytest.mark.parametrize("name,request_", CASES, ids=[name for name, _ in CASES])
def test_wash_sale_groups_without_equivalents_equal_the_general_grouping(name, request_):
    # Given an account without equivalent groups, and the same account with a group of two
    # symbols it does not hold or trade (the general grouping runs, every security its own group),
    ws = request_.parameters.wash_sale
    unrelated = replace(ws, equivalent_groups=(("NOT-HELD-1", "NOT-HELD-2"),))
    general = replace(request_, parameters=replace(request_.parameters, wash_sale=unrelated))
    # then the advice is the same to the bit.
    assert repr(replace(rebalance(general), diagnostics=None)) == repr(replace(rebalance(request_), diagnostics=None))


def _sorting_csc(rows, cols, vals, shape):
    """A deliberately simple reference: entries sorted by (column, row), counted per column."""
    order = sorted(range(len(rows)), key=lambda k: (cols[k], rows[k]))
    indptr = [0] * (shape[1] + 1)
    for c in cols:
        indptr[c + 1] += 1
    for j in range(shape[1]):
        indptr[j + 1] += indptr[j]
    return [vals[k] for k in order], [rows[k] for k in order], indptr


@pytest.mark.parametrize("seed", range(30))
def test_csc_from_entries_in_column_order_equals_the_sorting_path(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    cells = rng.choice(n_rows * n_cols, size=int(rng.integers(0, n_rows * n_cols + 1)), replace=False)
    rows, cols = cells % n_rows, cells // n_rows
    order = np.lexsort((rows, cols))
    rows, cols = rows[order].astype(np.int64), cols[order].astype(np.int64)
    vals = rng.normal(size=len(rows))
    fast = _csc(rows, cols, vals, (n_rows, n_cols), in_order=True)
    general = _csc(rows, cols, vals, (n_rows, n_cols))
    data, indices, indptr = _sorting_csc(rows.tolist(), cols.tolist(), vals.tolist(), (n_rows, n_cols))
    for csc in (fast, general):
        assert list(csc.data) == data
        assert list(csc.indices) == indices
        assert list(csc.indptr) == indptr
