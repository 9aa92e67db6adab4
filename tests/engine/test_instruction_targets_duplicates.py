"""Two instructions selling one security are one sale, or refused by name - never counted twice.

Found in the browser (audit of 2026-12-08): "sell ARKK, buy QQQ" and "sell ARKK, buy VOO" on one
account made a proposal selling $6,940 of ARKK and buying $7,150 of QQQ and $28,807 of VOO: each
sale was sized from the holding as it stood (``swap_fraction`` reads ``book.weights``), so ARKK's
value was spent twice, and nothing checked for the repeat.

The rule (``instructions.read_instructions``): two partial sales of X whose proceeds go to the same
place are one sale of their total (the second sells from what the first leaves: together no more
than the holding); a sale of all of X beside another, proceeds split between two securities, or
shares beside dollars, are refused as ``InvalidRequest`` naming both instructions.
"""

from __future__ import annotations

import pytest

from rebalancing.engine import (
    CashParams,
    Instruction,
    InvalidRequest,
    Parameters,
    TradingParams,
    rebalance,
)
from rebalancing.engine.instructions import read_instructions

from .builders import funds, lot, model, request, with_params

SECURITIES = funds(ARKK=100, QQQ=100, VOO=100, BD=100)


def _account(*instructions):
    req = request([lot("A", "ARKK", 70, 7_000), lot("B", "BD", 30, 3_000)], SECURITIES,
                  model(QQQ=0.2, VOO=0.5, BD=0.3),
                  parameters=Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True)))
    return with_params(req, instructions=tuple(instructions))


@pytest.mark.parametrize(("first", "then", "said"), [
    (Instruction("sell_buy", sell="ARKK", buy="QQQ"), Instruction("sell_buy", sell="ARKK", buy="VOO"),
     '"sell ARKK, buy QQQ" and "sell ARKK, buy VOO"'),
    (Instruction("sell_buy", sell="ARKK"), Instruction("sell_buy", sell="ARKK", amount=1_000.0),
     '"sell ARKK" and "sell $1,000.00 of ARKK"'),
    (Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=1_000.0),
     Instruction("sell_buy", sell="ARKK", buy="VOO", amount=2_000.0),
     '"sell $1,000.00 of ARKK, buy QQQ" and "sell $2,000.00 of ARKK, buy VOO"'),
    (Instruction("sell_buy", sell="ARKK", quantity=5.0), Instruction("sell_buy", sell="ARKK", amount=500.0),
     '"sell 5 shares of ARKK" and "sell $500.00 of ARKK"'),
])
def test_two_sales_of_one_security_that_cannot_be_one_are_refused_naming_both(first, then, said):
    # when two instructions sell ARKK and cannot be read as one sale
    with pytest.raises(InvalidRequest) as refused:
        rebalance(_account(first, then))
    # then the refusal names both, and says what to give instead
    assert f"two instructions sell ARKK ({said})" in refused.value.message
    assert "give one sale of ARKK" in refused.value.message


def test_the_audits_proposal_spends_arkk_once():
    # given ARKK $7,000 of a $10,000 account; before, "sell ARKK, buy QQQ" + "sell ARKK, buy VOO"
    # bought $7,000 of each (ARKK's value twice, $14,000 of purchases from $7,000 of sales)
    with pytest.raises(InvalidRequest):
        rebalance(_account(Instruction("sell_buy", sell="ARKK", buy="QQQ"), Instruction("sell_buy", sell="ARKK",
                                                                                       buy="VOO")))


def test_two_partial_sales_to_one_place_are_one_sale_of_their_total():
    # given "sell $1,000 of ARKK, buy QQQ" twice
    effects = read_instructions((Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=1_000.0),
                                 Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=2_000.0)))
    # then they are one sale of $3,000
    assert effects.swaps == (Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=3_000.0),)
    result = rebalance(_account(*effects.swaps))
    twice = rebalance(_account(Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=1_000.0),
                               Instruction("sell_buy", sell="ARKK", buy="QQQ", amount=2_000.0)))
    assert twice.trades == result.trades
    sold = sum(t.quantity for t in twice.trades if t.symbol == "ARKK" and t.side == "sell")
    bought = sum(t.quantity for t in twice.trades if t.symbol == "QQQ" and t.side == "buy")
    assert sold >= 30 and bought >= 30


def test_two_partial_sales_past_the_holding_sell_it_once():
    # given $5,000 and $5,000 of a $7,000 holding, nothing bought: the second sells what is left
    result = rebalance(_account(Instruction("sell_buy", sell="ARKK", amount=5_000.0),
                                Instruction("sell_buy", sell="ARKK", amount=5_000.0)))
    assert sum(t.quantity for t in result.trades if t.symbol == "ARKK" and t.side == "sell") == 70
