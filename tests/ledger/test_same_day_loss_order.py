"""Loss shares sold on one day, across sales, accounts and spouses, are matched with replacement
shares in the order they were acquired (Treas. Reg. §1.1091-1(b): "If the order of disposition of
stock or securities disposed of at a loss on the same day cannot be determined, the stock or
securities will be considered to have been disposed of in the order in which they were originally
acquired (beginning with the earliest acquisition)"). The ledger keeps trade dates only, so a day's
order is never known. Until 2026-12-06 the replay took a whole sale (the one holding the oldest lot)
before any other sale of the day: one sale's newer loss shares were washed before another's older.

Checked three ways: the worked example through the replay and through the real ledger (executions
imported, two spouses filing separately), and random household histories rich in same-day sales
(of several lots, in both spouses' accounts and the IRA) against a deliberately simple share-by-share
reading of the rules written here.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from rebalancing.engine.tax import inherited_start, replacement_start
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.wash_sales import Draw, Lot, household_replay
from rebalancing.models import Account, Household, RealisedLot, TaxLot
from tests.ledger.helpers import buy, execution_csv, fill, release, sell
from tests.rebalancing.book import make_account

Z = F(0)
TAXABLE = {"T-1": True, "T-2": True, "IRA": False}  # T-2: the spouse's account


# -- reference: one share at a time -------------------------------------------------------------


class Share:
    __slots__ = ("lot", "i", "sale", "price", "src", "dst")

    def __init__(self, lot, i):
        self.lot, self.i = lot, i
        self.sale, self.price = None, Z
        self.src = None  # the loss share this share replaces
        self.dst = None  # the share that replaced this one

    def basis(self):
        # IRC §1091(d); nothing added in an IRA or Roth (Rev. Rul. 2008-5)
        return self.lot.cost + (self.src.loss() if self.src is not None and self.lot.taxable else Z)

    def loss(self):
        if self.sale is None or not self.lot.taxable:
            return Z
        return max(self.basis() - self.price, Z)

    def start(self, sold_on):
        own = inherited_start(self.lot.purchased) if self.lot.inherited else self.lot.purchased
        if self.src is None or not self.lot.taxable:
            return own
        # IRC §1223(3), days held by both counted once
        return replacement_start(self.lot.purchased, sold_on[self.src.sale], self.src.start(sold_on))


class RLot:
    def __init__(self, key, spec):
        self.key, self.account, self.purchased = key, spec["account"], spec["purchased"]
        self.cost, self.taxable = F(spec["cost"]), TAXABLE[spec["account"]]
        self.inherited, self.received = spec.get("inherited", False), spec.get("received")
        self.shares = [Share(self, i) for i in range(spec["qty"])]

    @property
    def acquired(self):
        return self.received or self.purchased


def reference(specs: dict, sales: list) -> tuple[dict, dict]:
    """``sales``: [(sale id "S{n}", day, account, [(lot key, shares)], price)]. Every sale of a day
    takes its shares; then the day's loss shares, one at a time in the order acquired, each take the
    first share that may replace it: purchases in the order acquired, of each the shares held, then
    those sold (earlier sales first); never shares of the loss share's own lot or sale, nor of a
    sale whose loss reached the loss share, nor inherited or gifted shares."""
    lots = {k: RLot(k, sp) for k, sp in specs.items()}
    by_acquisition = sorted(lots.values(), key=lambda lot: (lot.acquired, lot.account, lot.key))
    rank = {lot.key: r for r, lot in enumerate(by_acquisition)}
    ordered = sorted(sales, key=lambda s: (s[1], min(rank[k] for k, _ in s[3]), int(s[0][1:])))
    sale_rank = {s[0]: r for r, s in enumerate(ordered)}
    sold_on = {s[0]: s[1] for s in sales}
    for day in sorted({s[1] for s in sales}):
        taken = []
        for sid, _, account, takes, price in (s for s in ordered if s[1] == day):
            for key, q in takes:
                free = sorted((s for s in lots[key].shares if s.sale is None), key=lambda s: (s.src is not None, s.i))
                assert len(free) >= q
                for s in free[:q]:
                    s.sale, s.price = sid, F(price)
                    if TAXABLE[account]:
                        taken.append(s)
        for share in sorted(taken, key=lambda s: (rank[s.lot.key], s.i)):
            if share.loss() <= 0:
                continue
            reached = _reached(share.sale, lots)
            for lot in by_acquisition:
                if lot is share.lot or lot.inherited or lot.received or abs((lot.purchased - day).days) > 30:
                    continue
                free = [s for s in lot.shares if s.src is None and s.sale != share.sale and s not in reached]
                free.sort(key=lambda s: (s.sale is not None, sale_rank.get(s.sale, -1), s.i))
                if free:
                    free[0].src, share.dst = share, free[0]
                    break
    return lots, sold_on


def reference_figures(specs, sales) -> dict:
    """(lot, sale or None, holding-period start) -> [shares, proceeds, basis, disallowed, lost for
    good, shares replaced]."""
    lots, sold_on = reference(specs, sales)
    out = defaultdict(lambda: [Z] * 6)
    for lot in lots.values():
        for s in lot.shares:
            row = out[(lot.key, s.sale, s.start(sold_on))]
            row[0] += 1
            row[2] += s.basis()
            if s.sale is not None:
                row[1] += s.price
                if s.dst is not None:
                    row[3] += s.loss()
                    row[4] += s.loss() if not s.dst.lot.taxable else Z
                    row[5] += 1
    return dict(out)


def replay_figures(specs, sales) -> dict:
    draws = defaultdict(list)
    for sid, day, _, takes, price in sales:
        for key, q in takes:
            draws[key].append(Draw(sale=sid, sold=day, named=key, quantity=D(q), proceeds=D(q * price),
                                   unadjusted=D(q * specs[key]["cost"])))
    lots = []
    for key, sp in specs.items():
        held = sp["qty"] - sum(int(d.quantity) for d in draws[key])
        lots.append(Lot(key=key, account=sp["account"], taxable=TAXABLE[sp["account"]], lot_id=key,
                        purchased=sp["purchased"], held=D(held), held_unadjusted=D(held * sp["cost"]),
                        draws=tuple(draws[key]), inherited=sp.get("inherited", False),
                        gifted=sp.get("received") is not None, received=sp.get("received")))
    out = defaultdict(lambda: [Z] * 6)
    for p in household_replay(lots).pieces:
        row = out[(p.lot, p.sale, p.acquired)]
        for i, v in enumerate((p.quantity, p.proceeds, p.basis, p.disallowed, p.lost, p.matched)):
            row[i] += v
    return {k: v for k, v in out.items() if v[0]}


# -- the worked example -----------------------------------------------------------------------------

EXAMPLE = {
    "A": dict(account="T-1", purchased=date(2020, 1, 2), qty=10, cost=110),   # loss 10 a share
    "B": dict(account="T-2", purchased=date(2022, 1, 3), qty=10, cost=120),   # loss 20 a share
    "C": dict(account="T-1", purchased=date(2025, 6, 2), qty=10, cost=130),   # loss 30 a share
    "R": dict(account="T-1", purchased=date(2026, 2, 10), qty=20, cost=100),
}
EXAMPLE_SALES = [("S1", date(2026, 2, 2), "T-1", [("A", 10), ("C", 10)], 100),
                 ("S2", date(2026, 2, 2), "T-2", [("B", 10)], 100)]


def test_a_days_loss_shares_are_replaced_in_the_order_acquired_across_sales_and_spouses():
    """Spouse 1 sells A (2020) and C (2025) in one order, spouse 2 sells B (2022) the same day; 20
    shares are bought back: A's 10 and B's 10 are the ones replaced (not A's and C's)."""
    got = replay_figures(EXAMPLE, EXAMPLE_SALES)
    assert {k[0]: v[3] for k, v in got.items() if k[1] is not None} == {"A": 100, "B": 200, "C": 0}
    # R's 20: 10 carry A's 100 and its holding period, 10 B's 200 and B's
    held = {k[2]: v[2] for k, v in got.items() if k[0] == "R"}
    sold, bought = date(2026, 2, 2), date(2026, 2, 10)
    assert held == {bought - (sold - date(2020, 1, 2)): 1100, bought - (sold - date(2022, 1, 3)): 1200}
    assert got == reference_figures(EXAMPLE, EXAMPLE_SALES)


def test_an_ira_replacement_takes_the_days_oldest_loss_shares_for_good():
    """The same day's sales, 15 shares bought in the IRA before them: A's 10 and 5 of B's are lost
    for good (Rev. Rul. 2008-5), C's stay deductible."""
    specs = dict(EXAMPLE, R=dict(account="IRA", purchased=date(2026, 1, 20), qty=15, cost=100))
    got = replay_figures(specs, EXAMPLE_SALES)
    assert {k[0]: (v[3], v[4]) for k, v in got.items() if k[1] is not None} == {
        "A": (100, 100), "B": (100, 100), "C": (0, 0)}
    assert got == reference_figures(specs, EXAMPLE_SALES)


