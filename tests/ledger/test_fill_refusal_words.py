"""A fill refused because a lot it sells from is short says what the lot holds, what this fill
would sell from it, and the order's earlier fills apart. It said "lot D-1-L2 of account D-1 holds
30 of the 32 shares order P sells from it" of an order naming 36 of the lot, 4 of them sold by its
first fill: an operations user could not tell the lot's position (30) from the fill (32) and the
order (36) in it, and when fills were taken again in trade-date order the lot's count took in the
shares of fills booked after, which the ledger no longer shows."""

import random
from datetime import date

import pytest
from django.db import transaction

from rebalancing.imports.report import ImportRejected
from rebalancing.ledger.executions import executions_import
from rebalancing.models import Execution, TaxLot

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def problems_of(excinfo) -> list[tuple]:
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


@pytest.fixture
def partly_sold(book, pm):
    """D-1 sells 6 of D-1-L1 then 36 of D-1-L2; a first fill of 10 (2026-11-18) took L1's 6 and 4 of
    L2, which then held 32; since then the ledger's L2 was cut to 30 (a custodian's positions)."""
    account = make_account("D-1", model=book["model"], holdings=[
        ("VTI", 6, 600, date(2024, 1, 2)), ("VTI", 36, 3600, date(2024, 2, 1)), ("VTI", 10, 1000, date(2024, 3, 1))])
    [order] = release(account, [sell("VTI", 42, 100.0, [("D-1-L1", 6), ("D-1-L2", 36)])], pm=pm,
                      as_of=date(2026, 11, 16))
    executions_import(source=execution_csv(fill("F-1", order, 10, "100", date(2026, 11, 18))), actor="feed",
                      as_of=AS_OF)
    TaxLot.objects.filter(lot_id="D-1-L2").update(quantity=30, cost_basis=3000)
    return order


def test_a_short_lot_names_what_it_holds_what_the_fill_sells_and_the_earlier_fills_apart(partly_sold):
    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("F-2", partly_sold, 32, "100", date(2026, 11, 19))),
                          actor="feed", as_of=AS_OF)

    assert problems_of(refused) == [(2, "quantity", (
        f"lot D-1-L2 of account D-1 holds 30 shares; this fill of order {partly_sold.order_id} would sell 32 from it "
        "(4 of the 36 it names already sold by its earlier fills)"))]
    assert TaxLot.objects.get(lot_id="D-1-L2").quantity == 30
    assert not Execution.objects.filter(external_id="F-2").exists()


def test_taken_again_in_trade_date_order_the_ledgers_count_is_said_beside_the_replays(partly_sold):
    """F-0 (2026-11-17) comes before the booked F-1: F-1 is taken back (L2: 34) and applied after
    F-0, which takes L1's 6 and 26 of L2; F-1 then finds 8 of the 10 it sells from L2."""
    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("F-0", partly_sold, 32, "100", date(2026, 11, 17))),
                          actor="feed", as_of=AS_OF)

    assert problems_of(refused) == [(2, "quantity", (
        "booked fill F-1 of 2026-11-18, taken again after this earlier-dated fill, would fail: "
        f"lot D-1-L2 of account D-1 holds 8 shares in trade-date order (30 in the ledger now); this fill of order "
        f"{partly_sold.order_id} would sell 10 from it (26 of the 36 it names already sold by its earlier fills)"))]


def test_one_share_is_said_in_the_singular_and_without_earlier_fills_none_are_mentioned(book, pm):
    account = make_account("S-1", model=book["model"], holdings=[("VTI", 5, 500, date(2024, 1, 2))])
    [order] = release(account, [sell("VTI", 5, 100.0, [("S-1-L1", 5)])], pm=pm, as_of=date(2026, 11, 16))
    TaxLot.objects.filter(lot_id="S-1-L1").update(quantity=1, cost_basis=100)

    with pytest.raises(ImportRejected) as refused:
        executions_import(source=execution_csv(fill("S-F", order, 5, "100", date(2026, 11, 18))), actor="feed",
                          as_of=AS_OF)

    assert problems_of(refused) == [(2, "quantity", f"lot S-1-L1 of account S-1 holds 1 share; this fill of order "
                                                    f"{order.order_id} would sell 5 from it")]


def by_shares(named: list[tuple[str, int]], held: dict[str, int], earlier: int, fill_shares: int):
    """The simple reading: the order's shares one by one in named order; the first ``earlier`` were
    sold by its first fill, the next ``fill_shares`` are this fill's. The first lot whose shares of
    this fill are more than it holds: (lot, holds, this fill's shares of it, earlier shares of it,
    shares named), or None."""
    queue = [lot for lot, q in named for _ in range(q)]
    before, now = queue[:earlier], queue[earlier:earlier + fill_shares]
    for lot, q in named:
        if now.count(lot) > held[lot]:
            return lot, held[lot], now.count(lot), before.count(lot), q
    return None


def test_the_words_agree_with_a_share_by_share_reading(book, pm):
    rng = random.Random(404)
    refused_cases = 0
    for case in range(14):
        savepoint = transaction.savepoint()
        try:
            number = f"R-{case}"
            sizes = [rng.randint(1, 12) for _ in range(rng.randint(1, 3))]
            account = make_account(number, model=book["model"], holdings=[
                ("VTI", q, 10 * q, date(2024, 1, 1 + i)) for i, q in enumerate(sizes)])
            named = [(f"{number}-L{i + 1}", q) for i, q in enumerate(sizes)]
            total = sum(sizes)
            [order] = release(account, [sell("VTI", total, 10.0, named)], pm=pm, as_of=date(2026, 11, 16))
            earlier = rng.randint(0, total - 1)
            if earlier:
                executions_import(source=execution_csv(fill(f"{number}-A", order, earlier, "10", date(2026, 11, 17))),
                                  actor="feed", as_of=AS_OF)
            held = {lot.lot_id: int(lot.quantity) for lot in TaxLot.objects.filter(account=account)}
            cut = rng.choice([lot for lot, q in held.items() if q > 1] or [None])
            if cut is not None:
                held[cut] = rng.randint(1, held[cut] - 1)
                TaxLot.objects.filter(account=account, lot_id=cut).update(quantity=held[cut])
            for lot, _ in named:
                held.setdefault(lot, 0)  # sold out by the first fill
            fill_shares = rng.randint(1, total - earlier)
            expected = by_shares(named, held, earlier, fill_shares)
            source = execution_csv(fill(f"{number}-B", order, fill_shares, "10", date(2026, 11, 18)))
            if expected is None:
                executions_import(source=source, actor="feed", as_of=AS_OF)
                continue
            with pytest.raises(ImportRejected) as refused:
                executions_import(source=source, actor="feed", as_of=AS_OF)
            lot, holds, sells, before, shares_named = expected
            words = (f"lot {lot} of account {number} holds {holds} share{'' if holds == 1 else 's'}; this fill of "
                     f"order {order.order_id} would sell {sells} from it")
            if before:
                words += f" ({before} of the {shares_named} it names already sold by its earlier fills)"
            assert problems_of(refused) == [(2, "quantity", words)]
            refused_cases += 1
        finally:
            transaction.savepoint_rollback(savepoint)
    assert refused_cases >= 5
