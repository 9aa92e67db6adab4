"""Random household histories through the real ledger: buys and sales in two taxable accounts and an
IRA, partial fills, fills arriving late and out of order. Whatever the order of arrival, the ledger
ends where the fills taken in date order leave it, and agrees with the share-by-share replay of
``test_wash_sales_replay`` to the cent and the day."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.wash_sales import Draw, Lot
from rebalancing.models import Account, RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell
from .test_household_wash_sales import ledger_state
from .test_wash_sales_replay import simple_replay

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
START = date(2026, 8, 1)
ORIGINAL = {  # A-1's lots before the history: (account, symbol, quantity, cost, acquired)
    "A-1-L1": ("A-1", "VTI", 100, 8000, date(2020, 1, 2)),
    "A-1-L2": ("A-1", "VTI", 50, 6000, date(2026, 6, 1)),
}


@st.composite
def histories(draw):
    """Steps in date order: ("buy", account, symbol, [(fill id, quantity, day)], price) or
    ("sell", account, lot id, [(fill id, quantity, day)], price); every sale takes only shares its
    lot holds by then."""
    held = {lot_id: (spec[0], spec[2]) for lot_id, spec in ORIGINAL.items()}
    bought_on = {lot_id: spec[4] for lot_id, spec in ORIGINAL.items()}
    day, steps = START, []
    for n in range(draw(st.integers(2, 7))):
        day += timedelta(days=draw(st.integers(0, 12)))
        if day >= AS_OF:
            break
        account = draw(st.sampled_from(["A-1", "A-2", "IRA"]))
        price = draw(st.integers(70, 130))
        mine = sorted(lot for lot, (acct, q) in held.items() if acct == account and q > 0 and bought_on[lot] <= day)
        if mine and draw(st.booleans()):
            lot = draw(st.sampled_from(mine))
            quantity = draw(st.integers(1, held[lot][1]))
            fills = _split(draw, f"S{n}", quantity, day)
            held[lot] = (account, held[lot][1] - quantity)
            steps.append(("sell", account, lot, fills, price))
        else:
            quantity = draw(st.integers(2, 40))
            fills = _split(draw, f"B{n}", quantity, day)
            for fill_id, q, d in fills:
                held[fill_id] = (account, q)
                bought_on[fill_id] = d
            steps.append(("buy", account, draw(st.sampled_from(["VTI", "ITOT"])), fills, price))
    return steps


def _split(draw, name: str, quantity: int, day: date) -> list[tuple[str, int, date]]:
    """One fill, or a partial fill and the rest a day later."""
    if quantity < 2 or not draw(st.booleans()):
        return [(name, quantity, day)]
    first = draw(st.integers(1, quantity - 1))
    later = min(day + timedelta(days=draw(st.integers(0, 1))), AS_OF)
    return [(f"{name}a", first, day), (f"{name}b", quantity - first, later)]


def _orders(book, accounts, steps, pm):
    """Release one order per step; return the fill rows, each with what it depends on."""
    rows = []
    symbols = {lot_id: spec[1] for lot_id, spec in ORIGINAL.items()}  # a sale names the lot's own security
    for kind, account, what, fills, price in steps:
        quantity = sum(q for _, q, _ in fills)
        if kind == "buy":
            symbols.update((fill_id, what) for fill_id, _, _ in fills)
            [order] = release(accounts[account], [buy(what, quantity, float(price))], pm=pm, as_of=fills[0][2])
        else:
            [order] = release(accounts[account], [sell(symbols[what], quantity, float(price), [(what, quantity)])],
                              pm=pm, as_of=fills[0][2])
        for fill_id, q, d in fills:
            rows.append((fill(fill_id, order, q, str(price), d), what if kind == "sell" else None))
    return rows


def _apply_each(rows):
    for row, _ in rows:
        executions_import(source=execution_csv(row), actor="custodian feed", as_of=AS_OF)


def _arrival(rows, random):
    """A random order of arrival in which no sale arrives before the purchase of its lot."""
    pending, out, arrived = list(rows), [], set(ORIGINAL)
    while pending:
        ready = [r for r in pending if r[1] is None or r[1] in arrived]
        row = random.choice(ready)
        pending.remove(row)
        out.append(row)
        arrived.add(row[0]["external_id"])
    return out


def _sale_of(steps) -> dict:
    """A fill's sale: the fills of one order on one day are one sale."""
    return {fill_id: f"{n}:{d}" for n, (kind, *_rest) in enumerate(steps) for fill_id, _, d in steps[n][3]}