def test_a_later_share_of_the_day_bought_in_the_window_replaces_an_older_one_and_carries_its_loss():
    """Spouse 2 sells W, bought 10 days before, at a loss the day spouse 1 sells the older A at a
    loss: W's shares (acquired within 30 days) replace A's, and A's loss moves into W's sale (a
    chain, IRC §1091(d)); W's own loss, with A's in it, is replaced by the purchase after."""
    specs = {
        "A": dict(account="T-1", purchased=date(2020, 1, 2), qty=10, cost=110),
        "W": dict(account="T-2", purchased=date(2026, 1, 23), qty=10, cost=105),
        "R": dict(account="T-1", purchased=date(2026, 2, 12), qty=10, cost=100),
    }
    sales = [("S1", date(2026, 2, 2), "T-2", [("W", 10)], 100),
             ("S2", date(2026, 2, 2), "T-1", [("A", 10)], 100)]
    got = replay_figures(specs, sales)
    assert {k[0]: (v[2], v[3]) for k, v in got.items() if k[1] is not None} == {"A": (1100, 100), "W": (1150, 150)}
    assert got == reference_figures(specs, sales)


# -- random households, rich in same-day sales -----------------------------------------------------

START = date(2025, 11, 20)


def random_history(rng: random.Random):
    """Sales of one to three lots, often a second or third the same day in another account (the
    spouse's, the IRA), purchases between them; an inherited and a gifted lot."""
    specs = {
        "T-1-OLD": dict(account="T-1", purchased=date(2019, 3, 4), qty=12, cost=150),
        "T-1-YR": dict(account="T-1", purchased=date(2024, 12, 20), qty=10, cost=120),
        "T-1-INH": dict(account="T-1", purchased=date(2025, 10, 1), qty=6, cost=130, inherited=True),
        "T-2-OLD": dict(account="T-2", purchased=date(2018, 6, 30), qty=8, cost=60),
        "T-2-MID": dict(account="T-2", purchased=date(2023, 5, 5), qty=9, cost=140),
        "T-2-GIFT": dict(account="T-2", purchased=date(2015, 1, 5), qty=5, cost=70, received=START),
        "IRA-OLD": dict(account="IRA", purchased=date(2017, 1, 1), qty=10, cost=90),
    }
    sales: list = []
    day = START
    for n in range(1, rng.randint(4, 14)):
        account = rng.choice(sorted(TAXABLE))
        price = rng.randint(40, 200)
        if rng.random() < 0.6:
            same_day = sales and sales[-1][1] == day and rng.random() < 0.7
            sale_day = day if same_day or not sales else day + timedelta(days=rng.choice([0, 1, 3, 9, 20, 30, 31]))
            lots, _ = reference(specs, sales)
            takes = []
            for key in sorted(k for k, sp in specs.items() if sp["account"] == account):
                sp = specs[key]
                if sp["purchased"] == sale_day or (sp.get("received") or sp["purchased"]) > sale_day:
                    continue  # a lot bought on the sale day is not sold that day (no order within a day)
                held = [s for s in lots[key].shares if s.sale is None]
                plain = [s for s in held if s.src is None]
                if not held or rng.random() < 0.4:
                    continue
                # plain shares, or every share held: which shares a sale took needs no convention
                q = len(held) if not plain or rng.random() < 0.3 else rng.randint(1, len(plain))
                takes.append((key, q))
            if takes:
                day = sale_day
                sales.append((f"S{n}", day, account, takes, price))
                continue
        day += timedelta(days=rng.choice([1, 2, 5, 12, 25, 30, 31, 40]))
        specs[f"B{n}-{account}"] = dict(account=account, purchased=day, qty=rng.randint(1, 15), cost=price)
    return specs, sales


