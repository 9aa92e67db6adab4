"""The household replay (``ledger.wash_sales``) against a second, deliberately simple implementation
that follows every share one by one, over random household histories; and worked examples from
IRS Pub. 550 and Treas. Reg. §1.1091-1 with hand-computed numbers."""

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.ledger.wash_sales import Draw, Lot, household_replay, sale_sequence

# -- the simple implementation: one object per share --------------------------------------------


class Share:
    def __init__(self, lot: Lot, index: int, rank: int):
        self.lot, self.index, self.rank = lot, index, rank
        self.name = lot.lot_id
        self.sale = self.draw = self.src = None

    def unadjusted(self) -> Fraction:
        if self.draw is not None:
            return Fraction(self.draw.unadjusted) / Fraction(self.draw.quantity)
        return Fraction(self.lot.held_unadjusted or 0) / Fraction(self.lot.held) if self.lot.held else Fraction(0)

    def proceeds(self) -> Fraction:
        return Fraction(self.draw.proceeds) / Fraction(self.draw.quantity) if self.draw else Fraction(0)

    def wash(self) -> Fraction:
        return self.src.loss() if self.src is not None and self.lot.taxable else Fraction(0)

    def loss(self) -> Fraction:
        return max(self.unadjusted() + self.wash() - self.proceeds(), Fraction(0))

    def start(self, sold_on: dict) -> date:
        if self.src is None or not self.lot.taxable:
            if self.draw is not None and self.draw.start is not None:  # a gift's loss, held from the gift
                return self.draw.start
            if self.lot.inherited:  # held more than a year whenever sold (IRC §1223(9))
                return self.lot.purchased.replace(year=self.lot.purchased.year - 1) - timedelta(days=1)
            return self.lot.purchased
        sold, sold_start = sold_on[self.src.sale], self.src.start(sold_on)
        if self.lot.purchased >= sold:
            return self.lot.purchased - timedelta(days=(sold - sold_start).days)
        return min(self.lot.purchased, sold_start)


def simple_shares(lots: list[Lot]) -> tuple[list[Share], dict]:
    """Every share of the history with its sale and the loss share it replaces (``src``), and
    the date of each sale."""
    # in the order the account acquired them: a gift on the day received (Treas. Reg. §1.1091-1(c), (d));
    # on one day an IRA's or Roth's purchase before a taxable one (docs/ledger.md: the conservative reading)
    lots = sorted(lots, key=lambda lot: (lot.received or lot.purchased, lot.taxable, lot.account, lot.lot_id,
                                         str(lot.key)))
    shares = {lot.key: [Share(lot, i, r) for i in range(int(lot.held + sum(d.quantity for d in lot.draws)))]
              for r, lot in enumerate(lots)}
    rank = {lot.key: r for r, lot in enumerate(lots)}
    sales = defaultdict(list)
    for lot in lots:
        for d in lot.draws:
            sales[d.sale].append((lot, d))
    # A day's sales of one lot in the order they were made: their keys' numbers read as numbers.
    order = sorted(sales, key=lambda k: (sales[k][0][1].sold, min(rank[lot.key] for lot, _ in sales[k]),
                                         [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(k))]))
    sold_on, sale_rank = {}, {}
    for n, key in enumerate(order):
        sold_on[key], sale_rank[key] = sales[key][0][1].sold, n
        for lot, d in sales[key]:
            held = [s for s in shares[lot.key] if s.sale is None]
            for s in ([s for s in held if s.name == d.named] + [s for s in held if s.name != d.named])[: int(d.quantity)]:
                s.sale, s.draw = key, d
        if not sales[key][0][0].taxable:
            continue
        # The shares whose deferred loss reached a share this sale sells (never its replacements: a
        # circle), traced share by share - not every share of their sales (Treas. Reg. §1.1091-1(e)).
        reached, todo = set(), [s for group in shares.values() for s in group if s.sale == key]
        while todo:
            s = todo.pop()
            if s.src is not None and s.src not in reached:
                reached.add(s.src)
                todo.append(s.src)
        losses = sorted((s for lot, _ in sales[key] for s in shares[lot.key] if s.sale == key and s.loss() > 0),
                        key=lambda s: (s.rank, s.index))
        losses = list(dict.fromkeys(losses))
        carved = defaultdict(list)
        for loss in losses:
            for lot in lots:
                same_purchase = lot.key == loss.lot.key or (lot.purchase is not None and lot.purchase == loss.lot.purchase)
                if abs((lot.purchased - sold_on[key]).days) > 30 or same_purchase or lot.inherited or lot.gifted:
                    continue  # out of the window, the loss share's own purchase (Rev. Rul. 56-602), not bought
                free = [s for s in shares[lot.key] if s.src is None and s.sale != key and s not in reached]
                candidates = [s for s in free if s.sale is None] + sorted(
                    (s for s in free if s.sale is not None), key=lambda s: (sale_rank[s.sale], s.index))
                if candidates:
                    candidates[0].src = loss
                    if candidates[0].sale is None and lot.held_unadjusted is not None:
                        carved[lot.key].append(candidates[0])
                    break
        for lot_key, taken in carved.items():
            plain_left = any(s.sale is None and s.src is None for s in shares[lot_key])
            suffix = sum(1 for s in shares[lot_key] if "-W" in s.name and s.src is not None)
            name = f"{taken[0].lot.lot_id}-W" if plain_left else taken[0].lot.lot_id
            for s in taken:
                s.name = name + ("" if not plain_left else str(suffix))  # names are compared as kinds only
    return [s for group in shares.values() for s in group], sold_on


