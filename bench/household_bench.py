"""Benchmark of the household engine: one household of four accounts against four single-account solves.

Builds reproducible (seeded) households: two taxable accounts, a traditional IRA and a Roth, held to
one model of 20 funds in five sleeves (US and international equity, small caps, bonds, REITs), each
account with about 15 lots at random gains and losses, recent household trades, 5 bp trading cost,
whole shares.  For each household, on one core and interleaved (so a change in the machine's load
hits both alike), it times

- ``rebalance_household`` on the four accounts (the placement LP, then each account's own solve), and
- ``rebalance`` on each of the four accounts against the same model (account by account, as before),

and prints the medians, their ratio, and what each approach does to the household: drift from the
model after the proposal, tax realised, and where the bonds and REITs end up (share of them held in
tax-deferred and Roth accounts).

Usage: ``python bench/household_bench.py [--households N]``.  The figures go into docs/engine.md.
No assertion: speed is measured here, not tested.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rebalancing.engine import (  # noqa: E402
    CASH_KEY,
    Account,
    CashParams,
    HouseholdAccount,
    HouseholdRequest,
    HouseholdTrade,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    rebalance,
    rebalance_household,
)
from rebalancing.engine.household import household_drift  # noqa: E402

AS_OF = date(2025, 6, 30)
SLEEVES = (("us_equity", 0.35), ("intl_equity", 0.15), ("small_caps", 0.1), ("us_bonds", 0.3), ("reits", 0.1))
STATUSES = ("taxable", "taxable", "traditional", "roth")


def build_household(seed: int) -> HouseholdRequest:
    rng = np.random.default_rng(seed)
    securities, sleeves = [], []
    for asset_class, weight in SLEEVES:
        names = [f"{asset_class.upper()}{k}" for k in range(4)]
        w = rng.uniform(0.5, 1.5, 4)
        sleeves.append(Sleeve(asset_class, weight, dict(zip(names, (w / w.sum()).tolist(), strict=True))))
        securities += [Security(n, float(round(rng.uniform(20, 300), 2)), asset_class) for n in names]
    model = Model("20 funds", tuple(sleeves))
    symbols = [s.symbol for s in securities]
    price = {s.symbol: s.price for s in securities}
    params = Parameters(
        cash=CashParams(target=0.01, floor=0.005),
        trading=TradingParams(whole_shares=True, trading_cost_bps=5.0, min_trade_value=50.0),
    )
    # The household's recent trades (each account sees all of them, as the product passes them).
    trades = tuple(
        HouseholdTrade(
            AS_OF - timedelta(days=int(rng.integers(1, 40))),
            symbols[int(rng.integers(len(symbols)))],
            "sell" if rng.random() < 0.5 else "buy",
            10.0,
            -500.0 if rng.random() < 0.5 else 300.0,
            f"A{int(rng.integers(4))}",
        )
        for _ in range(4)
    )
    members = []
    for k, status in enumerate(STATUSES):
        lots = []
        for n in range(int(rng.integers(10, 20))):
            s = symbols[int(rng.integers(len(symbols)))]
            qty = float(rng.integers(10, 400))
            basis = round(qty * price[s] * float(rng.uniform(0.6, 1.4)), 2)
            acquired = AS_OF - timedelta(days=int(rng.integers(40, 2500)))
            lots.append(TaxLot(f"A{k}L{n}", s, qty, basis, acquired))
        account = Account(
            f"A{k}",
            float(round(rng.uniform(0, 30_000), 2)),
            lots=tuple(lots),
            household_trades=trades,
            taxable=status == "taxable",
        )
        members.append(
            HouseholdAccount(RebalanceRequest(AS_OF, account, tuple(securities), model, params), status)
        )
    return HouseholdRequest(f"H{seed}", AS_OF, model, tuple(securities), tuple(members))


def cross_account_washes(request: HouseholdRequest, results) -> int:
    """Loss sales in a taxable account of a security another account buys in the same proposal."""
    count = 0
    for member, r in zip(request.accounts, results, strict=True):
        if member.tax_status != "taxable":
            continue
        losses = {t.symbol for t in r.trades if t.side == "sell" and any(ls.gain < 0 for ls in t.lots)}
        for other in results:
            if other is not r:
                count += len(losses & {t.symbol for t in other.trades if t.side == "buy"})
    return count


def outcome(request: HouseholdRequest, results) -> tuple[float, float, float, float, int]:
    """Household drift after (by security, by asset class), tax, the share of bonds and REITs held
    outside taxable accounts, and cross-account wash sales."""
    classes = {s.symbol: s.asset_class for s in request.securities}
    held: dict[str, float] = {}
    total = sheltered = inefficient = 0.0
    for member, r in zip(request.accounts, results, strict=True):
        value = r.summary.market_value - r.summary.trading_cost
        total += value
        for symbol, w in r.weights_after.items():
            held[symbol] = held.get(symbol, 0.0) + w * value
            if symbol != CASH_KEY and classes[symbol] in ("us_bonds", "reits"):
                inefficient += w * value
                if member.tax_status != "taxable":
                    sheltered += w * value
    weights: dict[str, float] = {}
    for sleeve in request.model.sleeves:
        for s, w in sleeve.holdings.items():
            weights[s] = sleeve.weight * w
    cash_target = 0.01
    targets = {s: w * (1 - cash_target) for s, w in weights.items()}
    targets[CASH_KEY] = cash_target
    tax = sum(r.summary.estimated_tax for r in results)
    by_class: dict[str, float] = {}
    class_targets: dict[str, float] = {}
    for symbol, value in held.items():
        key = CASH_KEY if symbol == CASH_KEY else classes[symbol]
        by_class[key] = by_class.get(key, 0.0) + value
    for symbol, w in targets.items():
        key = CASH_KEY if symbol == CASH_KEY else classes[symbol]
        class_targets[key] = class_targets.get(key, 0.0) + w
    return (
        household_drift(held, total, targets),
        household_drift(by_class, total, class_targets),
        tax,
        sheltered / inefficient if inefficient else 0.0,
        cross_account_washes(request, results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=40)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    households = [build_household(seed) for seed in range(args.households)]
    rebalance_household(households[0])  # imports and first-call set-up out of the timings
    joint_t, single_t, placement_t = [], [], []
    joint_o, single_o = [], []
    for k, h in enumerate(households):
        order = ("joint", "single") if k % 2 == 0 else ("single", "joint")
        for which in order:
            t0 = time.perf_counter()
            if which == "joint":
                result = rebalance_household(h)
                joint_t.append(time.perf_counter() - t0)
                placement_t.append(result.diagnostics.placement_ms / 1e3)
                joint_o.append(outcome(h, result.accounts))
            else:
                results = [rebalance(a.request) for a in h.accounts]
                single_t.append(time.perf_counter() - t0)
                single_o.append(outcome(h, results))
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"household engine benchmark - Python {platform.python_version()}, one core, interleaved")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in load)}")
    print(
        f"{args.households} households of 4 accounts (2 taxable, traditional IRA, Roth), 20 funds, ~15 lots each"
    )
    header = (
        f"{'approach':<38}{'median':>10}{'p90':>10}{'drift':>8}{'class drift':>13}{'tax':>9}"
        f"{'sheltered':>11}{'washes':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, times, outs in (
        ("rebalance_household (one call)", joint_t, joint_o),
        ("4 x rebalance (account by account)", single_t, single_o),
    ):
        drift, class_drift, tax, shelter = (statistics.median(o[i] for o in outs) for i in range(4))
        washes = sum(o[4] for o in outs)
        print(
            f"{name:<38}{statistics.median(times) * 1e3:>8.1f}ms{np.percentile(times, 90) * 1e3:>8.1f}ms"
            f"{drift:>8.2%}{class_drift:>13.2%}{tax:>9,.0f}{shelter:>11.0%}{washes:>8}"
        )
    ratio = statistics.median(j / s for j, s in zip(joint_t, single_t, strict=True))
    print(
        f"ratio household / four single solves: {statistics.median(joint_t) / statistics.median(single_t):.2f}x "
        f"(median of per-household ratios {ratio:.2f}x); placement LP median "
        f"{statistics.median(placement_t) * 1e3:.1f}ms"
    )
    print("drift / class drift = household drift from its model after the proposal, by security / by asset")
    print(
        "class (medians); tax = estimated tax realised (median); sheltered = share of the household's bonds"
    )
    print("and REITs held in the IRA or the Roth (median); washes = loss sales in one account of a security")
    print("another account buys in the same proposal (total over all households)")


if __name__ == "__main__":
    main()
