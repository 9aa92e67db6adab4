"""Seeded random accounts for the optimiser tests: a direct index, a model portfolio, and a
household of model-portfolio accounts.

Smaller than the benchmark's (``bench/engine_bench.py``) so the tests stay quick, with the same
ingredients: a factor risk model, a replaced fund, screens, a no-buy list, a wash-sale-blocked
name, harvesting, several lots per security in both holding terms, and optionally a net-gain
budget, a turnover cap and an instruction that forces a partial sale.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from rebalancing.engine import (
    Account,
    Benchmark,
    CashParams,
    DirectIndexParams,
    DriftParams,
    HarvestParams,
    HouseholdAccount,
    HouseholdRequest,
    HouseholdTrade,
    Instruction,
    LocationPreferences,
    Model,
    Parameters,
    RebalanceRequest,
    Restrictions,
    RiskModel,
    ScreenParams,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    TransitionParams,
    WashSaleParams,
)

from .builders import AS_OF

SECTORS = ("Technology", "Health Care", "Financials", "Energy", "Utilities", "Materials")


def _lots(rng, symbols, prices, n_lots, value, weights, prefix="L"):
    held = rng.choice(len(symbols), size=min(len(symbols), max(1, n_lots * 2 // 5)), replace=False, p=weights)
    owner = np.concatenate([held, rng.choice(held, size=n_lots - len(held))])
    lot_value = value * rng.dirichlet(np.ones(n_lots) * 2.0)
    out = []
    for k in range(n_lots):
        i = owner[k]
        qty = max(1.0, round(lot_value[k] / prices[i]))
        basis = round(qty * prices[i] * float(rng.lognormal(-0.1, 0.35)), 2)
        acquired = AS_OF - timedelta(days=int(rng.integers(31, 4 * 365)))
        out.append(TaxLot(f"{prefix}{k}", symbols[i], qty, basis, acquired))
    return tuple(out)


def direct_index(seed: int, names: int = 80, n_lots: int = 320, budget: bool = False, turnover=None):
    """A direct-indexed sleeve (90%, replacing the fund VTI) and a bond fund (10%)."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(names)]
    prices = np.round(rng.lognormal(4.0, 0.7, names), 2) + 1.0
    bench = rng.lognormal(0, 1.0, names)
    bench /= bench.sum()
    securities = [
        Security(s, float(p), "us_equity", sector=SECTORS[i % len(SECTORS)], fractional=bool(i % 2))
        for i, (s, p) in enumerate(zip(symbols, prices, strict=True))
    ]
    securities += [Security("VTI", 250.0, "us_equity"), Security("BND", 72.0, "bonds")]
    k = 6
    loadings = rng.normal(0, 0.3, (names, k))
    loadings[:, 0] = rng.normal(1.0, 0.2, names)
    root = rng.normal(0, 0.05, (k, k))
    cov = root @ root.T + np.diag(np.full(k, 0.002))
    risk = RiskModel(
        factors=tuple(f"F{j}" for j in range(k)),
        loadings={s: tuple(row) for s, row in zip(symbols, loadings.tolist(), strict=True)},
        factor_covariance=tuple(tuple(r) for r in cov.tolist()),
        specific_variance={s: float(v) for s, v in zip(symbols, rng.uniform(0.02, 0.12, names), strict=True)},
    )
    value = float(rng.uniform(5e5, 2e6))
    held = 0.6 * bench + 0.4 / names
    lots = _lots(rng, symbols, prices, n_lots, value * 0.85, held / held.sum())
    lots += (
        TaxLot("F1", "VTI", round(value * 0.05 / 250), value * 0.04, AS_OF - timedelta(days=2000)),
        TaxLot("F2", "VTI", round(value * 0.03 / 250), value * 0.035, AS_OF - timedelta(days=200)),
        TaxLot("B1", "BND", round(value * 0.07 / 72), value * 0.075, AS_OF - timedelta(days=900)),
    )
    blocked = symbols[int(rng.integers(names))]
    trades = (HouseholdTrade(AS_OF - timedelta(days=12), blocked, "sell", 10, -1500.0, "IRA-1"),)
    account = Account(f"DI-{seed}", cash=value * 0.02, lots=lots, household_trades=trades)
    model = Model(
        "Direct index 90/10",
        (
            Sleeve(
                "us_equity",
                0.9,
                {"VTI": 1.0},
                Benchmark("B", dict(zip(symbols, bench.tolist(), strict=True)), risk),
            ),
            Sleeve("bonds", 0.1, {"BND": 1.0}),
        ),
    )
    params = Parameters(
        screen=ScreenParams(excluded_sectors=("Energy",), rescale="track_benchmark"),
        harvest=HarvestParams(min_loss_value=2000.0, min_loss_pct=0.10),
        direct_index=(DirectIndexParams("us_equity", max_names=names),),
        restrictions=Restrictions(do_not_buy=tuple(symbols[:3])),
        transition=TransitionParams(max_net_gain_per_run=value * 0.002) if budget else None,
        cash=CashParams(target=0.01, floor=0.005),
        trading=TradingParams(min_trade_value=50.0, trading_cost_bps=5.0, max_turnover=turnover),
    )
    return RebalanceRequest(AS_OF, account, tuple(securities), model, params)