def simple_replay(lots: list[Lot]):
    """Per share: (lot key, sale or None) -> [quantity, proceeds, basis, wash, disallowed, lost,
    matched, {start: shares}]."""
    every, sold_on = simple_shares(lots)
    shares = {"all": every}
    out = defaultdict(lambda: [Fraction(0)] * 7 + [defaultdict(Fraction)])
    for group in shares.values():
        for s in group:
            if s.lot.held_unadjusted is None:
                continue
            row = out[(s.lot.key, s.sale)]
            row[0] += 1
            row[1] += s.proceeds()
            row[2] += s.unadjusted() + s.wash()
            row[3] += s.wash()
            row[7][s.start(sold_on)] += 1
    for group in shares.values():
        for s in group:
            if s.src is not None:
                row = out[(s.src.lot.key, s.src.sale)]
                row[4] += s.src.loss()
                row[5] += s.src.loss() if not s.lot.taxable else 0
                row[6] += 1
    return {k: v[:7] + [dict(v[7])] for k, v in out.items()}


def summarised(replay):
    out = defaultdict(lambda: [Fraction(0)] * 7 + [defaultdict(Fraction)])
    for p in replay.pieces:
        row = out[(p.lot, p.sale)]
        for i, value in enumerate((p.quantity, p.proceeds, p.basis, p.wash, p.disallowed, p.lost, p.matched)):
            row[i] += value
        row[7][p.acquired] += p.quantity
    return {k: v[:7] + [dict(v[7])] for k, v in out.items()}


# -- random household histories --------------------------------------------------------------

START = date(2026, 1, 1)
ACCOUNTS = (("TAX-1", True), ("TAX-2", True), ("IRA", False))


