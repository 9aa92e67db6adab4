"""Trades made because of "bring back to model" say so ("instruction"), as liquidate's do.

Until 2026-12-07 a bring_to_model proposal inside its drift bands, under a zero gain budget (so a
plain proposal trades nothing), labelled its trades "transition" only: the reason they exist - the
advisor's instruction, which also stretched the tax budget - was not among their reasons.
"""

from __future__ import annotations

from dataclasses import replace

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
    TransitionParams,
    rebalance,
)
from rebalancing.engine.errors import EngineError

from .builders import AS_OF, lot

SECS = (Security("EQ1", 100.0, "equity"), Security("BD1", 100.0, "bonds"))
MODEL = Model("m", (Sleeve("equity", 0.6, {"EQ1": 1.0}), Sleeve("bonds", 0.4, {"BD1": 1.0})))


def _request(instructions=()):
    p = Parameters(
        cash=CashParams(target=0.0),
        drift=DriftParams(absolute_band=0.05, relative_band=0.0),
        transition=TransitionParams(max_net_gain_per_run=0.0),
        instructions=instructions,
    )
    account = Account("A", 0.0, lots=(lot("1", "EQ1", 620, 50_000), lot("3", "BD1", 380, 50_000)))
    return RebalanceRequest(AS_OF, account, SECS, MODEL, p)


def test_bring_to_model_trades_say_instruction():
    assert not rebalance(_request()).trades
    res = rebalance(_request((Instruction("bring_to_model"),)))
    assert [(t.symbol, t.side) for t in res.trades] == [("EQ1", "sell"), ("BD1", "buy")]
    assert all("instruction" in t.reasons for t in res.trades), [(t.symbol, t.reasons) for t in res.trades]


@pytest.mark.parametrize("seed", range(30))
def test_every_trade_of_a_bring_to_model_proposal_says_instruction(seed):
    rng = np.random.default_rng(61_000 + seed)
    lots = tuple(
        lot(str(k), str(rng.choice(["EQ1", "BD1"])), float(rng.integers(1, 900)), float(rng.uniform(1_000, 90_000)))
        for k in range(int(rng.integers(1, 5)))
    )
    req = _request((Instruction("bring_to_model"),))
    req = replace(req, account=Account("A", float(rng.uniform(0, 20_000)), lots=lots))
    try:
        res = rebalance(req)
    except EngineError:
        return
    assert all("instruction" in t.reasons for t in res.trades), [(t.symbol, t.reasons) for t in res.trades]
