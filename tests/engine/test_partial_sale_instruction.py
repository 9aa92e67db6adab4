"""A partial "sell $N of X (and buy Y)" instruction moves exactly what it sells.

Found in the demo (browser audit, 2026-12-07): proposal #111 bought $50,237 of VOO (drift 11.31% ->
0.02%). The advisor's edit "sell $5,000 of VOO and buy VTI" made #188: $4,918 of VOO sold, $15,621
of VTI bought (three times the proceeds), the VOO purchase gone, cash $4,745 -> $21,536, drift
11.31% -> 11.39%. X's target was cut by the sale and X made unbuyable, and the money the model still
meant for X went to Y and the other sleeves past their targets. The worked cases use a 50/50 model
with EQ at 30%, BD at 50% and cash at 20%.

The rule (``instructions.apply_swap_targets``): X's target is lowered by the sale and Y's raised by
it (cash's, when nothing is bought); X is not bought back in the same proposal; the rest of the
model is untouched, and what X's target still asks waits in the cash already there.
"""

import os

import numpy as np
import pytest

from rebalancing.engine import (
    Account,
    CashParams,
    DriftParams,
    Instruction,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    rebalance,
)

from .builders import AS_OF, LONG_AGO, funds, lot, model, request, with_params

SECURITIES = funds(EQ=100, BD=100, OT=100)


def _request(*instructions):
    req = request([lot("E", "EQ", 30, 3_000), lot("B", "BD", 50, 5_000)], SECURITIES,
                  model(EQ=0.5, BD=0.5), cash=2_000.0)
    return with_params(req, instructions=tuple(instructions)) if instructions else req


def _bought(result, symbol):
    return sum(t.quantity for t in result.trades if t.symbol == symbol and t.side == "buy")


def _sold(result, symbol):
    return sum(t.quantity for t in result.trades if t.symbol == symbol and t.side == "sell")


def _drift(weights: dict[str, float], targets: dict[str, float]) -> float:
    """Half the sum of absolute differences (cash included under the key "cash")."""
    return 0.5 * sum(abs(weights.get(k, 0.0) - targets.get(k, 0.0)) for k in set(weights) | set(targets))


def test_the_plain_proposal_buys_the_underweight_sleeve():
    plain = rebalance(_request())
    assert _bought(plain, "EQ") == 20 and plain.summary.drift_after == pytest.approx(0.0)


@pytest.mark.parametrize("buy", ["OT", None])
def test_a_partial_sale_does_not_push_another_sleeve_past_its_target(buy):
    result = rebalance(_request(Instruction("sell_buy", sell="EQ", buy=buy, amount=500.0)))
    # BD is at its 50% target and the sale asks for none of it (6 or 10 were bought: 56%, 60%).
    assert _bought(result, "BD") == 0
    assert _sold(result, "EQ") == 5 and _bought(result, "EQ") == 0
    # The proceeds buy OT, or stay in cash; the $2,000 already there waits for EQ.
    assert result.summary.cash_after == pytest.approx(2_000.0 if buy else 2_500.0)


def test_buy_with_the_proceeds_buys_the_proceeds():
    result = rebalance(_request(Instruction("sell_buy", sell="EQ", buy="OT", amount=500.0)))
    assert _sold(result, "EQ") * 100 == pytest.approx(500.0)
    # $500 of proceeds buy 5 OT at $100 (11 were bought, $1,100), and the $2,000 of cash EQ's target
    # still asks for is kept, not spent elsewhere.
    assert _bought(result, "OT") == 5
    assert result.summary.cash_after == pytest.approx(2_000.0)


def test_a_partial_sale_of_an_overweight_holding_still_sells_its_excess():
    # (A guard on the rule, as the next one: both held before the fix too.)
    # EQ at 70% of a 50/50 model: the plain proposal sells 20 of it. "Sell $1,000 of EQ, buy OT"
    # moves 10 of EQ's 50% to OT; EQ still goes to its 40%, and BD to its 50%.
    req = with_params(request([lot("E", "EQ", 70, 7_000), lot("B", "BD", 30, 3_000)], SECURITIES,
                              model(EQ=0.5, BD=0.5)),
                      instructions=(Instruction("sell_buy", sell="EQ", buy="OT", amount=1_000.0),))
    result = rebalance(req)
    assert (_sold(result, "EQ"), _bought(result, "OT"), _bought(result, "BD")) == (30, 10, 20)


def test_selling_all_of_a_holding_keeps_moving_its_whole_target():
    # With no quantity or amount, Y takes X's whole target, as before the fix: 50 OT for EQ's 50%.
    result = rebalance(_request(Instruction("sell_buy", sell="EQ", buy="OT")))
    assert (_sold(result, "EQ"), _bought(result, "OT"), _bought(result, "BD")) == (30, 50, 0)


# --- property: random models and accounts -------------------------------------------------------

SYMBOLS = ("A", "B", "C", "OT")
CLASSES = {"A": "equity", "B": "equity", "C": "bonds", "OT": "other"}


def _moved_model(targets, weights, cash_target, sell, buy, sold):
    """The model with what the instruction sells moved (a second, plain statement of the rule):
    X's target lowered by the sale (not below 0), the whole sale added to Y's target (or cash's),
    and the rest of the model shrunk to fit when the sale is more than X's target."""
    out = dict(targets)
    out["cash"] = cash_target
    moved = min(out.get(sell, 0.0), sold)
    receiver = buy or "cash"
    surplus = sold - moved
    others = [k for k, t in out.items() if t > 0 and k not in (sell, receiver, "cash")]
    base = sum(out[k] for k in others)
    for k in others:
        out[k] *= max(0.0, (base - surplus) / base)
    out[sell] = out.get(sell, 0.0) - moved
    out[receiver] = out.get(receiver, 0.0) + sold
    return out