@st.composite
def histories(draw):
    """A household's trades in one equivalence group, built day by day so every sale takes only
    shares its lot holds: buys (some known only from a trade record, some inherited or gifted shares), sells
    of random lots in part or whole, at prices that make gains and losses."""
    lots: list[dict] = []
    n_events = draw(st.integers(1, 14))
    day = START
    for n in range(n_events):
        day += timedelta(days=draw(st.integers(0, 25)))
        account, taxable = draw(st.sampled_from(ACCOUNTS))
        held = [lot for lot in lots if lot["account"] == account and lot["held"] > 0 and lot["ledger"]]
        if held and draw(st.booleans()):
            lot = draw(st.sampled_from(held))
            quantity = draw(st.integers(1, lot["held"]))
            price = draw(st.integers(50, 150))
            unadjusted = lot["unadjusted"] * quantity // lot["held"]
            basis, start = D(unadjusted) / 100, None
            if lot["gift"] is not None:  # IRC §1015(a), plainly: below the gift day's value a loss from it
                gifted, unit_value = lot["gift"]
                value, proceeds = D(unit_value * quantity), D(quantity * price)
                if value < basis and proceeds < value:
                    basis, start = value, gifted
                elif value < basis and proceeds <= basis:
                    basis = proceeds
            lot["draws"].append(Draw(sale=f"S{n}", sold=day, named=lot["lot_id"], quantity=D(quantity),
                                     proceeds=D(quantity * price), unadjusted=basis, start=start))
            lot["held"] -= quantity
            lot["unadjusted"] -= unadjusted
        else:
            quantity = draw(st.integers(1, 12))
            in_ledger = draw(st.integers(0, 5)) > 0
            kind = draw(st.integers(0, 5)) if in_ledger else 1  # 0: inherited, 5: a gift
            # A gift: given on ``day``, the donor's shares bought up to two years before.
            gift = (day, draw(st.integers(40, 140))) if kind == 5 else None
            lots.append({"key": f"P{n}", "account": account, "taxable": taxable, "lot_id": f"{account}-{n}",
                         "purchased": day - timedelta(days=draw(st.integers(0, 730))) if gift else day,
                         "held": quantity, "unadjusted": quantity * draw(st.integers(60, 140)) * 100,
                         "draws": [], "ledger": in_ledger, "inherited": kind == 0, "gift": gift})
    return [Lot(key=lot["key"], account=lot["account"], taxable=lot["taxable"], lot_id=lot["lot_id"],
                purchased=lot["purchased"], held=D(lot["held"]),
                held_unadjusted=D(lot["unadjusted"]) / 100 if lot["ledger"] else None, draws=tuple(lot["draws"]),
                inherited=lot["inherited"], gifted=lot["gift"] is not None)
            for lot in lots]


@settings(max_examples=1200, deadline=None)
@given(histories())
def test_the_replay_agrees_with_a_share_by_share_implementation(lots):
    assert summarised(household_replay(lots)) == simple_replay(lots)


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_the_replay_depends_on_the_history_only_not_on_the_order_it_is_given(lots, random):
    shuffled = list(lots)
    random.shuffle(shuffled)
    assert household_replay(shuffled) == household_replay(lots)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_every_share_absorbs_at_most_one_loss_and_nothing_is_lost_or_made_up(lots):
    replay = household_replay(lots)
    for lot in lots:
        if not lot.in_ledger:
            continue
        pieces = [p for p in replay.pieces if p.lot == lot.key]
        assert sum(p.quantity for p in pieces) == lot.held + sum(d.quantity for d in lot.draws)
        assert sum(p.unadjusted for p in pieces) == lot.held_unadjusted + sum(d.unadjusted for d in lot.draws)
        assert sum(p.proceeds for p in pieces) == sum(d.proceeds for d in lot.draws)
    gifted = {lot.key for lot in lots if lot.gifted}  # a loss below the gift day's value: held from the gift
    for p in replay.pieces:
        assert 0 <= p.lost <= p.disallowed <= max(-p.gain, 0) and p.matched <= p.quantity
        assert p.acquired <= p.purchased or p.lot in gifted
    for adjustment in replay.adjustments:
        assert 0 <= adjustment.basis_added <= adjustment.disallowed and adjustment.after <= adjustment.before
    # What was disallowed went somewhere: into a replacement's basis or lost in an IRA.
    added = sum(a.basis_added for a in replay.adjustments)
    assert sum(p.disallowed - p.lost for p in replay.pieces) == added


# -- worked examples ----------------------------------------------------------------------------


def lot(key, purchased, held=0, cost=0, *draws, account="TAX-1", taxable=True, ledger=True) -> Lot:
    return Lot(key=key, account=account, taxable=taxable, lot_id=key, purchased=purchased, held=D(held),
               held_unadjusted=D(cost) if ledger else None, draws=tuple(draws))


