"""A lot sold in parts: the bases of its pieces and of the shares still held add up to what it cost
(IRC §1012: the basis of shares is their cost), plus the basis wash sales added (§1091(d)), to the
cent, and each piece is within a cent of its pro rata share (docs/ledger.md "What a fill does").
Found by a tax audit (2026-12-08): 3 shares bought for 100.00 and sold one at a time were booked at
33.33 + 33.33 + 33.33 = 99.99, and a lot of 100.02 at 100.03."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.ledger.executions import executions_import
from rebalancing.models import BasisAdjustment, Household, RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
MILLIONTH = D("0.000001")


@pytest.mark.parametrize("cost", ["100.00", "100.02"])
@pytest.mark.parametrize("parts", [(1, 1, 1), ("0.333333", "0.333333", "2.333334")])
def test_the_bases_of_a_lot_sold_in_parts_add_up_to_its_cost(book, pm, parts, cost):
    household = Household.objects.create(name="Cents", external_id="HH-C1")
    x1 = make_account("X-1", model=book["model"], household=household, holdings=[("VTI", 3, cost, date(2025, 1, 2))])
    rows = []
    for n, q in enumerate(parts):
        [order] = release(x1, [sell("VTI", float(q), 40.0, [("X-1-L1", float(q))])], pm=pm, as_of=date(2026, 3, 2 + n))
        rows.append(fill(f"C-S{n}", order, q, "40", date(2026, 3, 2 + n)))
    executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=AS_OF)

    assert not TaxLot.objects.filter(account=x1).exists()
    sold = RealisedLot.objects.filter(account=x1).order_by("sold")
    assert sum(r.cost_basis for r in sold) == D(cost)
    if parts == (1, 1, 1):  # each share's cents: the running total's cents less those before it
        assert [r.cost_basis for r in sold] == ([D("33.33"), D("33.34"), D("33.33")] if cost == "100.00"
                                                else [D("33.34"), D("33.34"), D("33.34")])


def test_a_wash_sale_replacement_sold_in_parts_keeps_its_cost_and_the_loss_added(book, pm):
    # 3 shares bought on 02-20 for 100.00 replace 1 share sold on 03-02 at a loss of 10.00 (IRC §1091(a),
    # within 30 days before): the replay writes the lot (a -W piece), whose bases then add up to 110.00.
    x1 = make_account("X-1", model=book["model"], holdings=[("VTI", 3, "100.00", date(2026, 2, 20)),
                                                             ("VTI", 1, "50.00", date(2025, 1, 2))])
    [loss] = release(x1, [sell("VTI", 1, 40.0, [("X-1-L2", 1)])], pm=pm, as_of=date(2026, 3, 2))
    executions_import(source=execution_csv(fill("W-L", loss, 1, "40", date(2026, 3, 2))), actor="feed", as_of=AS_OF)
    held = TaxLot.objects.filter(account=x1)
    assert sum(lot.cost_basis for lot in held) == D("110.00")
    for n in range(3):
        lot_id = sorted(held.values_list("lot_id", flat=True))[0]
        [order] = release(x1, [sell("VTI", 1, 60.0, [(lot_id, 1)])], pm=pm, as_of=date(2026, 4, 1 + n))
        executions_import(source=execution_csv(fill(f"W-S{n}", order, 1, "60", date(2026, 4, 1 + n))), actor="feed",
                          as_of=AS_OF)
        left = TaxLot.objects.filter(account=x1)
        sold = RealisedLot.objects.filter(account=x1).exclude(lot_id="X-1-L2")
        assert sum(r.cost_basis for r in sold) + sum(lot.cost_basis for lot in left) == D("110.00")
        assert sum(r.cost_basis - r.wash_adjustment for r in sold) + sum(
            lot.cost_basis - lot.wash_adjustment for lot in left) == D("100.00")
    assert not TaxLot.objects.filter(account=x1).exists()


# -- many random histories against a plain reading of the rule ---------------------------------------


def _millionths(low: int, high: int):
    return st.integers(low, high).map(lambda n: D(n) * MILLIONTH)


@st.composite
def _parts(draw, total: D):
    """A random split of ``total`` shares into one to five sales, all of it sold or not."""
    n = draw(st.integers(1, 5))
    steps = int(total / MILLIONTH)
    cuts = sorted(draw(st.sets(st.integers(1, steps - 1), max_size=n - 1))) if steps > 1 else []
    sold = steps if draw(st.booleans()) else draw(st.integers(max(cuts, default=0) + 1, steps))
    edges = [0, *cuts, sold]
    return [D(b - a) * MILLIONTH for a, b in zip(edges, edges[1:], strict=False) if b > a]


@st.composite
def _history(draw):
    plain_quantity = draw(st.one_of(st.integers(1, 40).map(D), _millionths(1_000_000, 40_000_000)))
    plain_cost = D(draw(st.integers(1, 900_000))) / 100
    # At most the 10 loss shares: every share of the purchase is a replacement and keeps the lot's id.
    bought = draw(st.one_of(st.integers(1, 10).map(D), _millionths(500_000, 10_000_000)))
    price = D(draw(st.integers(1_000, 30_000))) / 100
    plain_parts = draw(_parts(plain_quantity))
    bought_parts = draw(_parts(bought))
    sales = [(kind, q, draw(st.integers(4, 70)), D(draw(st.integers(100, 30_000))) / 100)
             for kind, parts in (("plain", plain_parts), ("bought", bought_parts)) for q in parts]
    return plain_quantity, plain_cost, bought, price, sales


def _check_purchase(rows, held, cost: D, quantity: D, added: D) -> None:
    """The rule, plainly: the pieces' bases before wash sales and the held shares' add up to ``cost``
    and each is within a cent of cost x its shares / the lot's; with what wash sales added, to
    ``cost + added``."""
    pieces = [(r.quantity, r.cost_basis - r.wash_adjustment) for r in rows] + [
        (lot.quantity, lot.cost_basis - lot.wash_adjustment) for lot in held]
    assert sum(q for q, _ in pieces) == quantity
    assert sum(b for _, b in pieces) == cost, pieces
    for q, b in pieces:
        assert abs(b - cost * q / quantity) <= D("0.01"), (q, b, cost, quantity)
    assert sum(r.cost_basis for r in rows) + sum(lot.cost_basis for lot in held) == cost + added
    assert sum(r.wash_adjustment for r in rows) + sum(lot.wash_adjustment for lot in held) == added


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=_history(), random=st.randoms(use_true_random=False))
def test_any_sales_in_parts_keep_each_lots_cost(in_firm_a, book, pm, case, random):
    # A long-held lot P sold in parts; a purchase R that replaces a loss of 10 shares sold three days
    # before it (wash sale: the loss disallowed is added to R's basis, IRC §1091(d)), sold in parts too;
    # fills arriving in random files.
    plain_quantity, plain_cost, bought, price, sales = case
    savepoint = transaction.savepoint()
    try:
        account = make_account("H-1", model=book["model"], holdings=[
            ("VTI", plain_quantity, plain_cost, date(2024, 5, 2)), ("VTI", 10, "2000.00", date(2024, 5, 2))])
        start = date(2026, 3, 2)
        [loss] = release(account, [sell("VTI", 10, 40.0, [("H-1-L2", 10)])], pm=pm, as_of=start)
        [purchase] = release(account, [buy("VTI", float(bought), float(price))], pm=pm, as_of=start)
        executions_import(source=execution_csv(fill("H-LOSS", loss, 10, "40", start),
                                               fill("H-BUY", purchase, bought, str(price), start + timedelta(days=3))),
                          actor="feed", as_of=AS_OF)
        lots = {"plain": "H-1-L1", "bought": "H-BUY"}
        orders = {}
        for kind in lots:
            total = sum(q for k, q, _, _ in sales if k == kind)
            [orders[kind]] = release(account, [sell("VTI", float(total), 50.0, [(lots[kind], float(total))])], pm=pm,
                                     as_of=start + timedelta(days=4))
        rows = [fill(f"H-{kind}-{n}", orders[kind], q, str(p), start + timedelta(days=day))
                for n, (kind, q, day, p) in enumerate(sales)]
        random.shuffle(rows)
        while rows:
            size = random.randint(1, 3)
            executions_import(source=execution_csv(*rows[:size]), actor="feed", as_of=AS_OF)
            rows = rows[size:]

        def of(lot_id, model):
            return [x for x in model.objects.filter(account=account) if x.bought_as == lot_id]

        added = sum((a.basis_added for a in BasisAdjustment.objects.filter(account=account)), D(0))
        assert added > 0  # R replaced at least part of the loss
        _check_purchase(of("H-1-L1", RealisedLot), of("H-1-L1", TaxLot), plain_cost, plain_quantity, D(0))
        _check_purchase(of("H-BUY", RealisedLot), of("H-BUY", TaxLot), (bought * price).quantize(D("0.01")), bought,
                        added)
    finally:
        transaction.savepoint_rollback(savepoint)
