"""A sale of a replacement lot the wash-sale replay split (``B-1-W1``) books the shares its order
named: their basis and holding period (specific identification, Treas. Reg. §1.1012-1(c); the
replacement's holding period, IRC §1223(3)), whether it fills at once or in parts, and the replay
of the household's history afterwards keeps it so.

A-1's 14 ITOT bought 2026-01-13 replace two losses of A-2 (VTI and ITOT are one equivalence group):
5 shares at 15.55 a share, held from 2025-09-28, and 9 at 55.55, held from 2025-11-06. The ledger
shows them as two lots: B-1 (5 shares, basis 511.35, from 2025-09-28) and B-1-W1 (9 shares, basis
1,280.43, 142.27 a share, from 2025-11-06). Until 2026-12-07 the replay matched a sale naming
B-1-W1 with B-1's shares (its held pieces took their ``-W`` names only at the end of the replay):
9 shares sold were booked as B-1's 5 plus 4 of B-1-W1 (basis 1,080.43, the loss understated by 200),
and a second fill of the order was refused ("lot B-1-W1 ... holds 0 of the 4 shares").
"""

import random
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.wash_sales import Draw, Lot, household_replay
from rebalancing.models import RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

AS_OF = date(2026, 11, 20)
W1_BASIS = D("1280.43")


def _split_replacement(book, pm):
    """A-1's ITOT lot B-1, split by A-2's two losses into B-1 (5) and B-1-W1 (9): A-1 and A-2."""
    a1 = book["account"]
    a2 = make_account("A-2", model=book["model"], household=a1.household,
                      holdings=[("VTI", 5, 500, date(2025, 9, 28)), ("VTI", 15, 2100, date(2025, 11, 6))])
    [b] = release(a1, [buy("ITOT", 14, 86.72)], pm=pm, as_of=date(2026, 1, 13))
    executions_import(source=execution_csv(fill("B-1", b, 14, "86.72", date(2026, 1, 13))), actor="f", as_of=AS_OF)
    [s] = release(a2, [sell("VTI", 20, 84.45, [("A-2-L1", 5), ("A-2-L2", 15)])], pm=pm, as_of=date(2026, 1, 19))
    executions_import(source=execution_csv(fill("S-1", s, 20, "84.45", date(2026, 1, 19))), actor="f", as_of=AS_OF)
    held = {lot.lot_id: (lot.quantity, lot.cost_basis, lot.acquired)
            for lot in TaxLot.objects.filter(account=a1, security__symbol="ITOT")}
    assert held == {"B-1": (5, D("511.35"), date(2025, 9, 28)), "B-1-W1": (9, W1_BASIS, date(2025, 11, 6))}
    return a1, a2


def _booked(account) -> list[tuple]:
    return sorted((r.lot_id, r.quantity, r.cost_basis, r.acquired)
                  for r in RealisedLot.objects.filter(account=account, security__symbol="ITOT"))


def _held(account) -> dict[str, tuple]:
    return {lot.lot_id: (lot.quantity, lot.cost_basis, lot.acquired)
            for lot in TaxLot.objects.filter(account=account, security__symbol="ITOT")}


@pytest.mark.django_db
@pytest.mark.parametrize("sold", [9, 5])
def test_a_sale_of_a_split_replacement_lot_books_the_shares_the_order_named(book, pm, sold):
    # given: B-1 (5, from 2025-09-28) and B-1-W1 (9, from 2025-11-06)
    a1, _ = _split_replacement(book, pm)
    # when: an order sells shares of B-1-W1
    [o] = release(a1, [sell("ITOT", sold, 76.40, [("B-1-W1", sold)])], pm=pm, as_of=date(2026, 4, 28))
    executions_import(source=execution_csv(fill("S-2", o, sold, "76.40", date(2026, 4, 28))), actor="f", as_of=AS_OF)
    # then: B-1-W1's basis and holding period are booked, and B-1 is untouched
    basis = (W1_BASIS * sold / 9).quantize(D("0.01"))
    assert _booked(a1) == [("B-1-W1", sold, basis, date(2025, 11, 6))]
    left = {"B-1": (5, D("511.35"), date(2025, 9, 28))}
    if sold < 9:
        left["B-1-W1"] = (9 - sold, W1_BASIS - basis, date(2025, 11, 6))
    assert _held(a1) == left