def sale(key, sold, quantity, proceeds, unadjusted, named) -> Draw:
    return Draw(sale=key, sold=sold, named=named, quantity=D(quantity), proceeds=D(proceeds), unadjusted=D(unadjusted))


def pieces_by(replay):
    return {(p.lot_id, p.sale): p for p in replay.pieces}


def test_pub_550_a_repurchase_of_all_the_shares_disallows_the_whole_loss():
    # Pub. 550: 100 shares bought for $1,000, sold for $750; 100 bought within 30 days for $800:
    # the $250 loss is disallowed; the new shares' basis is $1,050.
    replay = household_replay([
        lot("OLD", date(2025, 1, 10), 0, 0, sale("S", date(2026, 3, 2), 100, 750, 1000, "OLD")),
        lot("NEW", date(2026, 3, 20), 100, 800),
    ])
    got = pieces_by(replay)
    assert (got["OLD", "S"].disallowed, got["OLD", "S"].matched) == (250, 100)
    new = got["NEW", None]
    assert (new.basis, new.wash, new.replacement) == (1050, 250, True)
    # Held 2025-01-10 -> 2026-03-02 (416 days), tacked onto the purchase of 2026-03-20.
    assert new.acquired == date(2026, 3, 20) - timedelta(days=416)


def test_pub_550_fewer_shares_bought_disallow_the_loss_of_the_replaced_shares_only():
    # Treas. Reg. §1.1091-1(h) Example 2: 100 shares sold at a $1,000 loss; 75 bought within the
    # window: the loss on 75 shares ($750) is disallowed.
    replay = household_replay([
        lot("A", date(2024, 9, 21), 0, 0, sale("S", date(2026, 1, 3), 100, 4000, 5000, "A")),
        lot("B", date(2025, 12, 21), 50, 2750),
        lot("C", date(2025, 12, 27), 25, 1125),
    ])
    got = pieces_by(replay)
    assert (got["A", "S"].disallowed, got["A", "S"].matched, got["A", "S"].gain) == (750, 75, -1000)
    assert (got["B", None].basis, got["C", None].basis) == (2750 + 500, 1125 + 250)


def test_a_days_sales_of_one_lot_go_in_the_order_they_were_made_not_in_the_order_of_their_ids_as_text():
    # 10 shares sold at a $500 loss; 20 bought 5 days later: 10 of them replace the loss shares
    # (basis 100 a share), 10 do not (50). Two sales of the new lot on one day, each of 10 shares at
    # 60, the orders of proposals 99 and 100: the first made takes the plain shares (a $100 gain),
    # the second the replacement shares (a $400 loss). As text "P100-1" sorts before "P99-1": which
    # sale realised the loss depended on how many digits the proposals' ids had.
    day = date(2025, 12, 10)
    first, second = ("P99-1", day), ("P100-1", day)
    replay = household_replay([
        lot("OLD", date(2025, 1, 2), 0, 0, sale(("P1-1", date(2025, 11, 20)), date(2025, 11, 20), 10, 500, 1000,
                                                 "OLD")),
        lot("NEW", date(2025, 11, 25), 0, 0, sale(first, day, 10, 600, 500, "NEW"),
            sale(second, day, 10, 600, 500, "NEW")),
    ])
    gains = {p.sale: p.gain for p in replay.pieces if p.lot == "NEW"}
    assert (gains[first], gains[second]) == (100, -400)
    assert [sale_sequence(k) for k in sorted([second, first], key=sale_sequence)] == [sale_sequence(first),
                                                                                    sale_sequence(second)]


