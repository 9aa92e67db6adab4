"""Benchmark of the rebalancing engine against a plain cvxpy + Clarabel formulation.

Builds reproducible (seeded) random accounts of two shapes:

- a direct index of 500 names with 2,000 tax lots (20-factor risk model, screens, no-buy list,
  a wash-sale-blocked name, harvesting, 5 bp trading cost, 1% cash target, a fund replaced);
- a model portfolio of 20 funds with 60 lots (tax budget, harvesting with substitutes).

For each account, on one core and interleaved (so a change in the machine's load hits both
alike), it times the engine's whole ``rebalance()`` (validation, targets, bounds, solve,
rounding, report) and the solve of the same optimisation written plainly with cvxpy and
Clarabel (``plain_problem`` below, what a team would write: variables per lot and per
security in fractions of account value, the factor risk model as given, Clarabel's defaults;
its build and solve only, none of the engine's other work).  It prints the ratio of the two,
then the objective of the engine's optimiser (before rounding) against the plain formulation
solved to tight tolerances, then the engine's own breakdown.

Usage: ``python bench/engine_bench.py [--quick] [--accounts N]``.  The figures go into
docs/engine.md.  No assertion: speed is measured here, not tested.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

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
from rebalancing.engine.optimizer import solve  # noqa: E402
from rebalancing.engine.problem import CASH_PENALTY, KAPPA, REFERENCE_VARIANCE  # noqa: E402
from rebalancing.engine.rebalancer import problem_data  # noqa: E402

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


def plain_problem(data) -> tuple[cp.Problem, cp.Variable, cp.Variable]:
    """The engine's optimisation as a team would write it with cvxpy (same objective and
    constraints as ``rebalancing.engine.problem``): a variable per lot and per security, all
    bounds as constraints, active weights as an expression, the factor model as given."""
    n, n_lots = len(data.w0), len(data.lot_sec)
    x = cp.Variable(n_lots)
    b = cp.Variable(n)
    S = sp.csr_matrix((np.ones(n_lots), (data.lot_sec, np.arange(n_lots))), shape=(n, n_lots))
    w = data.w0 - S @ x + b
    active = (data.lookthrough @ w if data.lookthrough is not None else w) - data.reference
    exposures = data.exposures / math.sqrt(REFERENCE_VARIANCE)
    sqrt_specific = np.sqrt(data.specific / REFERENCE_VARIANCE)
    traded = cp.sum(x) + cp.sum(b)
    cash = data.cash0 + cp.sum(x) - cp.sum(b) - data.cost_rate * traded
    objective = (
        cp.sum_squares(exposures.T @ active)
        + cp.sum_squares(cp.multiply(sqrt_specific, active))
        + CASH_PENALTY * cp.square(cash - data.cash_target)
        + KAPPA * (data.tax @ x + data.cost_rate * traded)
    )
    constraints = [
        x >= data.x_lb,
        x <= data.x_ub,
        b >= np.minimum(data.b_lb, 10.0),
        b <= np.minimum(data.b_ub, 10.0),
        cash >= data.cash_floor,
    ]
    if data.s_lb.any():
        constraints.append(S @ x >= data.s_lb)
    if data.max_turnover < math.inf:
        constraints.append(traded <= 2 * data.max_turnover)
    if data.budget < math.inf:
        constraints.append(data.gain @ x <= data.budget)
    return cp.Problem(cp.Minimize(objective), constraints), x, b


TIGHT = {"tol_gap_abs": 1e-13, "tol_gap_rel": 1e-13, "tol_feas": 1e-12, "max_iter": 500}


def _compare(make, seeds: list[int]) -> dict[str, float]:
    """Interleaved timings (engine first on even seeds, plain first on odd) and objective agreement."""
    for s in seeds[:2]:  # warm both paths up
        rebalance(make(s))
        plain_problem(problem_data(make(s)))[0].solve(solver="CLARABEL")
    engine, plain, ratios, cpu_ratios, agreement = [], [], [], [], []
    for s in seeds:
        request = make(s)
        data = problem_data(request)
        times, cpu = {}, {}
        for which in (("engine", "plain") if s % 2 == 0 else ("plain", "engine")):
            start, start_cpu = time.perf_counter(), time.process_time()
            if which == "engine":
                rebalance(request)
            else:
                plain_problem(data)[0].solve(solver="CLARABEL")
            times[which] = time.perf_counter() - start
            cpu[which] = time.process_time() - start_cpu
        engine.append(times["engine"] * 1e3)
        plain.append(times["plain"] * 1e3)
        ratios.append(times["engine"] / times["plain"])
        cpu_ratios.append(cpu["engine"] / cpu["plain"])
        # Objective agreement, without rounding: the engine's optimiser against the plain
        # formulation solved to tight tolerances, both valued by the plain formulation.
        problem, x, b = plain_problem(data)
        problem.solve(solver="CLARABEL", **TIGHT)
        best = problem.value
        ours = solve(data)
        x.value, b.value = ours.x, ours.b
        agreement.append((abs(problem.objective.value - best) / abs(best), abs(problem.objective.value - best)))
    return {
        "accounts": len(seeds),
        "engine_ms": statistics.median(engine),
        "plain_ms": statistics.median(plain),
        "ratio": statistics.median(engine) / statistics.median(plain),
        "pair_ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "worst_agreement": max(rel for rel, _ in agreement),
        "within": sum(rel <= 1e-6 for rel, _ in agreement),
        "worst_absolute": max(diff for _, diff in agreement),
    }


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
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer accounts (a smoke run)")
    parser.add_argument("--accounts", type=int, default=None, help="accounts per shape")
    args = parser.parse_args(argv)
    n_di = args.accounts or (5 if args.quick else 30)
    n_mp = args.accounts or (20 if args.quick else 200)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # single core, as specified
    load = os.getloadavg()
    t0 = time.perf_counter()
    di_first = rebalance(direct_index_request(999))
    first_di = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    rebalance(model_portfolio_request(999))
    first_mp = (time.perf_counter() - t0) * 1e3
    shapes = (
        ("direct index 500 names / 2,000 lots", direct_index_request, n_di, 2, first_di),
        ("model portfolio 20 funds / 60 lots", model_portfolio_request, n_mp, 5, first_mp),
    )
    compared = [(name, _compare(make, list(range(n)))) for name, make, n, _, _ in shapes]
    rows = [(name, _run(make, list(range(n)), warm), first) for name, make, n, warm, first in shapes]
    print(f"rebalancing engine benchmark - Python {platform.python_version()}, one core, interleaved")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    head = (
        f"{'shape':38} {'n':>4} {'rebalance()':>12} {'plain cvxpy':>12} {'ratio':>6} {'per pair':>9} "
        f"{'CPU':>7} {'worst rel':>10} {'<=1e-6':>7} {'worst abs':>10}"
    )
    print(head)
    print("-" * len(head))
    for name, r in compared:
        print(
            f"{name:38} {r['accounts']:>4} {r['engine_ms']:>10.2f}ms {r['plain_ms']:>10.2f}ms "
            f"{r['ratio']:>5.3f}x {r['pair_ratio']:>8.3f}x {r['cpu_ratio']:>6.3f}x {r['worst_agreement']:>10.1e} "
            f"{r['within']:>3}/{r['accounts']:<3} {r['worst_absolute']:>10.1e}"
        )
    print("rebalance() = the engine's whole call; plain cvxpy = build + Clarabel solve of the same problem")
    print("(medians); per pair = median of per-account ratios; CPU = the same on CPU time (process_time: a")
    print("share of the core lost to other processes does not count); worst rel / <=1e-6 / worst abs = the engine's")
    print("optimiser (before rounding) against the plain formulation solved to tight tolerances: the worst")
    print("relative difference of the objective, how many accounts agree within 1e-6, the worst absolute one.")
    print()
    print(f"(direct index trades: {len(di_first.trades)}, TE after: {di_first.summary.tracking_error_after})")
    head = f"{'shape':38} {'n':>4} {'median':>8} {'p90':>8} {'build':>8} {'solve':>8} {'other':>8} {'first':>8} {'peak':>9}"
    print(head)
    print("-" * len(head))
    for name, r, first in rows:
        print(
            f"{name:38} {r['accounts']:>4} {r['median_ms']:>6.1f}ms {r['p90_ms']:>6.1f}ms {r['compile_ms']:>6.1f}ms "
            f"{r['solve_ms']:>6.1f}ms {r['other_ms']:>6.1f}ms {first:>6.0f}ms {r['peak_mib']:>6.1f}MiB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB; build = Clarabel's matrices and set-up, solve = Clarabel's iterations,")
    print("other = the rest of rebalance() (validation, arrays, targets, bounds, rounding, report); first = first")
    print("account in the process; peak = tracemalloc peak of one call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
