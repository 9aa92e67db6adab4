"""Benchmark of the rebalancing engine: per-account time, compile vs solve, peak memory.

Builds reproducible (seeded) random accounts of two shapes and runs ``rebalance`` on each,
single-threaded, solve included:

- a direct index of 500 names with 2,000 tax lots (20-factor risk model, screens, no-buy list,
  a wash-sale-blocked name, harvesting, 5 bp trading cost, 1% cash target);
- a model portfolio of 20 funds with 60 lots (tax budget, harvesting with substitutes).

Usage: ``python bench/engine_bench.py [--quick] [--accounts N]``.  Prints a table; the figures
go into docs/engine.md.  No assertion: speed is measured here, not tested.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rebalancing.engine import (  # noqa: E402
    Account,
    Benchmark,
    CashParams,
    DirectIndexParams,
    HarvestParams,
    HouseholdTrade,
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
    rebalance,
)

AS_OF = date(2025, 6, 30)
SECTORS = (
    "Technology", "Health Care", "Financials", "Consumer Discretionary", "Industrials", "Energy",
    "Utilities", "Materials", "Real Estate", "Communication", "Consumer Staples",
)  # fmt: skip


def _lots(
    rng: np.random.Generator, symbols: list[str], prices: np.ndarray, n_lots: int, value: float, weights
):
    """``n_lots`` lots over ``symbols`` worth about ``value`` in total, spread by ``weights``."""
    # Every held symbol has a few lots (bought over time), heavier symbols more of them.
    held = rng.choice(len(symbols), size=min(len(symbols), max(1, n_lots * 2 // 5)), replace=False, p=weights)
    owner = np.concatenate([held, rng.choice(held, size=n_lots - len(held))])
    lot_value = value * rng.dirichlet(np.ones(n_lots) * 2.0)
    lots = []
    for k in range(n_lots):
        i = owner[k]
        qty = max(1.0, round(lot_value[k] / prices[i]))
        basis = qty * prices[i] * float(rng.lognormal(-0.15, 0.35))
        acquired = AS_OF - timedelta(days=int(rng.integers(31, 5 * 365)))
        lots.append(TaxLot(f"L{k}", symbols[i], qty, round(basis, 2), acquired))
    return tuple(lots)


def direct_index_request(
    seed: int, names: int = 500, n_lots: int = 2000, factors: int = 20
) -> RebalanceRequest:
    """A direct-indexed US equity sleeve (90%) plus a bond fund (10%)."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(names)]
    prices = np.round(rng.lognormal(4.2, 0.8, names), 2) + 1.0
    bench = rng.lognormal(0, 1.2, names)
    bench /= bench.sum()
    sectors = [SECTORS[i % len(SECTORS)] for i in rng.permutation(names)]
    tags = [("tobacco",) if rng.random() < 0.01 else () for _ in range(names)]
    securities = [
        Security(
            s,
            float(p),
            "us_equity",
            sector=sec,
            tags=t,
            esg_score=float(rng.uniform(0, 10)),
            fractional=False,
        )
        for s, p, sec, t in zip(symbols, prices, sectors, tags, strict=True)
    ]
    securities += [Security("VTI", 250.0, "us_equity"), Security("BND", 72.0, "bonds")]
    loadings = rng.normal(0, 0.3, (names, factors))
    loadings[:, 0] = rng.normal(1.0, 0.2, names)
    root = rng.normal(0, 0.05, (factors, factors))
    cov = root @ root.T + np.diag(np.full(factors, 0.002))
    cov[0, 0] += 0.025
    risk = RiskModel(
        factors=tuple(f"F{j}" for j in range(factors)),
        loadings={s: tuple(row) for s, row in zip(symbols, loadings.tolist(), strict=True)},
        factor_covariance=tuple(tuple(r) for r in cov.tolist()),
        specific_variance={s: float(v) for s, v in zip(symbols, rng.uniform(0.02, 0.12, names), strict=True)},
    )
    value = float(rng.uniform(2e6, 6e6))
    held = 0.6 * bench + 0.4 / names
    lots = _lots(rng, symbols, prices, n_lots - 4, value * 0.9, held / held.sum())
    lots += (
        TaxLot("F1", "VTI", round(value * 0.05 / 250), value * 0.04, date(2019, 3, 1)),
        TaxLot("F2", "VTI", round(value * 0.02 / 250), value * 0.025, AS_OF - timedelta(days=200)),
        TaxLot("B1", "BND", round(value * 0.06 / 72), value * 0.065, date(2021, 5, 3)),
        TaxLot("B2", "BND", round(value * 0.02 / 72), value * 0.019, date(2018, 5, 3)),
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
                Benchmark("US500", dict(zip(symbols, bench.tolist(), strict=True)), risk),
            ),
            Sleeve("bonds", 0.1, {"BND": 1.0}),
        ),
    )
    params = Parameters(
        screen=ScreenParams(
            excluded_sectors=("Energy",), excluded_tags=("tobacco",), rescale="track_benchmark"
        ),
        harvest=HarvestParams(min_loss_value=2000.0, min_loss_pct=0.10),
        direct_index=(DirectIndexParams("us_equity", max_names=names),),
        restrictions=Restrictions(do_not_buy=tuple(symbols[:5])),
        cash=CashParams(target=0.01, floor=0.005),
        trading=TradingParams(min_trade_value=50.0, trading_cost_bps=5.0),
    )
    return RebalanceRequest(AS_OF, account, tuple(securities), model, params)