def test_a_replacement_bought_before_the_sale_starts_its_holding_period_on_the_sold_shares_start():
    # Shares held 330 days, sold at a loss; the replacement was bought 30 days before the sale and
    # sold 25 days after it. Overlapping days count once: its holding period starts when the sold
    # shares' did, 355 days before its sale, which is short-term (adding the 330 days to its own
    # purchase would make it 385 days and long-term).
    sold_on = date(2026, 6, 1)
    replay = household_replay([
        lot("OLD", sold_on - timedelta(days=330), 0, 0, sale("S", sold_on, 10, 900, 1000, "OLD")),
        lot("NEW", sold_on - timedelta(days=30), 0, 0,
            sale("S2", sold_on + timedelta(days=25), 10, 1200, 950, "NEW")),
    ])
    resold = pieces_by(replay)["NEW", "S2"]
    assert resold.acquired == sold_on - timedelta(days=330)
    assert (resold.basis, resold.gain, resold.term) == (1050, 150, "short")


def test_a_replacement_bought_before_the_sold_shares_keeps_its_own_earlier_start():
    sold_on = date(2026, 6, 1)
    replay = household_replay([
        lot("EARLY", sold_on - timedelta(days=25), 10, 1000),
        lot("LATE", sold_on - timedelta(days=5), 0, 0, sale("S", sold_on, 10, 800, 1000, "LATE")),
    ])
    early = pieces_by(replay)["EARLY", None]
    assert (early.basis, early.acquired) == (1200, sold_on - timedelta(days=25))


def test_several_blocks_sold_the_same_day_are_washed_in_the_order_they_were_acquired():
    # Treas. Reg. §1.1091-1(b): same-day losses in the order the shares were acquired; 60 shares
    # bought replace the 2024 block's 50 first, then 10 of the 2025 block.
    day = date(2026, 4, 1)
    replay = household_replay([
        lot("Y2025", date(2025, 2, 1), 0, 0, sale("S-B", day, 50, 4000, 5000, "Y2025")),
        lot("Y2024", date(2024, 2, 1), 0, 0, sale("S-A", day, 50, 4000, 6000, "Y2024")),
        lot("NEW", day + timedelta(days=3), 60, 4800),
    ])
    got = pieces_by(replay)
    assert (got["Y2024", "S-A"].matched, got["Y2024", "S-A"].disallowed) == (50, 2000)
    assert (got["Y2025", "S-B"].matched, got["Y2025", "S-B"].disallowed) == (10, 200)
    # The first sale's replacements split off the purchase; the second takes all that is left of
    # it, which keeps the lot's id.
    assert (got["NEW-W1", None].quantity, got["NEW-W1", None].basis) == (50, 4000 + 2000)
    assert (got["NEW", None].quantity, got["NEW", None].basis) == (10, 800 + 200)


def test_half_a_lot_sold_at_a_loss_is_not_replaced_by_the_other_half_of_the_same_purchase():
    # Rev. Rul. 56-602: §1091 does not disallow the loss on shares that are part of a lot bought
    # less than 30 days before the sale; the shares kept were bought with them, not to replace them.
    day = date(2026, 5, 10)
    replay = household_replay([lot("L", day - timedelta(days=12), 50, 5000, sale("S", day, 50, 4500, 5000, "L"))])
    got = pieces_by(replay)
    assert (got["L", "S"].disallowed, got["L", "S"].matched, got["L", "S"].gain) == (0, 0, -500)
    assert (got["L", None].basis, got["L", None].acquired, got["L", None].replacement) == (
        5000, day - timedelta(days=12), False)
    assert replay.adjustments == ()


def test_part_of_a_recent_lot_sold_at_a_loss_is_still_washed_by_another_purchase():
    # Rev. Rul. 56-602 sets aside only the loss shares' own purchase: a second purchase within the
    # window replaces them (Pub. 550), and the shares kept of the first lot stay as they are.
    day = date(2026, 5, 10)
    replay = household_replay([
        lot("L", day - timedelta(days=12), 50, 5000, sale("S", day, 50, 4500, 5000, "L")),
        lot("M", day + timedelta(days=3), 20, 1800),
    ])
    got = pieces_by(replay)
    assert (got["L", "S"].disallowed, got["L", "S"].matched) == (200, 20)  # 500 x 20 / 50
    assert (got["L", None].basis, got["M", None].basis) == (5000, 2000)
    assert got["M", None].acquired == day + timedelta(days=3) - timedelta(days=12)


