"""With ``wash_sale.allow``, a proposal selling two securities of one equivalence group at a loss
sells them the same day, in orders whose order within the day the ledger never knows: Treas. Reg.
§1.1091-1(b) then takes the stock disposed of "in the order in which they were originally acquired",
share by share across the sales. The estimate (``rebalancer._disallowed_losses``) must match its
loss shares so, as the ledger's replay does (``ledger.wash_sales.household_replay``). Until
2026-12-06 both took one security's sale whole (the one holding the oldest lot) before the other's.
"""

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal as D

import pytest

from rebalancing.engine import CashParams, HouseholdTrade, Parameters, WashSaleParams, rebalance
from rebalancing.ledger.wash_sales import Draw, Lot, household_replay

from .builders import AS_OF, funds, lot, model, request

PRICE = {"EQ": 100, "EQ2": 50, "BD": 100}
GROUP = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True, equivalent_groups=(("EQ", "EQ2"),)))


def _sold(result) -> dict[str, tuple[float, float]]:
    """lot id -> (shares sold, disallowed loss) of the proposal."""
    return {s.lot_id: (s.quantity, s.disallowed_loss) for t in result.trades if t.side == "sell" for s in t.lots}


def _replayed(result, own, others) -> dict[str, float]:
    """The ledger's replay of the proposal's sales filled at its prices, one order a security
    (``ledger.orders``: "P{proposal}-{n}"): lot id -> disallowed loss on today's sales."""
    order = {t.symbol: n for n, t in enumerate(result.trades, start=1)}
    sold = _sold(result)
    lots = []
    for lot_id, symbol, day, shares, unit in own:
        q = round(sold.get(lot_id, (0, 0))[0])
        draws = (Draw(f"P1-{order[symbol]}", AS_OF, lot_id, D(q), D(q * PRICE[symbol]), D(q * unit)),) if q else ()
        lots.append(Lot(key=lot_id, account="T", taxable=True, lot_id=lot_id, purchased=day, held=D(shares - q),
                        held_unadjusted=D((shares - q) * unit), draws=draws))
    for lot_id, account, day, shares in others:
        lots.append(Lot(key=lot_id, account=account, taxable=account != "IRA", lot_id=lot_id, purchased=day,
                        held=D(shares), held_unadjusted=D(shares * 40)))
    out: Counter = Counter()
    for piece in household_replay(lots).pieces:
        if piece.sold == AS_OF:
            out[piece.lot] += float(piece.disallowed)
    return dict(out)


def test_loss_shares_of_two_securities_of_one_group_are_replaced_in_the_order_acquired():
    # given A (EQ, bought first, loss 10 a share), B (EQ2, second, loss 20) and C (EQ, last, loss
    # 30), 10 shares each, and the IRA's 20 EQ bought five days ago
    a_day, b_day, c_day, ira_day = (AS_OF - timedelta(days=d) for d in (2000, 1000, 100, 5))
    own = [("A", "EQ", a_day, 10, 110), ("B", "EQ2", b_day, 10, 70), ("C", "EQ", c_day, 10, 130)]
    lots = [lot(i, s, q, q * unit, day) for i, s, day, q, unit in own] + [lot("Z", "BD", 50, 5_000)]
    trades = (HouseholdTrade(ira_day, "EQ", "buy", 20, account_id="IRA"),)
    # when the model drops both
    result = rebalance(request(lots, funds(**PRICE), model(BD=1.0), household_trades=trades, parameters=GROUP))
    sold = {k: v for k, v in _sold(result).items() if k != "Z"}
    assert {k: v[0] for k, v in sold.items()} == {"A": 10, "B": 10, "C": 10}
    # then the IRA's 20 replace the 20 loss shares acquired first, A's 10 and B's 10 (lost for
    # good, Rev. Rul. 2008-5); before, A's and C's (400)
    assert {k: round(v[1], 2) for k, v in sold.items()} == {"A": 100.0, "B": 200.0, "C": 0.0}
    assert result.summary.disallowed_losses == pytest.approx(300.0)
    # and the ledger's replay says the same
    replayed = _replayed(result, own, [("IRA-1", "IRA", ira_day, 20)])
    assert replayed == pytest.approx({"A": 100.0, "B": 200.0, "C": 0.0})


def _household(rng: random.Random):
    """Lots of EQ and EQ2 bought before the window, interleaved in time, at various losses and
    gains; purchases of either in the IRA and the spouse's account in and around the window."""
    own = []
    for k in range(rng.randint(2, 6)):
        symbol = rng.choice(["EQ", "EQ2"])
        day = AS_OF - timedelta(days=rng.choice([2000, 900, 400, 200, 60, rng.randint(31, 90)]))
        own.append((f"L{k}", symbol, day, rng.randint(1, 12), PRICE[symbol] * rng.choice([6, 9, 11, 12, 13, 15]) // 10))
    trades, others = [], []
    for k in range(rng.randint(1, 3)):
        account, symbol = rng.choice(["IRA", "SP"]), rng.choice(["EQ", "EQ2"])
        day, shares = AS_OF - timedelta(days=rng.randint(0, 35)), rng.randint(1, 15)
        trades.append(HouseholdTrade(day, symbol, "buy", float(shares), account_id=account))
        others.append((f"B{k}", account, day, shares))
    lots = [lot(i, s, float(q), float(q * unit), day) for i, s, day, q, unit in own] + [lot("Z", "BD", 50, 5_000)]
    req = request(lots, funds(**PRICE), model(BD=1.0), household_trades=tuple(trades), parameters=GROUP)
    return req, own, others


@pytest.mark.parametrize("chunk", range(2))
def test_the_estimate_is_the_ledgers_replay_for_two_securities_of_one_group(chunk):
    # given 100 households each (their lots of EQ and EQ2 sold whole the same day, replacements
    # in the IRA or the spouse's account), then every lot's estimate is the replay's, to the cent
    disagreements = []
    for seed in range(chunk * 100, chunk * 100 + 100):
        req, own, others = _household(random.Random(seed))
        result = rebalance(req)
        estimate = {i: d for i, (_, d) in _sold(result).items() if i != "Z"}
        replayed = _replayed(result, own, others)
        disagreements += [(seed, i, estimate.get(i, 0.0), replayed.get(i, 0.0))
                          for i in sorted(set(estimate) | set(replayed))
                          if abs(estimate.get(i, 0.0) - replayed.get(i, 0.0)) > 0.005]
    assert disagreements == []
