"""The engine's shared passes (issue 16): what one stage computes and a later one reads instead of
computing again must be, to the bit, what the later stage computed itself.

- rounding's last cash sums (``Fill.sums``) are the fill's own when ``round_trades`` returns;
- whole shares asked for (``all_whole``) round and close lots as the masks by ``whole`` do;
- the harvest's losing lots from the limits' mask (``loss_candidates(..., held_loss)``);
- ``RunTax``'s pieces' ratios (cached by rates and shares) as computed for each account.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from rebalancing.engine import Account, TradingParams
from rebalancing.engine import rebalancer as rb
from rebalancing.engine.harvest import loss_candidates
from rebalancing.engine.optimizer import solve
from rebalancing.engine.rounding import Fill, _no_specks, _round_near, _whole_lots, round_trades
from rebalancing.engine.tax import RunTax, TaxReturn

from .seeded import direct_index, model_portfolio


def _bits(a) -> bytes:
    return np.ascontiguousarray(a, dtype=float).tobytes()


def _requests():
    out = []
    for seed in range(6):
        req = model_portfolio(seed, instruction=seed % 3 == 0)
        out.append(req)
        p = req.parameters
        out.append(replace(req, parameters=replace(p, trading=replace(p.trading, whole_shares=False))))
    out.append(direct_index(1, budget=True))
    return out


@pytest.mark.parametrize("request_", _requests(), ids=lambda r: r.account.id)
def test_rounding_hands_the_report_the_fills_own_sums(request_):
    prepared = rb._prepare(request_)
    if prepared.limits.inside_band:
        pytest.skip("inside its bands: nothing rounded")
    solution = solve(prepared.data)
    fill = round_trades(prepared.book, prepared.plan, prepared.limits, solution, request_.parameters.trading)
    assert fill.sums is not None
    sold, sells, buys = fill.sums
    book = prepared.book
    assert _bits(sold) == _bits(fill.sold(book))
    assert sells == float(fill.sold(book) @ book.price)
    assert buys == float(fill.bought @ book.price)


def test_a_speck_moved_after_the_sums_drops_them():
    book = rb._prepare(model_portfolio(2)).book
    lot_sold = np.zeros(len(book.lots))
    lot_sold[0] = 1e-9
    fill = Fill(lot_sold, np.zeros(book.n), [])
    assert _no_specks(book, fill) is True
    fill = Fill(np.zeros(len(book.lots)), np.zeros(book.n), [])
    assert _no_specks(book, fill) is False


def test_whole_shares_everywhere_round_and_close_lots_as_the_masks_do():
    rng = np.random.default_rng(7)
    book = rb._prepare(model_portfolio(3)).book
    whole = np.ones(book.n, dtype=bool)
    for _ in range(200):
        q = rng.uniform(-2, 50, book.n) * (rng.random(book.n) < 0.7)
        assert _bits(_round_near(q, whole, True)) == _bits(_round_near(q, whole))
        qty = book.lot_qty
        lot_sold = np.minimum(qty * rng.random(len(qty)) * (rng.random(len(qty)) < 0.5), qty)
        near = rng.random(len(qty)) < 0.2  # whole numbers by float noise (95.99999999999999)
        lot_sold[near] = np.minimum(np.round(lot_sold[near]) - 1e-14, qty[near])
        a, b = lot_sold.copy(), lot_sold.copy()
        _whole_lots(book, a, whole)
        _whole_lots(book, b, whole, all_whole=True)
        assert _bits(a) == _bits(b)


@pytest.mark.parametrize("seed", range(4))
def test_losing_lots_from_the_limits_mask(seed):
    req = model_portfolio(seed)
    book = rb._prepare(req).book
    held_loss = (book.lot_gain < 0) & (book.lot_qty > 0)
    params = req.parameters.harvest
    assert np.array_equal(loss_candidates(book, params, held_loss), loss_candidates(book, params))


def _thetas_computed(returns, rs, rl) -> tuple[float, ...]:
    """The ratios as ``RunTax.of`` computed them before they were cached."""
    pieces = ((rs, rl), (rl, rl), (rs, rs), (0.0, 0.0))
    sums = {(0.0, 0.0)}
    for r in returns:
        sums = {(a + r.share * pa, b + r.share * pb) for a, b in sums for pa, pb in pieces}
    return tuple(sorted({a / (a + b) for a, b in sums if a + b > 0}))


def test_run_tax_ratios_cached_by_rates_and_shares_are_each_accounts_own():
    rates = (0.0, -0.0, 0, 1, 0.2, 0.37, 0.238, 1.0)
    shares = ((1.0,), (1,), (0.5, 0.5), (0.25, 0.75), (0.5, 0.25, 0.25))
    for (rs, rl), share in itertools.product(itertools.product(rates, repeat=2), shares):
        returns = tuple(TaxReturn(1000.0, -500.0, share=s, id=str(k)) for k, s in enumerate(share))
        account = Account("A", 0.0, short_term_rate=rs, long_term_rate=rl, tax_returns=returns)
        got = RunTax.of(account).thetas
        want = _thetas_computed(returns, rs, rl)
        assert [(t, np.signbit(t)) for t in got] == [(t, np.signbit(t)) for t in want]


def test_trading_params_default_to_whole_shares():
    # ``round_trades`` takes its all-whole path from this flag alone.
    assert TradingParams().whole_shares is True