def test_an_ira_purchase_disallows_the_loss_for_good():
    # Rev. Rul. 2008-5: no basis added in the IRA; the loss is lost, and said so.
    day = date(2026, 5, 10)
    replay = household_replay([
        lot("T", date(2025, 1, 2), 0, 0, sale("S", day, 10, 800, 1000, "T")),
        lot("I", day + timedelta(days=5), 10, 750, account="IRA", taxable=False),
    ])
    got = pieces_by(replay)
    assert (got["T", "S"].disallowed, got["T", "S"].lost) == (200, 200)
    assert (got["I", None].basis, got["I", None].acquired) == (750, day + timedelta(days=5))
    [adjustment] = replay.adjustments
    assert (adjustment.disallowed, adjustment.basis_added) == (200, 0)


def test_a_chain_of_washes_carries_both_losses_into_the_last_shares():
    d0 = date(2026, 2, 1)
    replay = household_replay([
        lot("A", date(2025, 1, 2), 0, 0, sale("S1", d0, 10, 900, 1000, "A")),  # 100 loss
        lot("B", d0 + timedelta(days=5), 0, 0, sale("S2", d0 + timedelta(days=20), 10, 850, 950, "B")),  # basis 1,050
        lot("C", d0 + timedelta(days=40), 10, 800),
    ])
    got = pieces_by(replay)
    assert (got["B", "S2"].basis, got["B", "S2"].gain, got["B", "S2"].disallowed) == (1050, -200, 200)
    assert got["C", None].basis == 1000  # 800 + 100 + 100


def test_replacement_shares_sold_before_the_loss_sale_carry_the_loss_in_their_sale():
    d0 = date(2026, 9, 20)
    replay = household_replay([
        lot("R", d0, 0, 0, sale("S0", d0 + timedelta(days=5), 50, 5500, 5000, "R")),  # a 500 gain
        lot("L", date(2026, 6, 1), 0, 0, sale("S1", d0 + timedelta(days=11), 50, 5000, 6000, "L")),
    ])
    got = pieces_by(replay)
    assert got["L", "S1"].disallowed == 1000
    # The 1,000 goes into the basis of the shares sold on 09-25: 5,500 - 6,000 = -500; bought
    # before the loss sale, they start on the sold shares' start.
    assert (got["R", "S0"].basis, got["R", "S0"].gain, got["R", "S0"].acquired) == (6000, -500, date(2026, 6, 1))


def test_a_loss_is_never_deferred_back_into_the_shares_whose_loss_it_carries():
    # Q (bought 09-01, sold 09-05 at a loss) is replaced by P (bought 09-02, held): P carries Q's
    # loss. P's own sale on 09-20 at a loss must not be washed by Q's shares (a circle).
    replay = household_replay([
        lot("Q", date(2026, 9, 1), 0, 0, sale("SQ", date(2026, 9, 5), 10, 900, 1000, "Q")),
        lot("P", date(2026, 9, 2), 0, 0, sale("SP", date(2026, 9, 20), 10, 800, 1000, "P")),
    ])
    got = pieces_by(replay)
    assert (got["Q", "SQ"].disallowed, got["P", "SP"].basis) == (100, 1100)
    assert (got["P", "SP"].disallowed, got["P", "SP"].gain) == (0, -300)


def test_shares_known_only_from_a_trade_replace_but_have_no_lot_to_adjust():
    day = date(2026, 5, 10)
    replay = household_replay([
        lot("T", date(2025, 1, 2), 0, 0, sale("S", day, 10, 800, 1000, "T")),
        lot("TRADE", day + timedelta(days=2), 4, 0, ledger=False),
    ])
    assert pieces_by(replay)["T", "S"].disallowed == 80
    assert [p.lot for p in replay.pieces] == ["T"]
    [adjustment] = replay.adjustments
    assert (adjustment.target, adjustment.target_lot, adjustment.basis_added) == (None, "TRADE", 80)


