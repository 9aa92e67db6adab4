"""Invariants on random accounts (hypothesis): whatever the parameters, the proposal is sane."""

from dataclasses import replace
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import (
    Account,
    CashParams,
    HarvestParams,
    HouseholdTrade,
    InfeasibleParameters,
    Instruction,
    Model,
    Parameters,
    RebalanceRequest,
    Restrictions,
    ScreenParams,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    TransitionParams,
    WashSaleParams,
    rebalance,
)
from rebalancing.engine.screens import screen_reason
from rebalancing.engine.wash_sales import find_violations

from .builders import AS_OF

SYMBOLS = ["A", "B", "C", "D", "E", "F"]
SUBS = {"A": "F", "B": "E"}
CLASSES = {"A": "equity", "B": "equity", "C": "bonds", "D": "bonds", "E": "equity", "F": "equity"}


@st.composite
def accounts(draw):
    prices = {s: draw(st.floats(5, 500).map(lambda p: round(p, 2))) for s in SYMBOLS}
    securities = tuple(
        Security(s, prices[s], CLASSES[s], sector="Energy" if s == "D" else "Other", fractional=s != "C")
        for s in SYMBOLS
    )
    lots = []
    for k in range(draw(st.integers(0, 10))):
        s = draw(st.sampled_from(SYMBOLS[:5]))
        qty = float(draw(st.integers(1, 300)))
        basis = round(qty * prices[s] * draw(st.floats(0.4, 1.8)), 2)
        acquired = AS_OF - timedelta(days=draw(st.integers(1, 2000)))
        lots.append(TaxLot(f"L{k}", s, qty, basis, acquired))
    trades = tuple(
        HouseholdTrade(
            AS_OF - timedelta(days=draw(st.integers(0, 40))),
            draw(st.sampled_from(SYMBOLS)),
            draw(st.sampled_from(["buy", "sell"])),
            5.0,
            draw(st.sampled_from([None, -100.0, 50.0])),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    cash = draw(st.floats(0, 20_000))
    if not lots and cash < 100:
        cash = 1_000.0
    account = Account(
        "P", cash, lots=tuple(lots), household_trades=trades, realised_long_term_ytd=draw(st.floats(0, 5_000))
    )
    eq_w = draw(st.floats(0.2, 0.8))
    model = Model(
        "m",
        (
            Sleeve("equity", eq_w, {"A": 0.5, "B": 0.5}),
            Sleeve("bonds", 1 - eq_w, {"C": 0.6, "D": 0.4}),
        ),
    )
    target = draw(st.floats(0, 0.05))
    # An advisor's one-off "sell X, buy Y" now and then, on top of the parameters (an instruction's
    # purchase of a harvestable name was once harvested and bought back in the same run).
    instructions = ()
    if lots and draw(st.integers(0, 3)) == 0:
        held = sorted({lot.symbol for lot in lots})
        sell = draw(st.sampled_from(held))
        # Often a name already held (it may hold a loss the parameters would harvest).
        others = [s for s in held if s != sell] if draw(st.booleans()) else []
        buy = draw(st.sampled_from(others or [s for s in SYMBOLS if s != sell]))
        instructions = (Instruction("sell_buy", sell=sell, buy=buy),)
    params = Parameters(
        instructions=instructions,
        transition=draw(
            st.one_of(st.none(), st.builds(TransitionParams, max_net_gain_per_run=st.floats(0, 5_000)))
        ),
        screen=draw(st.one_of(st.none(), st.just(ScreenParams(excluded_sectors=("Energy",))))),
        harvest=draw(
            st.one_of(
                st.none(), st.just(HarvestParams(min_loss_value=50, min_loss_pct=0.02, substitutes=SUBS))
            )
        ),
        wash_sale=WashSaleParams(equivalent_groups=draw(st.sampled_from([(), (("A", "E"),)]))),
        restrictions=Restrictions(
            do_not_buy=tuple(draw(st.lists(st.sampled_from(SYMBOLS), max_size=2, unique=True))),
            do_not_sell=tuple(draw(st.lists(st.sampled_from(SYMBOLS), max_size=1))),
        ),
        cash=CashParams(target=target, floor=draw(st.floats(0, 1)) * target),
        trading=TradingParams(
            whole_shares=draw(st.booleans()),
            min_trade_value=draw(st.sampled_from([0.0, 50.0])),
            trading_cost_bps=draw(st.sampled_from([0.0, 5.0])),
            lot_selection=draw(st.sampled_from(["tax_optimal", "fifo", "highest_cost"])),
        ),
    )
    return RebalanceRequest(AS_OF, account, securities, model, params)


@settings(
    max_examples=int(__import__("os").environ.get("PROP_N", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(accounts())
def test_invariants_hold_on_random_accounts(req):
    try:
        result = rebalance(req)
    except InfeasibleParameters as err:
        # An infeasible combination must name what conflicts.
        assert err.conflicts
        return
    params = req.parameters
    prices = {s.symbol: s.price for s in req.securities}
    lots = {lot.id: lot for lot in req.account.lots}
    held = {s: 0.0 for s in SYMBOLS}
    for lot in req.account.lots:
        held[lot.symbol] += lot.quantity
    value_before = req.account.cash + sum(held[s] * prices[s] for s in SYMBOLS)

    after = dict(held)
    for t in result.trades:
        # Nothing that the JSON (6 decimals) would show as a trade of 0 shares.
        assert t.quantity >= 5e-7, t
        after[t.symbol] += t.quantity if t.side == "buy" else -t.quantity
        if t.side == "sell":
            assert abs(sum(ls.quantity for ls in t.lots) - t.quantity) < 1e-6
            for ls in t.lots:
                assert 5e-7 <= ls.quantity <= lots[ls.lot_id].quantity + 1e-9
                assert lots[ls.lot_id].symbol == t.symbol
        whole = params.trading.whole_shares or t.symbol == "C"
        if whole and t.side == "buy":
            assert float(t.quantity).is_integer()

    # No negative positions.
    assert all(q >= -1e-9 for q in after.values())
    # Nothing bought that is excluded or restricted.
    bought = {t.symbol for t in result.trades if t.side == "buy"}
    securities = {s.symbol: s for s in req.securities}
    forbidden = set(params.restrictions.do_not_buy) | set(params.restrictions.hold)
    forbidden |= {s for s in SYMBOLS if screen_reason(securities[s], params.screen)}
    assert not bought & forbidden
    # Nothing sold that may not be sold.
    sold = {t.symbol for t in result.trades if t.side == "sell"}
    assert not sold & set(params.restrictions.do_not_sell)
    # Cash at or above its floor; value conserved up to trading costs.
    assert result.summary.cash_after >= params.cash.floor * value_before - 0.01
    value_after = result.summary.cash_after + sum(after[s] * prices[s] for s in SYMBOLS)
    assert np.isclose(value_after, value_before - result.summary.trading_cost, rtol=0, atol=1e-6)
    # Tax budget respected; an instruction's sale inside it, stretching it only to its own gain
    # (and saying so).
    if params.transition is not None and params.transition.max_net_gain_per_run is not None:
        ordered = {i.sell for i in params.instructions}
        forced_gain = sum(lot.quantity * prices[lot.symbol] - lot.cost_basis
                          for lot in req.account.lots if lot.symbol in ordered)
        budget = params.transition.max_net_gain_per_run
        assert result.summary.net_realised_gain <= max(budget, forced_gain) + 0.01
        if result.summary.net_realised_gain > budget + 0.01:
            assert any(a.code == "tax_limit_exceeded" for a in result.alerts), result.alerts
    # No wash sale created.
    loss_sales = [
        (ls.lot_id, t.symbol) for t in result.trades if t.side == "sell" for ls in t.lots if ls.gain < 0
    ]
    assert (
        find_violations(
            AS_OF, req.account.household_trades, req.account.lots, bought, loss_sales, params.wash_sale
        )
        == []
    )


NAMES = [f"N{i}" for i in range(10)]


@st.composite
def direct_index_accounts(draw):
    from rebalancing.engine import Benchmark, DirectIndexParams

    weights = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=10, max_size=10)))
    weights = weights / weights.sum()
    bench = Benchmark("B10", dict(zip(NAMES, weights.tolist(), strict=True)))
    securities = tuple(
        Security(
            n,
            draw(st.floats(5, 300).map(lambda p: round(p, 2))),
            "equity",
            sector=f"S{i % 3}",
            fractional=False,
        )
        for i, n in enumerate(NAMES)
    ) + (Security("FUND", 100.0, "equity"), Security("C", 50.0, "bonds"))
    prices = {s.symbol: s.price for s in securities}
    lots = []
    for k in range(draw(st.integers(0, 12))):
        s = draw(st.sampled_from([*NAMES, "FUND", "C"]))
        qty = float(draw(st.integers(1, 200)))
        lots.append(
            TaxLot(
                f"L{k}",
                s,
                qty,
                round(qty * prices[s] * draw(st.floats(0.5, 1.6)), 2),
                AS_OF - timedelta(days=draw(st.integers(1, 900))),
            )
        )
    model = Model("di", (Sleeve("equity", 0.8, {"FUND": 1.0}, bench), Sleeve("bonds", 0.2, {"C": 1.0})))
    params = Parameters(
        direct_index=(
            DirectIndexParams(
                "equity",
                max_names=draw(st.integers(3, 10)),
                min_position_weight=draw(st.sampled_from([0.0, 0.01])),
            ),
        ),
        screen=draw(
            st.one_of(
                st.none(),
                st.builds(
                    ScreenParams,
                    excluded_sectors=st.just(("S1",)),
                    rescale=st.sampled_from(["pro_rata", "track_benchmark"]),
                ),
            )
        ),
        harvest=draw(st.one_of(st.none(), st.just(HarvestParams(min_loss_value=10, min_loss_pct=0.01)))),
        transition=draw(
            st.one_of(st.none(), st.builds(TransitionParams, max_net_gain_per_run=st.floats(0, 2_000)))
        ),
        restrictions=Restrictions(
            do_not_buy=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)))
        ),
        cash=CashParams(target=0.01, floor=0.005),
        trading=TradingParams(trading_cost_bps=5.0),
    )
    # Now and then an advisor's "sell X, buy Y", recent trades and substantially identical names.
    held = sorted({lot.symbol for lot in lots})
    if held and draw(st.booleans()):
        sell = draw(st.sampled_from(held))
        buy = draw(st.sampled_from([s for s in [*NAMES, "C"] if s != sell]))
        params = replace(params, instructions=(Instruction("sell_buy", sell=sell, buy=buy),))
    params = replace(
        params,
        wash_sale=WashSaleParams(equivalent_groups=draw(st.sampled_from([(), (("N0", "N1"),), (("N2", "N3", "N4"),)]))),
    )
    trades = tuple(
        HouseholdTrade(
            AS_OF - timedelta(days=draw(st.integers(0, 40))),
            draw(st.sampled_from([*NAMES, "FUND"])),
            draw(st.sampled_from(["buy", "sell"])),
            5.0,
            draw(st.sampled_from([None, -100.0, 50.0])),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    account = Account(
        "DI", draw(st.floats(0, 50_000)) + (0 if lots else 1_000), lots=tuple(lots), household_trades=trades
    )
    return RebalanceRequest(AS_OF, account, securities, model, params)


@settings(
    max_examples=int(__import__("os").environ.get("PROP_N", "60")) // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(direct_index_accounts())
def test_direct_index_invariants(req):
    try:
        result = rebalance(req)
    except InfeasibleParameters as err:
        assert err.conflicts
        return
    params = req.parameters
    prices = {s.symbol: s.price for s in req.securities}
    after = {s: 0.0 for s in prices}
    for lot in req.account.lots:
        after[lot.symbol] += lot.quantity
    value_before = req.account.cash + sum(after[s] * prices[s] for s in prices)
    for t in result.trades:
        after[t.symbol] += t.quantity if t.side == "buy" else -t.quantity
        if t.side == "buy":
            assert t.symbol not in params.restrictions.do_not_buy
            assert t.symbol != "FUND"
            if params.screen is not None:
                assert not t.symbol.startswith("N") or int(t.symbol[1:]) % 3 != 1
    assert all(q >= -1e-9 for q in after.values())
    assert result.summary.cash_after >= params.cash.floor * value_before - 0.01
    if params.transition is not None:
        ordered = {i.sell for i in params.instructions}
        forced_gain = sum(lot.quantity * prices[lot.symbol] - lot.cost_basis
                          for lot in req.account.lots if lot.symbol in ordered)
        budget = params.transition.max_net_gain_per_run + max(forced_gain, 0.0)
        assert result.summary.net_realised_gain <= budget + 0.01
    bought = {t.symbol for t in result.trades if t.side == "buy"}
    loss_sales = [
        (ls.lot_id, t.symbol) for t in result.trades if t.side == "sell" for ls in t.lots if ls.gain < 0
    ]
    assert find_violations(AS_OF, req.account.household_trades, req.account.lots, bought, loss_sales,
                           params.wash_sale) == []
    value_after = result.summary.cash_after + sum(after[s] * prices[s] for s in prices)
    assert np.isclose(value_after, value_before - result.summary.trading_cost, rtol=0, atol=1e-6)
    for te in result.summary.tracking_error_after.values():
        assert te is None or 0 <= te < 1