def model_portfolio(seed: int, funds: int = 20, n_lots: int = 80, instruction: bool = False):
    """20 funds in 5 sleeves, a net-gain budget per run and per year, harvesting with substitutes;
    several lots per fund so a budget must choose among them."""
    rng = np.random.default_rng(10_000 + seed)
    classes = ("us_equity", "intl_equity", "bonds", "real_estate", "commodities")
    symbols = [f"F{i:02d}" for i in range(funds)]
    subs = [f"X{i:02d}" for i in range(funds)]
    prices = np.round(rng.uniform(20, 400, funds), 2)
    securities = [
        Security(s, float(p), classes[i % 5]) for i, (s, p) in enumerate(zip(symbols, prices, strict=True))
    ]
    securities += [
        Security(x, float(p * 0.9), classes[i % 5]) for i, (x, p) in enumerate(zip(subs, prices, strict=True))
    ]
    securities += [Security("OLD1", 55.0, "us_equity"), Security("OLD2", 80.0, "bonds")]
    sleeve_w = rng.dirichlet(np.ones(5) * 3)
    sleeves = []
    for c, cls in enumerate(classes):
        members = [s for i, s in enumerate(symbols) if i % 5 == c]
        h = rng.dirichlet(np.ones(len(members)) * 2)
        sleeves.append(Sleeve(cls, float(sleeve_w[c]), dict(zip(members, h.tolist(), strict=True))))
    value = float(rng.uniform(2e5, 2e6))
    all_symbols = symbols + ["OLD1", "OLD2"]
    all_prices = np.append(prices, [55.0, 80.0])
    w = rng.dirichlet(np.ones(len(all_symbols)))
    lots = _lots(rng, all_symbols, all_prices, n_lots, value * 0.97, w)
    account = Account(
        f"MP-{seed}", cash=value * 0.03, lots=lots, realised_long_term_ytd=float(rng.uniform(0, 20000))
    )
    sell = lots[0].symbol
    params = Parameters(
        transition=TransitionParams(max_net_gain_per_run=value * 0.01, max_net_gain_per_year=value * 0.05),
        harvest=HarvestParams(
            min_loss_value=500.0, min_loss_pct=0.05, substitutes=dict(zip(symbols, subs, strict=True))
        ),
        instructions=(Instruction("sell_buy", sell=sell, amount=value * 0.002),) if instruction else (),
        cash=CashParams(target=0.01, floor=0.0),
        trading=TradingParams(min_trade_value=25.0, trading_cost_bps=5.0),
    )
    return RebalanceRequest(AS_OF, account, tuple(securities), Model("Funds", tuple(sleeves)), params)


# A location order unlike the default one: commodities kept out of the Roth, real estate in it first.
LOCATION = LocationPreferences(
    {
        "us_equity": ("roth", "taxable", "traditional"),
        "bonds": ("traditional", "taxable", "roth"),
        "real_estate": ("roth", "traditional", "taxable"),
        "commodities": ("traditional", "taxable", "roth"),
    },
    frozenset({"bonds", "real_estate"}),
    weight=0.003,
)


def household(
    seed: int,
    statuses=("taxable", "traditional", "roth"),
    funds: int = 10,
    n_lots: int = 30,
    windows: bool = False,
    drift: DriftParams | None = None,
    inside_bands: str = "tax_free",
    location: LocationPreferences | None = None,
):
    """A household of ``model_portfolio`` accounts (one per tax status) on one model: each account
    its own lots (gains and losses in both terms), a taxable one harvesting into substitutes
    under a net-gain budget.  ``windows``: a fund sold at a loss and one bought in the last 30
    days (each a wash-sale window across the household), and each fund substantially identical to
    its substitute."""
    base = model_portfolio(seed, funds=funds, n_lots=n_lots)
    rng = np.random.default_rng(20_000 + seed)
    prices = {s.symbol: s.price for s in base.securities}
    symbols = sorted(prices)
    funds_held = [s for s in symbols if s.startswith("F")]
    groups = tuple((f, "X" + f[1:]) for f in funds_held) if windows else ()
    members = []
    for k, status in enumerate(statuses):
        value = float(rng.uniform(5e4, 5e5))
        w = rng.dirichlet(np.ones(len(symbols)))
        lots = _lots(rng, symbols, np.array([prices[s] for s in symbols]), n_lots, value, w, prefix=f"{k}L")
        trades = ()
        if windows:
            sold, bought = rng.choice(funds_held, size=2, replace=False).tolist()
            days = [int(d) for d in rng.integers(1, 30, size=2)]
            trades = (HouseholdTrade(AS_OF - timedelta(days=days[0]), sold, "sell", 10.0, -250.0, f"OLD-{k}"),)
            lots += (TaxLot(f"{k}R", bought, 5.0, round(5 * prices[bought] * 1.05, 2),
                            AS_OF - timedelta(days=days[1])),)
        taxable = status == "taxable"
        params = base.parameters
        if not taxable:
            params = Parameters(cash=params.cash, trading=params.trading)
        params = replace(params, wash_sale=WashSaleParams(equivalent_groups=groups))
        account = Account(
            f"{status[:3].upper()}-{seed}-{k}", float(value * rng.uniform(0.0, 0.06)), lots=lots,
            household_trades=trades, taxable=taxable,
        )
        request = RebalanceRequest(AS_OF, account, base.securities, base.model, params)
        members.append(HouseholdAccount(request, status))
    return HouseholdRequest(
        f"H-{seed}", AS_OF, base.model, base.securities, tuple(members),
        location=location, drift=drift, inside_bands=inside_bands,
    )