def _random_case(rng):
    prices = {s: float(rng.uniform(10, 300)) for s in SYMBOLS}
    held = [s for s in SYMBOLS if rng.random() < 0.75] or ["A"]
    lots = tuple(TaxLot(f"L{s}", s, float(rng.uniform(5, 200)), 1.0, LONG_AGO) for s in held)
    cash = float(rng.choice([0.0, rng.uniform(0, 8_000)]))
    eq, a = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))
    the_model = Model("m", (Sleeve("equity", eq, {"A": a, "B": 1 - a}), Sleeve("bonds", 1 - eq, {"C": 1.0})))
    cash_target = float(rng.choice([0.0, rng.uniform(0, 0.05)]))
    sell = str(rng.choice(held))
    buy = rng.choice([None, *[s for s in SYMBOLS if s != sell]])
    value = {lt.symbol: lt.quantity * prices[lt.symbol] for lt in lots}
    amount = value[sell] * float(rng.uniform(0.05, 0.95))
    params = Parameters(
        cash=CashParams(target=cash_target), drift=DriftParams(absolute_band=0.0, relative_band=0.0),
        trading=TradingParams(whole_shares=False),
        instructions=(Instruction("sell_buy", sell=sell, buy=None if buy is None else str(buy), amount=amount),),
    )
    securities = tuple(Security(s, prices[s], CLASSES[s]) for s in SYMBOLS)
    # Tax-deferred: taxes would (rightly) keep some sales from happening, which is not the rule here.
    req = RebalanceRequest(AS_OF, Account("P", cash, lots=lots, taxable=False), securities, the_model, params)
    targets = {"A": eq * a, "B": eq * (1 - a), "C": 1 - eq}
    targets = {k: t * (1 - cash_target) for k, t in targets.items()}
    return req, prices, value, cash, targets, cash_target, sell, None if buy is None else str(buy), amount


def test_a_partial_sale_moves_what_it_sells_and_manages_the_rest_as_usual():
    rng = np.random.default_rng(20261207)
    tol = 1e-4
    for case in range(int(os.environ.get("PROP_N", "300"))):
        req, prices, value, cash, targets, cash_target, sell, buy, amount = _random_case(rng)
        total = cash + sum(value.values())
        result = rebalance(req)
        net = {s: 0.0 for s in SYMBOLS}
        for t in result.trades:
            net[t.symbol] += t.quantity * prices[t.symbol] * (1 if t.side == "buy" else -1)
        before = {s: value.get(s, 0.0) / total for s in SYMBOLS} | {"cash": cash / total}
        after = {s: (value.get(s, 0.0) + net[s]) / total for s in SYMBOLS} | {"cash": result.summary.cash_after / total}
        sold = amount / total
        moved = _moved_model(targets, before, cash_target, sell, buy, sold)
        why = f"case {case}: sell {amount:.2f} of {sell}, buy {buy}, before {before}, after {after}, moved {moved}"

        # X: what was asked is sold, and X is not bought back.
        assert not any(t.symbol == sell and t.side == "buy" for t in result.trades), why
        assert -net[sell] >= amount * (1 - 1e-5), why
        # Y: the proceeds, and what Y's own target asks, at most.
        if buy is not None:
            own = max(0.0, targets.get(buy, 0.0) - before[buy])
            assert net[buy] / total <= sold + own + tol, why
            assert net[buy] >= amount * (1 - 1e-5), why
        # Other positions are not bought past their (moved) targets.
        for s in SYMBOLS:
            if s not in (sell, buy) and net[s] > 0:
                assert after[s] <= max(before[s], moved[s]) + tol, why
        # What receives the sale (Y, or cash) already above its own target: the advisor's order itself
        # moves the account away (Y bought on top, and Y cannot be sold to pay for anything else).
        receiver = buy or "cash"
        over = before[receiver] > (targets.get(receiver, 0.0) if buy else cash_target) + tol
        # (or the order buys more than the rest of the model can give way to: then it wins)
        over |= sum(moved.values()) > 1 + tol
        # Cash: between where it was (with the proceeds, when nothing is bought) and its target - cash
        # above its target waits for X; an overweight receiver may hold some below it, above the
        # floor (0 here) - and at its target when X's target is no longer above X.
        receiver_cash = moved["cash"] if buy is None else cash_target
        kept = before["cash"] + (sold if buy is None else 0.0)
        assert after["cash"] <= max(kept, receiver_cash) + tol, why
        assert after["cash"] >= (0.0 if over else min(kept, receiver_cash)) - tol, why
        if moved[sell] <= before[sell] - sold + tol and not over:
            assert after["cash"] == pytest.approx(receiver_cash, abs=tol), why
        # Drift against the moved model: no worse than the ordered swap alone leaves it, and no worse
        # than before unless the receiver was over its target.
        swap_only = dict(before)
        swap_only[sell] -= sold
        swap_only[receiver] += sold
        assert _drift(after, moved) <= _drift(swap_only, moved) + tol, why
        if not over:
            assert _drift(after, moved) <= _drift(before, moved) + tol, why
