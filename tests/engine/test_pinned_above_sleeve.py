"""A restricted position kept above its sleeve's weight: the rest of the model makes room.

docs/engine.md, Restrictions: "A pinned position's target is its weight; the rest of its sleeve (or
the model) rescales." Until 2026-12-07 a `hold` of 60% in a 30% sleeve zeroed the sleeve's other
holdings and dropped the other 30 points: the targets summed to 1.3 and the bonds and real estate
were not rebalanced.
"""

from __future__ import annotations

import numpy as np
import pytest

from rebalancing.engine import (
    Account,
    CashParams,
    Model,
    Parameters,
    RebalanceRequest,
    Restrictions,
    Security,
    Sleeve,
    TradingParams,
    rebalance,
)
from rebalancing.engine.errors import EngineError, InfeasibleParameters

from .builders import AS_OF, lot

SECS = (
    Security("EQ1", 100.0, "equity"),
    Security("EQ2", 100.0, "equity"),
    Security("BD1", 100.0, "bonds"),
    Security("RE1", 100.0, "real_estate"),
)
MODEL = Model(
    "m",
    (
        Sleeve("equity", 0.3, {"EQ1": 0.5, "EQ2": 0.5}),
        Sleeve("bonds", 0.5, {"BD1": 1.0}),
        Sleeve("real_estate", 0.2, {"RE1": 1.0}),
    ),
)


def test_a_hold_above_its_sleeves_weight_shrinks_the_other_sleeves_pro_rata():
    p = Parameters(
        restrictions=Restrictions(hold=("EQ2",)), cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True)
    )
    account = Account("A", 0.0, lots=(lot("1", "EQ2", 600, 60_000), lot("2", "BD1", 400, 40_000)))
    res = rebalance(RebalanceRequest(AS_OF, account, SECS, MODEL, p))
    # EQ2 stays at 60%; EQ1 (the rest of its sleeve) gets nothing; bonds and real estate share the 40%
    # left 5:2.
    assert res.targets["EQ2"] == pytest.approx(0.6)
    assert res.targets.get("EQ1", 0.0) == pytest.approx(0.0, abs=1e-12)
    assert res.targets["BD1"] == pytest.approx(0.4 * 5 / 7)
    assert res.targets["RE1"] == pytest.approx(0.4 * 2 / 7)
    assert sum(res.targets.values()) == pytest.approx(1.0, abs=1e-12)
    assert res.weights_after["RE1"] == pytest.approx(0.4 * 2 / 7, abs=0.01)
    assert res.summary.drift_after < 0.01


def test_a_do_not_sell_above_its_sleeve_and_a_cash_target():
    p = Parameters(restrictions=Restrictions(do_not_sell=("BD1",)), cash=CashParams(target=0.05))
    account = Account("A", 10_000.0, lots=(lot("1", "BD1", 700, 60_000), lot("2", "EQ1", 200, 20_000)))
    res = rebalance(RebalanceRequest(AS_OF, account, SECS, MODEL, p))
    # BD1 70% of a 50% sleeve: the 5% cash target and BD1's 70% leave 25% for equity and real
    # estate, 3:2.
    assert res.targets["BD1"] == pytest.approx(0.7)
    assert res.targets["$CASH"] == pytest.approx(0.05)
    assert res.targets["EQ1"] + res.targets["EQ2"] == pytest.approx(0.25 * 3 / 5)
    assert res.targets["RE1"] == pytest.approx(0.25 * 2 / 5)


FUNDS = {"EQ1": "equity", "EQ2": "equity", "EQ3": "equity", "BD1": "bonds", "BD2": "bonds", "RE1": "real_estate"}


def _random_request(seed: int) -> RebalanceRequest:
    rng = np.random.default_rng(9_100 + seed)
    secs = tuple(Security(s, float(np.round(rng.uniform(10, 300), 2)), c) for s, c in FUNDS.items())
    prices = {s.symbol: s.price for s in secs}
    lots = []
    for k in range(int(rng.integers(1, 8))):
        s = str(rng.choice(list(FUNDS)))
        q = float(rng.integers(1, 500))
        lots.append(lot(str(k), s, q, round(q * prices[s] * float(rng.uniform(0.5, 1.5)), 2)))
    w = rng.dirichlet(np.ones(3))
    model = Model(
        "m",
        (
            Sleeve("equity", float(w[0]), {"EQ1": 0.5, "EQ2": 0.3, "EQ3": 0.2}),
            Sleeve("bonds", float(w[1]), {"BD1": 0.6, "BD2": 0.4}),
            Sleeve("real_estate", float(w[2]), {"RE1": 1.0}),
        ),
    )
    held = sorted({x.symbol for x in lots})
    picks = rng.permutation(held)
    k1, k2 = sorted(rng.integers(0, len(held) + 1, size=2))
    hold, dns = tuple(picks[:k1]), tuple(picks[k1:k2])
    dnb = tuple(rng.choice(list(FUNDS), size=int(rng.integers(0, 2)), replace=False))
    dnb = tuple(s for s in dnb if s not in hold)
    target = float(rng.choice([0.0, 0.02, 0.1]))
    p = Parameters(
        restrictions=Restrictions(hold=hold, do_not_sell=dns, do_not_buy=dnb),
        cash=CashParams(target=target, floor=target / 2),
    )
    return RebalanceRequest(AS_OF, Account("A", float(rng.uniform(0, 20_000)), lots=tuple(lots)), secs, model, p)


