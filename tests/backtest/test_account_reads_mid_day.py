"""Reading the simulated account (``lots``, ``realised``, ``year()``, ``wash_sales``,
``outside_washes``) never changes what it books: a day's loss sales are matched together, loss
shares in the order acquired (Treas. Reg. §1.1091-1(b)), whenever the account is read. Until
2026-12-07 a read between two sales of one day matched the first sale alone (found by an audit)."""

import random
from datetime import date, timedelta

import pytest

from rebalancing.backtest.account import SimAccount


def _worked(read_between: bool) -> SimAccount:
    a = SimAccount(cash=1e9)
    early = a.buy("X", 19, 83, date(2024, 12, 3))
    late = a.buy("X", 6, 91, date(2024, 12, 9))
    a.sell(late.id, 4, 62, date(2025, 2, 22))  # loss 29 a share, shares bought 12-09
    if read_between:
        assert len(a.lots) == 2
    a.sell(early.id, 14, 72, date(2025, 2, 22))  # loss 11 a share, shares bought 12-03: matched first
    a.buy("X", 13, 152, date(2025, 3, 24))  # 13 replacement shares, 30 days after
    return a


@pytest.mark.parametrize("read_between", [False, True])
def test_a_read_between_two_sales_of_a_day_does_not_change_the_wash_sale(read_between):
    # given two loss sales on 2025-02-22 and 13 replacement shares 30 days later
    account = _worked(read_between)
    # then the 13 replace 13 of the shares bought first (12-03, loss 11), read or not: 143
    # (before 2026-12-07 the read matched the 12-09 shares alone first: 4 x 29 + 9 x 11 = 215)
    assert [(w.day, w.disallowed) for w in account.wash_sales] == [(date(2025, 2, 22), pytest.approx(143.0))]
    assert account.realised[2025] == [pytest.approx(-14 * 11 - 4 * 29 + 143.0), 0.0]


def _state(a: SimAccount) -> tuple:
    lots = sorted((lot.id, lot.symbol, round(lot.quantity, 9), round(lot.basis, 6), lot.acquired, lot.replacement)
                  for lot in a.lots.values())
    realised = {y: [round(v, 6) for v in r] for y, r in a.realised.items() if any(abs(v) > 1e-9 for v in r)}
    washes = [(w.day, w.symbol, round(w.disallowed, 6)) for w in a.wash_sales]
    return lots, realised, washes, a.outside_washes, a.approximations, round(a.cash, 6)


def _read(a: SimAccount, rng: random.Random, year: int) -> None:
    what = rng.randrange(5)
    if what == 0:
        _ = a.lots
    elif what == 1:
        _ = a.realised
    elif what == 2:
        a.year(year)
    elif what == 3:
        _ = a.wash_sales
    else:
        _ = a.outside_washes


def _history(seed: int) -> list[tuple]:
    """Days of trading, several sales of one day (of lots bought on several days, each taking
    part or all of what is left), purchases and IRA purchases the same day and in the window."""
    rng = random.Random(seed)
    ops: list[tuple] = []
    held: dict[int, float] = {}  # buy number -> shares left (sold by the buy's lot id)
    bought_on: dict[int, date] = {}
    day = date(2024, 1, 2)
    buys = 0
    for _ in range(rng.randint(2, 6)):
        for _ in range(rng.randint(1, 3)):
            q = rng.randint(1, 20)
            ops.append(("buy", buys, rng.choice("XY") if rng.random() < 0.2 else "X", q, rng.randint(60, 140), day))
            held[buys], bought_on[buys] = q, day
            buys += 1
        day += timedelta(days=rng.choice([1, 5, 12, 25]))
        # a day of several sales, purchases among them
        for _ in range(rng.randint(2, 6)):
            r = rng.random()
            options = [b for b, q in held.items() if q > 0 and bought_on[b] < day]
            if r < 0.65 and options:
                b = rng.choice(options)
                q = held[b] if rng.random() < 0.3 else rng.randint(1, int(held[b]))
                held[b] -= q
                ops.append(("sell", b, q, rng.randint(40, 150), day))
            elif r < 0.85:
                q = rng.randint(1, 15)
                ops.append(("buy", buys, "X", q, rng.randint(40, 150), day))
                held[buys], bought_on[buys] = q, day
                buys += 1
            else:
                ops.append(("ira", "X", rng.randint(1, 15), day))
        day += timedelta(days=rng.choice([0, 1, 3, 20, 29, 30, 31, 45]))
    return ops


def _run(ops: list[tuple], reads: random.Random | None) -> tuple:
    a = SimAccount(cash=1e9)
    ids: dict[int, str] = {}
    for op in ops:
        if op[0] == "buy":
            _, n, symbol, q, price, day = op
            ids[n] = a.buy(symbol, q, price, day).id
        elif op[0] == "sell":
            _, n, q, price, day = op
            a.sell(ids[n], q, price, day)
        else:
            _, symbol, q, day = op
            a.buy_elsewhere(symbol, q, day)
        if reads is not None and reads.random() < 0.5:
            _read(a, reads, op[-1].year)
    return _state(a)


@pytest.mark.parametrize("chunk", range(4))
def test_reads_at_random_points_change_nothing(chunk):
    # given random histories with several sales (and purchases) a day, when the account is read
    # after random trades, then every figure is what it is with no read until the end
    compared = 0
    for seed in range(chunk * 100, (chunk + 1) * 100):
        ops = _history(seed)
        want = _run(ops, None)
        for k in range(3):
            got = _run(ops, random.Random(seed * 10 + k))
            assert got == want, (seed, k, ops)
        compared += bool(want[2])
    assert compared > 30  # histories with wash sales, not only clean ones
