"""`screen.rescale = "track_benchmark"` on a sleeve with nothing to track through.

The optimiser tilts a screened holding's weight to similar names through the sleeve's benchmark's
risk model. A sleeve without a benchmark (or whose benchmark has no risk model) has none: until
2026-12-07 the screened fund's proceeds sat in cash (target 0%) and the sleeve stayed short. Such a
sleeve falls back to `pro_rata`, with a warning saying so.
"""

from __future__ import annotations

import numpy as np
import pytest

from rebalancing.engine import (
    Account,
    Benchmark,
    CashParams,
    Model,
    Parameters,
    RebalanceRequest,
    ScreenParams,
    Security,
    Sleeve,
    rebalance,
)

from .builders import AS_OF, lot

SECS = (
    Security("EQ1", 100.0, "equity"),
    Security("BD1", 100.0, "bonds", esg_score=10),
    Security("BD2", 100.0, "bonds"),
)
LOTS = (lot("1", "EQ1", 300, 20_000), lot("3", "BD1", 200, 30_000))


def _run(rescale: str, bonds_benchmark: Benchmark | None = None):
    m = Model("m", (Sleeve("equity", 0.6, {"EQ1": 1.0}), Sleeve("bonds", 0.4, {"BD1": 0.5, "BD2": 0.5}, bonds_benchmark)))
    p = Parameters(cash=CashParams(target=0.0), screen=ScreenParams(min_esg_score=50, rescale=rescale))
    return rebalance(RebalanceRequest(AS_OF, Account("A", 10_000.0, lots=LOTS), SECS, m, p))


def test_a_sleeve_without_a_benchmark_gives_the_screened_weight_pro_rata():
    pro, track = _run("pro_rata"), _run("track_benchmark")
    assert track.targets["BD2"] == pytest.approx(0.4)
    # The screened BD1 is sold and its 20% (with the cash) bought in BD2, as pro_rata does.
    assert track.weights_after["$CASH"] < 0.01, (track.weights_after, track.trades)
    assert track.weights_after["BD2"] == pytest.approx(0.4, abs=0.01)
    assert track.summary.drift_after < 0.01
    assert [(t.symbol, t.side, t.quantity) for t in track.trades] == [(t.symbol, t.side, t.quantity) for t in pro.trades]
    assert any("sleeve bonds" in w and "pro rata" in w for w in track.warnings), track.warnings
    assert not any("pro rata" in w for w in pro.warnings)


def test_a_benchmark_without_a_risk_model_falls_back_too():
    bench = Benchmark("AGG", {"BD1": 0.5, "BD2": 0.5})
    track = _run("track_benchmark", bench)
    assert track.weights_after["$CASH"] < 0.01
    assert any("sleeve bonds" in w for w in track.warnings), track.warnings


@pytest.mark.parametrize("seed", range(40))
def test_without_anything_to_track_the_result_is_pro_ratas(seed):
    rng = np.random.default_rng(5_200 + seed)
    secs = tuple(
        Security(s, float(np.round(rng.uniform(10, 200), 2)), c, esg_score=float(rng.uniform(0, 100)))
        for s, c in (("EQ1", "equity"), ("EQ2", "equity"), ("BD1", "bonds"), ("BD2", "bonds"), ("BD3", "bonds"))
    )
    prices = {s.symbol: s.price for s in secs}
    lots = tuple(
        lot(str(k), s, q, round(q * prices[s] * float(rng.uniform(0.6, 1.4)), 2))
        for k, (s, q) in enumerate(
            (str(rng.choice(list(prices))), float(rng.integers(1, 300))) for _ in range(int(rng.integers(1, 6)))
        )
    )
    w = float(rng.uniform(0.2, 0.8))
    m = Model("m", (Sleeve("equity", w, {"EQ1": 0.6, "EQ2": 0.4}), Sleeve("bonds", 1 - w, {"BD1": 0.5, "BD2": 0.3, "BD3": 0.2})))
    cash = float(rng.uniform(0, 5000))
    out = {}
    for rescale in ("pro_rata", "track_benchmark"):
        p = Parameters(cash=CashParams(target=0.02), screen=ScreenParams(min_esg_score=30, rescale=rescale))
        try:
            out[rescale] = rebalance(RebalanceRequest(AS_OF, Account("A", cash, lots=lots), secs, m, p))
        except Exception as err:  # noqa: BLE001 - both must refuse alike
            out[rescale] = type(err).__name__, str(err)
    pro, track = out["pro_rata"], out["track_benchmark"]
    if isinstance(pro, tuple):
        assert track == pro
        return
    assert track.targets == pytest.approx(pro.targets)
    assert [(t.symbol, t.side, t.quantity) for t in track.trades] == [(t.symbol, t.side, t.quantity) for t in pro.trades]
    screened = [s.symbol for s in secs if s.esg_score < 30]
    assert any("pro rata" in w for w in track.warnings) == bool(screened), (screened, track.warnings)