def test_a_sale_of_shares_partly_at_a_loss_and_partly_at_a_gain_never_nets_the_gain_into_the_loss():
    # Found by the ledger's property test. VTI and ITOT are one group; are one household.
    # 11-20: S0 sells 40 of L1 (cost 120) at 60: B1, bought the same day in X-2, replaces them
    # (B1 #0-39 at 150). 11-30: S3 sells 13 of B2 (at 82) at 73, replaced by B1 #40-52. 12-06: S6
    # and S7 sell B1 #53-65, #0-33 at losses replaced by B2 (its sold shares too), B4 and B5: S3's
    # loss grows to 48 a share on B2 #0-5 and 17 on #6-12, so B1 #40-45 cost 138 and #46-52 cost
    # 107. S8 sells B1 #34-46 at 116: #34-45 at a loss, #46 at a gain of 9. The gain share is a
    # piece of its own: its 9 neither nets against nor caps the 132 disallowed on #40-45 (IRC
    # §1091(a) is a rule for loss shares; §1091(d) adds the 132 to the replacement, B5).
    day1, day2, day3 = date(2025, 11, 20), date(2025, 11, 30), date(2025, 12, 6)
    replay = household_replay([
        lot("L1", date(2024, 12, 10), 20, 2400, sale("S0", day1, 40, 2400, 4800, "L1"), account="X-1"),
        lot("B1", day1, 6, 540, sale("S6", day3, 23, 2553, 2070, "B1"), sale("S7", day3, 24, 3408, 2160, "B1"),
            sale("S8", day3, 13, 1508, 1170, "B1"), account="X-2"),
        lot("B2", day2, 4, 328, sale("S3", day2, 13, 949, 1066, "B2"), account="X-1"),
        lot("B4", day2, 2, 100, account="X-1"),
        lot("B5", day2, 51, 2550, account="X-1"),
        lot("B9", day3, 2, 100, account="X-1"),
    ])
    s8 = sorted((p for p in replay.pieces if p.sale == "S8"), key=lambda p: p.gain)
    assert [(p.quantity, p.gain, p.disallowed) for p in s8] == [(6, -204, 204), (6, -132, 132), (1, 9, 0)]
    for p in replay.pieces:
        assert 0 <= p.disallowed <= max(-p.gain, 0)
    x2 = [p for p in replay.pieces if p.lot == "B1" and p.sale is not None]
    assert sum(p.disallowed for p in x2) == 390 + 192 + 204 + 132  # 918, as a share-by-share reading says
    assert sum(a.basis_added for a in replay.adjustments if a.target_lot == "B5") == 15 * 8 + 6 * 34 + 6 * 22


def test_a_gift_is_matched_by_the_day_it_was_received_not_the_donors_purchase():
    # One sale on 2024-03-17 at 66 a share takes a gifted share (donor bought 2022-11-01 for 78,
    # given 2024-03-15) and a share bought 2024-02-24 for 113; a Roth buys one share on 03-22.
    # Loss shares are matched "in the order of their acquisition" (Treas. Reg. §1.1091-1(c)):
    # the account acquired the bought share first (02-24), the gift on 03-15 - the donor's date
    # only lends the holding period (§1223(2)). So the bought share's 47 is lost for good (a Roth
    # purchase, Rev. Rul. 2008-5) and the gift's 12 stays deductible.
    sold = date(2024, 3, 17)
    replay = household_replay([
        Lot(key="G", account="TAX-1", taxable=True, lot_id="G", purchased=date(2022, 11, 1), held=D(0),
            held_unadjusted=D(0), draws=(sale("S", sold, 1, 66, 78, "G"),), gifted=True,
            received=date(2024, 3, 15)),
        lot("P", date(2024, 2, 24), 0, 0, sale("S", sold, 1, 66, 113, "P")),
        lot("R", date(2024, 3, 22), 1, 70, account="ROTH", taxable=False),
    ])
    got = pieces_by(replay)
    assert (got["P", "S"].disallowed, got["P", "S"].lost) == (47, 47)
    assert (got["G", "S"].disallowed, got["G", "S"].gain) == (0, -12)
    # the gift keeps the donor's holding period: long-term, though received two days before
    assert got["G", "S"].acquired == date(2022, 11, 1)