def _expected(steps, taxable) -> dict:
    """The share-by-share replay of the same history, keyed like ``_stored``."""
    sale_of = _sale_of(steps)
    lots = {lot_id: {"account": a, "purchased": d, "quantity": q, "cost": D(c), "draws": []}
            for lot_id, (a, _, q, c, d) in ORIGINAL.items()}
    for n, (kind, account, what, fills, price) in enumerate(steps):
        for fill_id, q, d in fills:
            if kind == "buy":  # one order's fills of one day are one purchase (Rev. Rul. 56-602)
                lots[fill_id] = {"account": account, "purchased": d, "quantity": q, "cost": D(q * price), "draws": [],
                                 "purchase": (n, d)}
            else:
                lot = lots[what]
                lot["draws"].append(Draw(sale=sale_of[fill_id], sold=d, named=what, quantity=D(q), proceeds=D(q * price),
                                         unadjusted=lot["cost"] * q / lot["quantity"]))
    history = [Lot(key=(lot["account"], lot_id), account=lot["account"], taxable=taxable[lot["account"]],
                   lot_id=lot_id, purchased=lot["purchased"],
                   held=D(lot["quantity"]) - sum((d.quantity for d in lot["draws"]), D(0)),
                   held_unadjusted=lot["cost"] * (lot["quantity"] - sum(d.quantity for d in lot["draws"])) / lot["quantity"],
                   draws=tuple(lot["draws"]), purchase=lot.get("purchase"))
               for lot_id, lot in lots.items()]
    return {(k[0][0], k[0][1], k[1]): v for k, v in simple_replay(history).items()}


def _stored(sale_of: dict) -> dict:
    out = defaultdict(lambda: [Fraction(0)] * 7 + [defaultdict(Fraction)])
    for lot in TaxLot.objects.select_related("account"):
        row = out[(lot.account.custodian_number, lot.bought_as, None)]
        row[0] += Fraction(lot.quantity)
        row[2] += Fraction(lot.cost_basis)
        row[3] += Fraction(lot.wash_adjustment)
        row[7][lot.acquired] += Fraction(lot.quantity)
    for r in RealisedLot.objects.select_related("account", "execution"):
        row = out[(r.account.custodian_number, r.bought_as, sale_of[r.execution.external_id])]
        for i, value in enumerate((r.quantity, r.proceeds, r.cost_basis, r.wash_adjustment, r.disallowed_loss,
                                   r.disallowed_permanently, r.wash_matched_quantity)):
            row[i] += Fraction(value)
        row[7][r.acquired] += Fraction(r.quantity)
    return dict(out)


def _agree(stored: dict, expected: dict) -> None:
    """Shares and dates exactly; money to the cent per piece the ledger stores (each piece is
    rounded once; the replay is exact)."""
    assert set(stored) == {k for k, v in expected.items() if v[0]}, "the same lots and sales"
    for key, want in expected.items():
        if not want[0]:
            continue
        got = stored[key]
        pieces = max(len(got[7]), 1) + 1
        assert got[0] == want[0] and got[6] == want[6], key
        assert {d: q for d, q in got[7].items() if q} == {d: q for d, q in want[7].items() if q}, key
        for i in (1, 2, 3, 4, 5):
            assert abs(got[i] - want[i]) <= Fraction(pieces, 100), (key, i, float(got[i]), float(want[i]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=histories(), random=st.randoms(use_true_random=False))
def test_any_order_of_arrival_gives_the_date_order_ledger_and_the_share_by_share_answer(book, pm, steps, random):
    savepoint = transaction.savepoint()
    try:
        household = book["account"].household
        accounts = {"A-1": book["account"],
                    "A-2": make_account("A-2", model=book["model"], household=household, holdings=[]),
                    "IRA": make_account("IRA", model=book["model"], household=household, holdings=[])}
        Account.objects.filter(pk=accounts["IRA"].pk).update(tax_status="traditional")
        rows = _orders(book, accounts, steps, pm)

        inner = transaction.savepoint()
        _apply_each(sorted(rows, key=lambda r: (r[0]["trade_date"], r[0]["external_id"])))
        in_date_order = ledger_state()
        transaction.savepoint_rollback(inner)

        _apply_each(_arrival(rows, random))

        assert ledger_state() == in_date_order
        _agree(_stored(_sale_of(steps)), _expected(steps, {"A-1": True, "A-2": True, "IRA": False}))
    finally:
        transaction.savepoint_rollback(savepoint)
