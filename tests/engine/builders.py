"""Small builders of engine requests for the tests (data shipped with the tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from rebalancing.engine import (
    Account,
    Benchmark,
    CashParams,
    DirectIndexParams,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    TransitionParams,
)

AS_OF = date(2025, 6, 30)
LONG_AGO = date(2019, 1, 2)
EXAMPLES = Path(__file__).resolve().parents[2] / "rebalancing" / "engine" / "examples"


def lot(lot_id: str, symbol: str, quantity: float, cost_basis: float, acquired: date = LONG_AGO) -> TaxLot:
    return TaxLot(lot_id, symbol, quantity, cost_basis, acquired)


def funds(**prices: float) -> tuple[Security, ...]:
    """Securities named like ``EQ``/``BD``/``RE``...; the asset class is taken from the name."""
    classes = {"EQ": "equity", "EQ2": "equity", "BD": "bonds", "BD2": "bonds", "RE": "real_estate"}
    return tuple(Security(s, p, classes.get(s, "other")) for s, p in prices.items())


def model(**weights: float) -> Model:
    """One sleeve per symbol, named by the symbol's asset class."""
    classes = {"EQ": "equity", "BD": "bonds", "RE": "real_estate"}
    return Model("test", tuple(Sleeve(classes.get(s, s.lower()), w, {s: 1.0}) for s, w in weights.items()))


def request(
    lots,
    securities,
    the_model,
    cash: float = 0.0,
    parameters: Parameters | None = None,
    **account,
) -> RebalanceRequest:
    params = parameters or Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True))
    return RebalanceRequest(
        AS_OF, Account("T", cash, lots=tuple(lots), **account), tuple(securities), the_model, params
    )


def with_params(req: RebalanceRequest, **changes) -> RebalanceRequest:
    return replace(req, parameters=replace(req.parameters, **changes))


def trades_by_symbol(result) -> dict[str, tuple[str, float]]:
    return {t.symbol: (t.side, t.quantity) for t in result.trades}


BENCHMARK_WEIGHTS = (0.139, 0.049, 0.002, 0.090, 0.123, 0.030, 0.086, 0.094, 0.188, 0.199)


def direct_index_request(lots, prices, cash=0.0, budget=0.0, weights=BENCHMARK_WEIGHTS) -> RebalanceRequest:
    """Ten whole-share names tracking a benchmark instead of FUND (80%), C bonds (20%); zero gain
    budget by default, 0.5% cash floor, 1% target, 5 bp costs."""
    names = [f"N{i}" for i in range(10)]
    bench = Benchmark("B10", dict(zip(names, weights, strict=True)))
    securities = tuple(
        Security(n, prices.get(n, 5.0), "equity", sector=f"S{i % 3}", fractional=False)
        for i, n in enumerate(names)
    ) + (Security("FUND", 100.0, "equity"), Security("C", 50.0, "bonds"))
    the_model = Model("di", (Sleeve("equity", 0.8, {"FUND": 1.0}, bench), Sleeve("bonds", 0.2, {"C": 1.0})))
    params = Parameters(
        direct_index=(DirectIndexParams("equity", max_names=3, min_position_weight=0.0),),
        transition=TransitionParams(max_net_gain_per_run=budget),
        cash=CashParams(target=0.01, floor=0.005),
        trading=TradingParams(trading_cost_bps=5.0),
    )
    return RebalanceRequest(AS_OF, Account("DI", cash, lots=tuple(lots)), securities, the_model, params)