def _simple_targets(req: RebalanceRequest) -> dict[str, float]:
    """The targets written out plainly: the model's, the pins at their weights, each sleeve's other
    holdings pro rata for its own pins up to what they hold, the rest of the model pro rata for what
    is left."""
    prices = {s.symbol: s.price for s in req.securities}
    value: dict[str, float] = {}
    for x in req.account.lots:
        value[x.symbol] = value.get(x.symbol, 0.0) + x.quantity * prices[x.symbol]
    total = req.account.cash + sum(value.values())
    w0 = {s: v / total for s, v in value.items()}
    cash = req.parameters.cash.target
    target, sleeve, model = {}, {}, {}
    for sl in req.model.sleeves:
        for s, h in sl.holdings.items():
            target[s] = (1 - cash) * sl.weight * h
            sleeve[s] = sl.asset_class
    model = dict(target)
    r = req.parameters.restrictions
    pins = {s: w0[s] for s in r.hold}
    pins.update({s: w0.get(s, 0.0) for s in r.do_not_buy if s not in pins and w0.get(s, 0.0) < target.get(s, 0.0)})
    pins.update({s: w0[s] for s in r.do_not_sell if s not in pins and w0[s] > target.get(s, 0.0)})
    left = 0.0
    for name in {sleeve.get(s) for s in pins}:
        mine = [s for s in pins if sleeve.get(s) == name]
        delta = sum(pins[s] - target.get(s, 0.0) for s in mine)
        free = [s for s, c in sleeve.items() if c == name and s not in pins and target[s] > 0] if name else []
        base = sum(target[s] for s in free)
        if base <= 0:
            left += delta
            continue
        taken = min(delta, base)
        left += delta - taken
        for s in free:
            target[s] *= (base - taken) / base
    target.update(pins)
    free = [s for s in target if s not in pins and target[s] > 0]
    base = sum(target[s] for s in free)
    if left and base > 0:
        for s in free:
            target[s] *= max(0.0, (base - left) / base)
    elif left < 0:  # nothing left to grow: the model's other holdings, by the model's weights
        free = [s for s in model if s not in pins and model[s] > 0]
        for s in free:
            target[s] += -left * model[s] / sum(model[x] for x in free)
    return target


@pytest.mark.parametrize("seed", range(120))
def test_targets_sum_to_one_and_drift_is_half_the_distance(seed):
    req = _random_request(seed)
    try:
        res = rebalance(req)
    except InfeasibleParameters as err:
        assert err.conflicts
        return
    except EngineError:
        return
    expect = _simple_targets(req)
    for s in FUNDS:
        assert res.targets.get(s, 0.0) == pytest.approx(expect.get(s, 0.0), abs=1e-9), (s, res.targets, expect)
    assert sum(res.targets.values()) == pytest.approx(1.0, abs=1e-9), res.targets
    keys = set(res.targets) | set(res.weights_before) | set(res.weights_after)
    before = 0.5 * sum(abs(res.weights_before.get(k, 0.0) - res.targets.get(k, 0.0)) for k in keys)
    after = 0.5 * sum(abs(res.weights_after.get(k, 0.0) - res.targets.get(k, 0.0)) for k in keys)
    assert res.summary.drift_before == pytest.approx(before, abs=1e-9)
    assert res.summary.drift_after == pytest.approx(after, abs=1e-9)


@pytest.mark.parametrize(("cash", "expected_cash_target"), [(0.0, 0.0), (10_000.0, 0.1)])
def test_when_everything_is_pinned_the_cash_target_gives_way(cash, expected_cash_target):
    # Every model name held and on hold: nothing can give the 5% cash target (no cash), or take the
    # 10% cash beyond it - the cash target is what the pins leave, and a warning says so.
    m = Model("m", (Sleeve("equity", 0.5, {"EQ1": 1.0}), Sleeve("bonds", 0.5, {"BD1": 1.0})))
    p = Parameters(restrictions=Restrictions(hold=("EQ1", "BD1")), cash=CashParams(target=0.05))
    lots = (lot("1", "EQ1", 500, 50_000), lot("2", "BD1", 400 if cash else 500, 40_000))
    res = rebalance(RebalanceRequest(AS_OF, Account("A", cash, lots=lots), SECS, m, p))
    assert not res.trades
    assert res.targets["$CASH"] == pytest.approx(expected_cash_target)
    assert sum(res.targets.values()) == pytest.approx(1.0, abs=1e-12)
    assert res.summary.drift_after == pytest.approx(0.0, abs=1e-12)
    assert any("the cash target is" in w for w in res.warnings), res.warnings