@pytest.mark.django_db
def test_a_sale_order_filled_in_two_parts_from_a_replacement_lot_takes_its_second_fill(book, pm):
    # given: an order selling B-1-W1's 9 shares, filled 5 on one day
    a1, _ = _split_replacement(book, pm)
    [o] = release(a1, [sell("ITOT", 9, 76.40, [("B-1-W1", 9)])], pm=pm, as_of=date(2026, 4, 28))
    executions_import(source=execution_csv(fill("S-2a", o, 5, "76.40", date(2026, 4, 28))), actor="f", as_of=AS_OF)
    assert _held(a1)["B-1-W1"][0] == 4
    # when: the rest of the order fills the next day
    executions_import(source=execution_csv(fill("S-2b", o, 4, "76.40", date(2026, 4, 29))), actor="f", as_of=AS_OF)
    # then: it is booked, from the shares the order named, and B-1 is untouched
    o.refresh_from_db()
    assert o.filled_quantity == 9
    assert [(q, acquired) for _, q, _, acquired in _booked(a1)] == [(4, date(2025, 11, 6)), (5, date(2025, 11, 6))]
    assert sum(basis for *_, basis, _ in _booked(a1)) == W1_BASIS
    assert _held(a1) == {"B-1": (5, D("511.35"), date(2025, 9, 28))}


@pytest.mark.django_db
def test_the_two_parts_arriving_in_one_file_out_of_date_order_book_the_same(book, pm):
    # given: the same order, its later part in an earlier file
    a1, _ = _split_replacement(book, pm)
    [o] = release(a1, [sell("ITOT", 9, 76.40, [("B-1-W1", 9)])], pm=pm, as_of=date(2026, 4, 28))
    executions_import(source=execution_csv(fill("S-2b", o, 4, "76.40", date(2026, 4, 29))), actor="f", as_of=AS_OF)
    # when: the earlier part arrives (the booked fill is taken again after it, fill_order)
    executions_import(source=execution_csv(fill("S-2a", o, 5, "76.40", date(2026, 4, 28))), actor="f", as_of=AS_OF)
    # then: every share sold is B-1-W1's
    assert sum(basis for *_, basis, _ in _booked(a1)) == W1_BASIS
    assert {acquired for *_, acquired in _booked(a1)} == {date(2025, 11, 6)}
    assert _held(a1) == {"B-1": (5, D("511.35"), date(2025, 9, 28))}


@pytest.mark.django_db
def test_a_piece_merged_back_after_release_is_sold_from_its_purchase(book, pm):
    """The one fallback: a replay after release (a purchase read late) no longer splits B-1, so the
    piece the order named is gone; its shares are still the purchase's (bought 2026-01-13), and the
    sale takes them from B-1 rather than be refused for ever. The basis and holding period booked are
    what the history now gives those shares (IRC §1091(d), §1223(3))."""
    # given: an order selling B-1-W1's 9 shares, released while B-1 was split
    a1, a2 = _split_replacement(book, pm)
    [o] = release(a1, [sell("ITOT", 9, 76.40, [("B-1-W1", 9)])], pm=pm, as_of=date(2026, 4, 28))
    # when: A-2's purchase of 2026-01-10 is read: it replaces A-2-L1's 5 loss shares (acquired before
    # B-1, it is matched first), and all 14 of B-1 now replace A-2-L2's: one piece, from 2025-11-06
    [c] = release(a2, [buy("ITOT", 5, 90.0)], pm=pm, as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("C-1", c, 5, "90", date(2026, 1, 10))), actor="f", as_of=AS_OF)
    assert _held(a1) == {"B-1": (14, D("1991.78"), date(2025, 11, 6))}
    executions_import(source=execution_csv(fill("S-2", o, 9, "76.40", date(2026, 4, 28))), actor="f", as_of=AS_OF)
    # then: booked from the purchase's shares, the order's name kept on the sale
    assert _booked(a1) == [("B-1", 9, W1_BASIS, date(2025, 11, 6))]
    assert RealisedLot.objects.get(account=a1).named_lot_id == "B-1-W1"


# -- the replay alone: random histories against a plain reading of specific identification ------------------