def model_portfolio_request(seed: int, funds: int = 20, n_lots: int = 60) -> RebalanceRequest:
    """A model of 20 funds in 5 sleeves, with a tax budget and harvesting with substitutes."""
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
    total_w = sum(s.weight for s in sleeves)
    sleeves = [Sleeve(s.asset_class, s.weight / total_w, s.holdings) for s in sleeves]
    value = float(rng.uniform(2e5, 2e6))
    all_symbols = symbols + ["OLD1", "OLD2"]
    all_prices = np.append(prices, [55.0, 80.0])
    w = rng.dirichlet(np.ones(len(all_symbols)))
    lots = _lots(rng, all_symbols, all_prices, n_lots, value * 0.97, w)
    account = Account(
        f"MP-{seed}", cash=value * 0.03, lots=lots, realised_long_term_ytd=float(rng.uniform(0, 20000))
    )
    params = Parameters(
        transition=TransitionParams(max_net_gain_per_run=value * 0.02, max_net_gain_per_year=value * 0.05),
        harvest=HarvestParams(
            min_loss_value=500.0, min_loss_pct=0.05, substitutes=dict(zip(symbols, subs, strict=True))
        ),
        cash=CashParams(target=0.01, floor=0.0),
        trading=TradingParams(min_trade_value=25.0, trading_cost_bps=5.0),
    )
    return RebalanceRequest(AS_OF, account, tuple(securities), Model("Funds", tuple(sleeves)), params)


def _run(make, seeds: list[int], warmup: int) -> dict[str, float]:
    for s in seeds[:warmup]:
        rebalance(make(s))
    totals, compiles, solves = [], [], []
    requests = [make(s) for s in seeds]
    for req in requests:
        start = time.perf_counter()
        result = rebalance(req)
        totals.append((time.perf_counter() - start) * 1e3)
        compiles.append(result.diagnostics.compile_ms)
        solves.append(result.diagnostics.solve_ms)
    tracemalloc.start()
    rebalance(requests[0])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    q = statistics.quantiles(totals, n=10) if len(totals) > 1 else totals * 9
    return {
        "accounts": len(totals),
        "median_ms": statistics.median(totals),
        "p90_ms": q[8],
        "compile_ms": statistics.median(compiles),
        "solve_ms": statistics.median(solves),
        "other_ms": statistics.median(t - c - s for t, c, s in zip(totals, compiles, solves, strict=True)),
        "peak_mib": peak / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer accounts (a smoke run)")
    parser.add_argument("--accounts", type=int, default=None, help="accounts per shape")
    args = parser.parse_args(argv)
    n_di = args.accounts or (5 if args.quick else 30)
    n_mp = args.accounts or (20 if args.quick else 200)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # single core, as specified
    t0 = time.perf_counter()
    di_first = rebalance(direct_index_request(999))
    first_di = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    rebalance(model_portfolio_request(999))
    first_mp = (time.perf_counter() - t0) * 1e3
    rows = [
        ("direct index 500 names / 2,000 lots", _run(direct_index_request, list(range(n_di)), 2), first_di),
        ("model portfolio 20 funds / 60 lots", _run(model_portfolio_request, list(range(n_mp)), 5), first_mp),
    ]
    print(f"rebalancing engine benchmark - Python {platform.python_version()}, single core, solve included")
    print(f"(direct index trades: {len(di_first.trades)}, TE after: {di_first.summary.tracking_error_after})")
    head = f"{'shape':38} {'n':>4} {'median':>8} {'p90':>8} {'compile':>8} {'solve':>8} {'other':>8} {'first':>8} {'peak':>9}"
    print(head)
    print("-" * len(head))
    for name, r, first in rows:
        print(
            f"{name:38} {r['accounts']:>4} {r['median_ms']:>6.1f}ms {r['p90_ms']:>6.1f}ms {r['compile_ms']:>6.1f}ms "
            f"{r['solve_ms']:>6.1f}ms {r['other_ms']:>6.1f}ms {first:>6.0f}ms {r['peak_mib']:>6.1f}MiB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"process peak RSS: {rss:.0f} MiB; compile = cvxpy canonicalisation (+ problem build), solve = Clarabel,"
    )
    print(
        "other = engine work outside cvxpy (arrays, targets, bounds, rounding, report); first = first account, cold cache"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
