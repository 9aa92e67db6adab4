"""A loss is never deferred into shares whose own loss reached it (a circle), and the rule is read
share by share, never by whole sales: a sale whose loss went into ANOTHER share of an earlier sale
does not feed the loss, and replaces it like any purchase in the window (IRC §1091(a), (d); Treas.
Reg. §1.1091-1(a), (c)-(e); Pub. 550 "Wash Sales"). Until 2026-12-07 the replay left out every
share of every sale its trace through whole sales touched: a washed loss stayed deductible.

Checked by worked cases and by random small histories against a share-by-share reading written
here (one share at a time, exact fractions), through the pure ``household_replay``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from rebalancing.ledger.wash_sales import Draw, Lot, household_replay

Z = F(0)
TAXABLE = {"T": True, "S": True, "IRA": False}  # S: the spouse's taxable account


def lot(key, account, bought, qty, cost, *sales):
    """``sales``: (sale key, day, shares, price a share)."""
    draws = tuple(Draw(k, day, key, D(q), D(q * price), D(q * cost)) for k, day, q, price in sales)
    held = qty - sum(q for _, _, q, _ in sales)
    return Lot(key, account, TAXABLE[account], key, bought, D(held), D(held * cost), draws)


def by_lot_and_sale(replay) -> dict:
    """(lot, sale or None) -> [gain, disallowed, basis added]."""
    out = defaultdict(lambda: [Z, Z, Z])
    for p in replay.pieces:
        row = out[(p.lot, p.sale)]
        row[0] += p.gain if p.sale is not None else Z
        row[1] += p.disallowed
        row[2] += p.wash
    return dict(out)


# -- worked cases ---------------------------------------------------------------------------------


def test_a_purchase_that_carries_none_of_the_loss_replaces_it():
    """The auditor's case. L1: 2 shares bought 18 Feb at 12, sold 28 Feb at 7 (5 a share); L3 (17
    Feb, held) replaces L1's first share, L4 (14 Mar) its second (basis 17). L2, bought 16 Mar at
    12 and sold 17 Mar at 11, defers its 1 into L1's first share. L4 sold 27 Mar at 9: an 8 loss,
    and L2 was bought within 30 days of it. L2's shares carry nothing of L4's loss (L4's chain is
    L1's second share only), so L2 replaces it; before, L2 was left out because L1's sale had fed
    L4's and L2's loss sat in L1's OTHER share."""
    got = by_lot_and_sale(household_replay([
        lot("L1", "T", date(2023, 2, 18), 2, 12, ("S-L1", date(2023, 2, 28), 2, 7)),
        lot("L3", "S", date(2023, 2, 17), 1, 6),
        lot("L4", "T", date(2023, 3, 14), 1, 12, ("S-L4", date(2023, 3, 27), 1, 9)),
        lot("L2", "S", date(2023, 3, 16), 1, 12, ("S-L2", date(2023, 3, 17), 1, 11)),
    ]))
    assert got["L4", "S-L4"] == [-8, 8, 5]  # disallowed whole (it was 0)
    # L2's basis takes the 8 (IRC §1091(d)); its own loss, 1 + 8, follows into L1's first share,
    # whose loss, 5 + 9, follows into L3, held: the 8 is deferred, not deducted.
    assert got["L2", "S-L2"] == [-9, 9, 8]
    assert got["L1", "S-L1"] == [-5 - 14, 5 + 14, 9]
    assert got["L3", None] == [0, 0, 14]


def test_a_real_circle_is_still_left_out():
    """Y: 2 shares bought 10 Jan at 10, sold 20 Jan at 8; X: 2 bought 25 Jan replace them (basis
    12), sold 5 Feb at 9, 3 a share. Y was bought within 30 days of X's sale, but each of Y's
    shares carries loss that X's shares took: X's loss stays deductible."""
    got = by_lot_and_sale(household_replay([
        lot("Y", "T", date(2023, 1, 10), 2, 10, ("SY", date(2023, 1, 20), 2, 8)),
        lot("X", "T", date(2023, 1, 25), 2, 10, ("SX", date(2023, 2, 5), 2, 9)),
    ]))
    assert got["Y", "SY"] == [-4, 4, 0]
    assert got["X", "SX"] == [-6, 0, 4]


def test_a_circle_through_two_sales_is_still_left_out():
    """Y (10 Jan) -> X (25 Jan, sold 5 Feb) -> W (1 Feb, sold 12 Feb): W's loss reaches back to Y
    through X's shares, so Y's shares do not replace it; W sold in the spouse's account."""
    got = by_lot_and_sale(household_replay([
        lot("Y", "T", date(2023, 1, 10), 1, 10, ("SY", date(2023, 1, 20), 1, 8)),
        lot("X", "T", date(2023, 1, 25), 1, 10, ("SX", date(2023, 2, 5), 1, 9)),
        lot("W", "S", date(2023, 2, 1), 1, 10, ("SW", date(2023, 2, 12), 1, 9)),
    ]))
    assert got["X", "SX"][1:] == [3, 2]  # X's loss (1 + 2) into W
    assert got["W", "SW"] == [-4, 0, 3]  # W's 4: Y and X are its own chain; nothing else bought


def test_a_chain_through_part_of_a_lot_leaves_its_other_shares_free():
    """Y: 3 shares bought 10 Jan at 10, sold 20 Jan at 8; X: 2 bought 25 Jan replace two of them
    (basis 12); Y's third share finds no replacement (its 2 deductible). X sold 5 Feb at 9: its
    first share's 3 goes into Y's third share, which carries none of X's loss (sold, so that
    sale's basis rises: 13, loss 5); X's second share finds nothing else. Before, the whole of Y's
    sale was left out and both of X's losses stayed deductible."""
    got = by_lot_and_sale(household_replay([
        lot("Y", "T", date(2023, 1, 10), 3, 10, ("SY", date(2023, 1, 20), 3, 8)),
        lot("X", "T", date(2023, 1, 25), 2, 10, ("SX", date(2023, 2, 5), 2, 9)),
    ]))
    assert got["X", "SX"] == [-6, 3, 4]
    assert got["Y", "SY"] == [-9, 4, 3]
    # every share sold: the whole economic loss, (30 - 24) + (20 - 18), is deducted in the end
    assert sum(g + d for g, d, _ in got.values()) == -8


# -- reference: one share at a time ---------------------------------------------------------------


class Share:
    __slots__ = ("lot", "i", "sale", "draw", "src", "dst", "own_name")

    def __init__(self, lot: Lot, i: int):
        self.lot, self.i = lot, i
        self.sale, self.draw = None, None
        self.src = None  # the loss share this one replaces
        self.dst = None  # the share that replaced this one
        self.own_name = True  # held under the lot's own id (see ``reference``)

    def cost(self) -> F:
        if self.draw is not None:
            return F(self.draw.unadjusted) / F(self.draw.quantity)
        return F(self.lot.held_unadjusted) / F(self.lot.held)

    def wash(self) -> F:
        # IRC §1091(d); nothing added in an IRA (Rev. Rul. 2008-5)
        return self.src.loss() if self.src is not None and self.lot.taxable else Z

    def loss(self) -> F:
        if self.sale is None:
            return Z
        return max(self.cost() + self.wash() - F(self.draw.proceeds) / F(self.draw.quantity), Z)


def reached(sale, shares: list[Share], whole_sales: bool) -> set:
    """The shares whose loss reached a share ``sale`` sold: following each share to the one it
    replaces. ``whole_sales``: the old reading, every share of every sale so touched."""
    seen, todo = set(), [s for s in shares if s.sale == sale]
    while todo:
        s = todo.pop()
        if s.src is not None and s.src not in seen:
            seen.add(s.src)
            todo.append(s.src)
            if whole_sales:
                todo += [o for o in shares if o.sale == s.src.sale and o is not s.src]
                seen |= {o for o in shares if o.sale == s.src.sale}
    return seen


def reference(lots: list[Lot], whole_sales: bool = False) -> dict:
    """(lot, sale or None) -> [disallowed, basis added], one share at a time.

    Day by day; a day's sales take their shares first, then its loss shares (of taxable accounts),
    in the order acquired (Treas. Reg. §1.1091-1(b)), each take the first share that may replace
    it: purchases in the order acquired (§1.1091-1(c), (d)), bought within 30 days of the sale,
    of each the shares held, then those sold (earlier sales first); a share replaces one loss share
    (§1.1091-1(e)). Never a share of the loss share's own purchase (Rev. Rul. 56-602), nor of its
    own sale, nor one whose loss reached its sale (a circle). A loss is read as the shares stand:
    a deferral reaching a share already sold moves its loss on to its replacement, if it had one.

    Rules the product documents (docs/ledger.md, "Wash sales"), encoded here too: a day's sales
    take their shares in the order of the oldest lot they sell, then their keys; shares of another
    purchase sold in the same sale never replace its loss; and a sale takes first the held shares
    under the lot's own id - a lot's shares that replace a loss of one sale while it keeps shares
    not matched (or matched by a later sale of the day) are split off under an id of their own.
    """
    ordered = sorted(lots, key=lambda lot: (lot.acquired, lot.account, lot.lot_id, str(lot.key)))
    rank = {lot.key: r for r, lot in enumerate(ordered)}
    shares = {lot.key: [Share(lot, i) for i in range(int(lot.held + sum(d.quantity for d in lot.draws)))]
              for lot in ordered}
    every = [s for lot in ordered for s in shares[lot.key]]
    sales = defaultdict(list)
    for lot in ordered:
        for d in lot.draws:
            sales[d.sale].append((lot, d))
    order = sorted(sales, key=lambda k: (sales[k][0][1].sold, min(rank[lot.key] for lot, _ in sales[k]),
                                         int(k[1:])))
    sale_rank = {k: n for n, k in enumerate(order)}
    for day in sorted({d.sold for ds in sales.values() for _, d in ds}):
        keys = [k for k in order if sales[k][0][1].sold == day]
        for key in keys:
            for lot, d in sales[key]:
                held = [s for s in shares[lot.key] if s.sale is None]
                for s in ([s for s in held if s.own_name] + [s for s in held if not s.own_name])[: int(d.quantity)]:
                    s.sale, s.draw = key, d
        losing = sorted((s for s in every if s.sale in keys and s.lot.taxable), key=lambda s: (rank[s.lot.key], s.i))
        for share in losing:
            if share.loss() <= 0:
                continue  # at a gain as it stands: a deferral reaching it later is not washed again
            away = reached(share.sale, every, whole_sales)
            for lot in ordered:
                if lot is share.lot or abs((lot.purchased - day).days) > 30:
                    continue
                free = [s for s in shares[lot.key] if s.src is None and s.sale != share.sale and s not in away]
                free.sort(key=lambda s: (s.sale is not None, -1 if s.sale is None else sale_rank[s.sale], s.i))
                if free:
                    free[0].src, share.dst = share, free[0]
                    break
        for n, key in enumerate(keys):
            for lot in ordered:
                held = [s for s in shares[lot.key] if s.sale is None]
                mine = [s for s in held if s.src is not None and s.src.sale == key]  # matched today
                if not mine:
                    continue
                if any(s.src is None or s.src.sale in keys[n + 1:] for s in held):
                    for s in mine:
                        s.own_name = False
    out = defaultdict(lambda: [Z, Z])
    for s in every:
        row = out[(s.lot.key, s.sale)]
        row[0] += s.loss() if s.dst is not None else Z
        row[1] += s.wash()
    return dict(out)


def product(lots: list[Lot]) -> dict:
    out = defaultdict(lambda: [Z, Z])
    for p in household_replay(lots).pieces:
        out[(p.lot, p.sale)][0] += p.disallowed
        out[(p.lot, p.sale)][1] += p.wash
    return dict(out)


# -- random small histories -----------------------------------------------------------------------

BASE = date(2023, 1, 2)


def random_history(rng: random.Random) -> list[Lot]:
    """2 to 6 purchases over seven weeks in two spouses' taxable accounts and an IRA, 1 to 4 shares
    each; 1 to 5 sales of part or all of one or two lots of an account, one to six weeks on."""
    specs = []
    for n in range(rng.randint(2, 6)):
        account = rng.choice(["T", "T", "S", "S", "IRA"])
        specs.append(dict(key=f"L{n}", account=account, bought=BASE + timedelta(days=rng.randint(0, 50)),
                          qty=rng.randint(1, 4), cost=rng.choice([8, 10, 12, 14]), draws=[]))
    left = {s["key"]: s["qty"] for s in specs}
    for n in range(rng.randint(1, 5)):
        account = rng.choice(sorted({s["account"] for s in specs}))
        pool = [s for s in specs if s["account"] == account and left[s["key"]]]
        if not pool:
            continue
        chosen = rng.sample(pool, min(len(pool), rng.choice([1, 1, 2])))
        day = max(s["bought"] for s in chosen) + timedelta(days=rng.randint(1, 40))
        price = rng.choice([5, 7, 9, 11, 13])
        for s in chosen:
            q = rng.randint(1, left[s["key"]])
            left[s["key"]] -= q
            s["draws"].append((f"S{n}", day, q, price))
    return [lot(s["key"], s["account"], s["bought"], s["qty"], s["cost"], *s["draws"]) for s in specs]


def test_the_reference_reads_the_worked_cases_as_the_product_does():
    lots = [
        lot("L1", "T", date(2023, 2, 18), 2, 12, ("S1", date(2023, 2, 28), 2, 7)),
        lot("L3", "S", date(2023, 2, 17), 1, 6),
        lot("L4", "T", date(2023, 3, 14), 1, 12, ("S4", date(2023, 3, 27), 1, 9)),
        lot("L2", "S", date(2023, 3, 16), 1, 12, ("S2", date(2023, 3, 17), 1, 11)),
    ]
    assert reference(lots) == product(lots)
    assert reference(lots)["L4", "S4"][0] == 8
    assert reference(lots, whole_sales=True)["L4", "S4"][0] == 0  # the old reading


@pytest.mark.parametrize("block", range(4))
def test_the_replay_agrees_with_a_share_by_share_reading(block):
    """600 random histories a block: the disallowed loss of every sale and the basis added to every
    lot's shares (held and each sale's) agree exactly; and the histories do test the rule: some of
    them the old whole-sale reading gets wrong."""
    differs = 0
    for seed in range(block * 600, (block + 1) * 600):
        lots = random_history(random.Random(seed))
        want = reference(lots)
        assert product(lots) == want, (seed, lots)
        differs += reference(lots, whole_sales=True) != want
    assert differs >= 10