def _same_day_multi_sale(sales) -> bool:
    days = defaultdict(set)
    for _, day, account, _, _ in sales:
        days[day].add(account)
    return any(len(accounts) > 1 for accounts in days.values())


def test_the_random_histories_hold_same_day_sales_across_accounts():
    """The generator's point: most histories below sell in two accounts on one day."""
    assert sum(_same_day_multi_sale(random_history(random.Random(seed))[1]) for seed in range(400)) > 200


@pytest.mark.parametrize("seed", range(400))
def test_the_replay_agrees_with_a_share_by_share_reading(seed):
    specs, sales = random_history(random.Random(seed))
    want = {k: v for k, v in reference_figures(specs, sales).items() if v[0]}
    assert replay_figures(specs, sales) == want, (specs, sales)


# -- through the ledger ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_spouses_same_day_loss_sales_through_the_ledger(book, pm):
    """The worked example booked from a custodian's fills, spouses filing separately: T-1 (spouse 1)
    defers 100 (A's), T-2 (spouse 2) 200 (B's); C's 300 stays deductible. T-1's 20 shares bought back
    carry 100 and 200 and the holding periods of A and B."""
    household = Household.objects.create(name="Same day", external_id="HH-SD", filing_status="married_separate")
    t1 = make_account("T-1", model=book["model"], household=household, holdings=[
        ("VTI", 10, 1100, date(2020, 1, 2)), ("VTI", 10, 1300, date(2025, 6, 2))])
    t2 = make_account("T-2", model=book["model"], household=household, holdings=[("VTI", 10, 1200, date(2022, 1, 3))])
    Account.objects.filter(pk=t2.pk).update(spouse="second")
    [s1] = release(t1, [sell("VTI", 20, 100.0, [("T-1-L1", 10), ("T-1-L2", 10)])], pm=pm, as_of=date(2026, 2, 2))
    [s2] = release(t2, [sell("VTI", 10, 100.0, [("T-2-L1", 10)])], pm=pm, as_of=date(2026, 2, 2))
    [b] = release(t1, [buy("VTI", 20, 100.0)], pm=pm, as_of=date(2026, 2, 10))
    executions_import(source=execution_csv(fill("SD-1", s1, 20, "100", date(2026, 2, 2)),
                                           fill("SD-2", s2, 10, "100", date(2026, 2, 2)),
                                           fill("SD-3", b, 20, "100", date(2026, 2, 10))),
                      actor="custodian feed", as_of=date(2026, 3, 1))
    got = {a.custodian_number: sum((r.disallowed_loss for r in RealisedLot.objects.filter(account=a)), D(0))
           for a in (t1, t2)}
    assert got == {"T-1": D("100.00"), "T-2": D("200.00")}, got
    held = sorted((lot.quantity, lot.cost_basis, lot.acquired) for lot in TaxLot.objects.filter(account=t1))
    sold, bought = date(2026, 2, 2), date(2026, 2, 10)
    assert held == [(D(10), D("1100.00"), bought - (sold - date(2020, 1, 2))),
                    (D(10), D("1200.00"), bought - (sold - date(2022, 1, 3)))], held


def _reached(sale, lots):
    """The shares whose deferred losses reached a share ``sale`` sells, through each share's source
    (a loss is never deferred back into the shares that carry it; share by share, not sale by sale:
    Treas. Reg. §1.1091-1(e))."""
    out, todo = set(), [s for lot in lots.values() for s in lot.shares if s.sale == sale]
    while todo:
        s = todo.pop()
        if s.src is not None and s.src not in out:
            out.add(s.src)
            todo.append(s.src)
    return out