def _lots(bought: dict, draws: dict, upto: date) -> list[Lot]:
    """The history's lots with the sales dated up to ``upto``."""
    out = []
    for key, (account, taxable, purchased, shares, unit) in bought.items():
        if purchased > upto:
            continue
        mine = tuple(d for d in draws[key] if d.sold <= upto)
        held = shares - sum((d.quantity for d in mine), D(0))
        out.append(Lot(key=key, account=account, taxable=taxable, lot_id=key, purchased=purchased, held=held,
                       held_unadjusted=unit * held, draws=mine))
    return out


def _pieces_held(lots: list[Lot]) -> dict[str, dict[str, tuple]]:
    """What the ledger shows: each lot's held pieces, by id, with shares, start and basis a share."""
    out: dict[str, dict[str, tuple]] = {lot.key: {} for lot in lots}
    for p in household_replay(lots).pieces:
        if p.sale is None:
            out[p.lot][p.lot_id] = (p.quantity, p.acquired, p.basis / p.quantity)
    return out


@pytest.mark.parametrize("seed", range(150))
def test_a_sale_takes_the_shares_of_the_piece_it_names(seed):
    """Random household histories (two taxable accounts and an IRA, one equivalence group, purchases
    and sales at gains and losses close together, so replacement lots are split into pieces with
    different holding periods) built day by day as the ledger sees them: each sale names a piece the
    ledger shows that day and some of its shares. The plain reading (Treas. Reg. §1.1012-1(c)): the
    sale's shares are that piece's, its lot's other pieces stay as they were, and nothing arriving
    later moves the sale to another piece."""
    rnd = random.Random(seed)
    accounts = [("T1", True), ("T2", True), ("IRA", False)]
    bought: dict[str, tuple] = {}
    draws: dict[str, list[Draw]] = {}
    day = date(2025, 1, 2)
    for n in range(rnd.randint(3, 8)):  # an opening position, bought at varied prices
        account, taxable = rnd.choice(accounts)
        key = f"{account}-L{n}"
        bought[key] = (account, taxable, day - timedelta(days=rnd.randint(40, 600)), D(rnd.randint(5, 30)),
                       D(rnd.randint(80, 140)))
        draws[key] = []
    for step in range(rnd.randint(10, 24)):
        day += timedelta(days=rnd.choice([1, 2, 5, 9, 20, 31]))
        shown = _pieces_held(_lots(bought, draws, day - timedelta(days=1)))
        choices = [(key, name, q) for key, pieces in shown.items() for name, (q, _, _) in pieces.items() if q >= 1]
        if choices and rnd.random() < 0.55:
            account = bought[rnd.choice(choices)[0]][0]
            mine = [c for c in choices if bought[c[0]][0] == account]
            picked = rnd.sample(mine, min(len(mine), rnd.choice([1, 1, 2, 3])))  # one order, 1-3 pieces
            price = D(rnd.randint(60, 150))
            for key, name, q in picked:
                quantity = D(rnd.randint(1, int(q)))
                draws[key].append(Draw(sale=f"S{step}", sold=day, named=name, quantity=quantity,
                                       proceeds=price * quantity, unadjusted=bought[key][4] * quantity))
            replay = household_replay(_lots(bought, draws, day))
            sold = [p for p in replay.pieces if p.sale == f"S{step}"]
            assert [p for p in sold if p.lot_id != draws[p.lot][p.draw].named] == [], (seed, step, shown)
            if len(picked) == 1:  # the lot's other pieces stay as they were
                [(key, name, _)] = picked
                after = {p.lot_id: (p.quantity, p.acquired, p.basis / p.quantity)
                         for p in replay.pieces if p.lot == key and p.sale is None}
                want = dict(shown[key])
                left = want[name][0] - Fraction(draws[key][-1].quantity)
                if left:
                    want[name] = (left, *want[name][1:])
                else:
                    del want[name]
                assert after == want, (seed, step, key, name, shown[key], after)
        else:
            account, taxable = rnd.choice(accounts)
            key = f"{account}-B{step}"
            bought[key] = (account, taxable, day, D(rnd.randint(3, 25)), D(rnd.randint(60, 150)))
            draws[key] = []
    # then: the whole history, replayed at the end, books every sale from the piece it named
    for p in household_replay(_lots(bought, draws, day)).pieces:
        if p.sale is not None:
            assert p.lot_id == draws[p.lot][p.draw].named, (seed, p)
