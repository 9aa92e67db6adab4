"""Wash sales across a household, replayed from its whole history: a pure function (no Django).

Given every lot of one equivalence group in one household (what was bought, when, what each sale
took from it, what is still held), ``household_replay`` says which shares replace which loss
shares, and what that does to every lot and every sale: basis, holding period, disallowed loss.
The answer depends on the history only, never on the order in which it reached the ledger, so a
late purchase, sale or correction is handled by replaying again.

The rules and their sources (IRC §1091; Treas. Reg. §1.1091-1 and -2; IRS Pub. 550 "Wash Sales";
Rev. Rul. 2008-5):

- A loss on shares sold in a taxable account is disallowed when substantially identical shares
  (the same equivalence group) are acquired within 30 days before or after the sale, in any
  account of the household, IRAs and Roths included. Shares bought in the same purchase as the
  loss shares (the lot they are part of) are not their replacements, whether sold with them or
  kept: a sale of part of a lot bought within 30 days reduces the position, it does not buy it
  back (Rev. Rul. 56-602, 1956-2 C.B. 527).
- Losses are taken day by day; a day's loss shares, whichever of the day's sales, accounts or
  spouses sold them, in the order they were acquired (the ledger knows trade dates only, so the
  order within a day is never known: Treas. Reg. §1.1091-1(b)); the replacement shares in the
  order they were acquired, earliest first (§1.1091-1(c), (d)), a day's in an IRA or Roth before
  those in a taxable account (the sources are silent; docs/ledger.md). A replacement share absorbs
  at most one loss share; the loss of the shares not replaced stays deductible (Pub. 550: "the part
  of the loss that applies to the shares not replaced"). Of a purchase, the shares still held at
  the loss sale are used first, then those sold before it (by another sale of the day included).
- The disallowed loss is added to the replacement share's basis (§1091(d)); its holding period
  includes the sold share's (§1223(3)), and days held by both count once: a replacement bought
  after the sale starts the sold share's holding days before its own purchase; one bought before
  the sale starts on the sold share's start, or its own purchase if earlier.
- Only shares acquired by purchase (or a taxable exchange) replace a loss (IRC §1091(a)): inherited
  shares never do; their holding period starts more than a year before they passed (IRC §1223(9)),
  and a replacement for a loss on them takes that holding period too. Gifted shares never do
  either; a loss on them is measured from their value on the gift day where that was below the
  donor's basis, and its holding period then starts on the gift (IRC §1015(a), the draw's
  ``unadjusted`` and ``start``).
- A replacement in a tax-deferred account disallows the loss for good: nothing is added to its
  basis and its holding period is its own (Rev. Rul. 2008-5).
- Chains: a replacement share later sold at a loss is a new loss sale, with the basis it carries.
  A replacement already sold before the loss sale takes the basis in that sale; if that sale's
  own loss was deferred, the added amount follows it. A sale's shares never replace a loss that
  was itself deferred into them (that would deferral in a circle), read share by share: shares
  whose own loss reached the sale, not every share of their sale; a sale that turns into a loss
  only because of such a later addition is not washed again.

Amounts are exact fractions here; the caller rounds to cents when it stores them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from rebalancing.engine.tax import inherited_start, replacement_start
from rebalancing.engine.tax import term as holding_term
from rebalancing.engine.wash_sales import WINDOW_DAYS

_DIGITS = re.compile(r"(\d+)")


def sale_sequence(key: Hashable) -> tuple:
    """Where a sale stands among the same day's sales of the same lot: its key (the order's id, as
    "P{proposal}-{n}") with its numbers read as numbers, so the sale of proposal 99 comes before that
    of proposal 100 (as text, "P100" sorts first: the shares each takes would depend on how many
    digits the ids have)."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(str(key))))

__all__ = ["Adjustment", "Draw", "Lot", "Piece", "Replay", "household_replay", "in_window", "sale_sequence", "tacked_start"]

_ZERO = Fraction(0)


def in_window(sold: date, bought: date) -> bool:
    """Bought within 30 days before or after the sale, both ends included (Pub. 550)."""
    return abs((bought - sold).days) <= WINDOW_DAYS


def tacked_start(purchased: date, sold: date, sold_start: date) -> date:
    """Where a replacement share's holding period starts (IRC §1223(3)): it includes the sold
    share's, and days held by both count once (``engine.tax.replacement_start``, the one rule)."""
    return replacement_start(purchased, sold, sold_start)


@dataclass(frozen=True, slots=True)
class Draw:
    """The shares one sale took from a lot: ``named`` is the lot id the order named (a piece of
    the lot, e.g. ``L-1-W1``); ``proceeds`` net of fees and ``unadjusted`` (the cost before any
    wash sale) are those of these shares."""

    sale: Hashable
    sold: date
    named: str
    quantity: Decimal
    proceeds: Decimal
    unadjusted: Decimal
    start: date | None = None  # where these shares' holding period starts, when not the lot's (a gift's loss)


@dataclass(frozen=True, slots=True)
class Lot:
    """Shares bought in one purchase, in one account: the sales that took from them and what is
    held. ``held_unadjusted`` is ``None`` for shares known only from a trade record (bought, but
    not in the ledger's lots): they can replace, but have no basis here to adjust. ``inherited``:
    shares acquired from a decedent on ``purchased`` (never a replacement; held long-term from the
    start, ``engine.tax.inherited_start``); ``gifted``: received as a gift (never a replacement;
    ``purchased`` is the donor's, for the holding period) on ``received``, the day the account
    acquired the shares, by which they are matched with other lots (``acquired``)."""

    key: Hashable
    account: str
    taxable: bool
    lot_id: str
    purchased: date
    held: Decimal
    held_unadjusted: Decimal | None
    draws: tuple[Draw, ...] = ()
    inherited: bool = False
    gifted: bool = False
    received: date | None = None
    # Lots of one purchase (the fills of one order on one day, each a lot of its own): None, the
    # lot alone. They do not replace each other's loss shares (Rev. Rul. 56-602).
    purchase: Hashable | None = None

    @property
    def in_ledger(self) -> bool:
        return self.held_unadjusted is not None

    @property
    def acquired(self) -> date:
        """When the account acquired these shares: loss shares are matched with replacements "in
        the order of their acquisition" (Treas. Reg. §1.1091-1(c), (d)) - a gift's on the day it
        was received, not the donor's purchase, which only lends the holding period (§1223(2))."""
        return self.received or self.purchased


@dataclass(frozen=True, slots=True)
class Piece:
    """Shares of one lot with one history: held (``sale`` is ``None``) or sold by one draw.

    ``lot_id`` names the piece (the lot's own id, or ``{lot}-W{n}`` for replacement shares split
    off it); ``acquired`` starts the holding period; ``wash`` is the basis wash sales added;
    ``matched``/``disallowed``: loss shares a replacement absorbed and their loss; ``lost``: the
    part of ``disallowed`` replaced in a tax-deferred account.
    """

    lot: Hashable
    lot_id: str
    sale: Hashable | None
    draw: int | None
    quantity: Fraction
    proceeds: Fraction
    unadjusted: Fraction
    wash: Fraction
    acquired: date
    purchased: date
    sold: date | None
    replacement: bool
    matched: Fraction = _ZERO
    disallowed: Fraction = _ZERO
    lost: Fraction = _ZERO

    @property
    def basis(self) -> Fraction:
        return self.unadjusted + self.wash

    @property
    def gain(self) -> Fraction:
        return self.proceeds - self.basis

    @property
    def term(self) -> str | None:
        return None if self.sold is None else holding_term(self.acquired, self.sold)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """``quantity`` shares of piece ``target`` (an index into ``Replay.pieces``; ``None`` when
    the shares are known only from a trade of lot ``target_lot``) replace as many loss shares of
    piece ``source``: ``disallowed`` of its loss, ``basis_added`` to them (0 in a tax-deferred
    account), holding period moved from ``before`` to ``after``."""

    source: int
    target: int | None
    target_lot: Hashable
    quantity: Fraction
    disallowed: Fraction
    basis_added: Fraction
    before: date
    after: date


@dataclass(frozen=True, slots=True)
class Replay:
    pieces: tuple[Piece, ...]
    adjustments: tuple[Adjustment, ...]


class _Seg:
    """A run of shares ``[lo, hi)`` of one lot with the same history. ``src``: share ``lo + i``
    replaces the loss share ``src_lo + i`` of lot ``src_lot``."""

    __slots__ = ("lot", "lo", "hi", "name", "sale", "draw", "src_lot", "src_lo")

    def __init__(self, lot, lo, hi, name, sale=None, draw=None, src_lot=None, src_lo=None):
        self.lot, self.lo, self.hi, self.name = lot, lo, hi, name
        self.sale, self.draw, self.src_lot, self.src_lo = sale, draw, src_lot, src_lo

    @property
    def size(self) -> Fraction:
        return self.hi - self.lo

    def cut(self, at: Fraction) -> _Seg:
        """Split at ``at``: this keeps ``[lo, at)``, the returned one is ``[at, hi)``."""
        tail = _Seg(self.lot, at, self.hi, self.name, self.sale, self.draw, self.src_lot,
                    None if self.src_lo is None else self.src_lo + (at - self.lo))
        self.hi = at
        self.lot.segs.insert(self.lot.segs.index(self) + 1, tail)
        return tail


class _LotState:
    __slots__ = ("lot", "order", "segs", "splits", "draw_index")

    def __init__(self, lot: Lot, order: int):
        self.lot, self.order = lot, order
        total = Fraction(lot.held) + sum((Fraction(d.quantity) for d in lot.draws), _ZERO)
        self.segs: list[_Seg] = [_Seg(self, _ZERO, total, lot.lot_id)] if total > 0 else []
        self.splits = 0  # replacement pieces named {lot}-W{n} so far
        self.draw_index = {id(d): i for i, d in enumerate(lot.draws)}

    def covering(self, lo: Fraction, hi: Fraction) -> list[_Seg]:
        return [s for s in self.segs if s.lo < hi and s.hi > lo]

    def split_at(self, at: Fraction) -> None:
        for s in self.segs:
            if s.lo < at < s.hi:
                s.cut(at)
                return

    def new_name(self) -> str:
        self.splits += 1
        suffix = f"-W{self.splits}"
        return self.lot.lot_id[: 64 - len(suffix)] + suffix


class _Replayer:
    def __init__(self, lots: Iterable[Lot]):
        # The order of acquisition (Treas. Reg. §1.1091-1(c), (d)); of one day, lots in an IRA or Roth
        # first (a loss they replace is lost for good, Rev. Rul. 2008-5): the sources do not order a
        # day's purchases and the order must not hang on how accounts are numbered; this reading
        # never claims a loss or a basis the other would deny. Then the account and lot id as before
        # (until 2026-12-07 the account's id alone ordered a day's purchases in different accounts).
        ordered = sorted(lots, key=lambda lot: (lot.acquired, lot.taxable, lot.account, lot.lot_id, str(lot.key)))
        self.lots = [_LotState(lot, i) for i, lot in enumerate(ordered)]
        self.by_key = {state.lot.key: state for state in self.lots}
        if len(self.by_key) != len(self.lots):
            raise ValueError("two lots share a key")
        self.sale_rank: dict[Hashable, int] = {}  # sales in the order they were processed
        self.sale_date: dict[Hashable, date] = {}

    # -- values of shares, from the structure as it stands -------------------------------------

    def uniform(self, seg: _Seg) -> list[_Seg]:
        """Split ``seg`` so that each part replaces shares of a single run (so its shares all
        carry the same values); returns the parts."""
        if seg.src_lot is None:
            return [seg]
        lot, lo, hi, src_lo = seg.lot, seg.lo, seg.hi, seg.src_lo
        for run in seg.src_lot.covering(src_lo, src_lo + (hi - lo)):
            for boundary in (run.lo, run.hi):
                if src_lo < boundary < src_lo + (hi - lo):
                    lot.split_at(lo + (boundary - src_lo))
        return lot.covering(lo, hi)

    def source(self, seg: _Seg) -> _Seg | None:
        if seg.src_lot is None:
            return None
        [src] = seg.src_lot.covering(seg.src_lo, seg.src_lo + seg.size)
        return src

    def unadjusted_per_share(self, seg: _Seg) -> Fraction:
        lot = seg.lot.lot
        if seg.draw is not None:
            return Fraction(seg.draw.unadjusted) / Fraction(seg.draw.quantity)
        if lot.held_unadjusted is None or lot.held == 0:
            return _ZERO
        return Fraction(lot.held_unadjusted) / Fraction(lot.held)

    def proceeds_per_share(self, seg: _Seg) -> Fraction:
        return _ZERO if seg.draw is None else Fraction(seg.draw.proceeds) / Fraction(seg.draw.quantity)

    def wash_per_share(self, seg: _Seg) -> Fraction:
        src = self.source(seg)
        if src is None or not seg.lot.lot.taxable:
            return _ZERO
        return self.loss_per_share(src)

    def loss_per_share(self, seg: _Seg) -> Fraction:
        loss = self.unadjusted_per_share(seg) + self.wash_per_share(seg) - self.proceeds_per_share(seg)
        return max(loss, _ZERO)

    def start(self, seg: _Seg) -> date:
        src = self.source(seg)
        lot = seg.lot.lot
        if src is None or not lot.taxable:
            if seg.draw is not None and seg.draw.start is not None:
                return seg.draw.start
            return inherited_start(lot.purchased) if lot.inherited else lot.purchased
        return tacked_start(lot.purchased, self.sale_date[src.sale], self.start(src))

    def normalise(self) -> None:
        """Split runs until every replacement run maps onto a single loss run."""
        changed = True
        while changed:
            changed = False
            for state in self.lots:
                for seg in list(state.segs):
                    if seg.src_lot is not None and len(self.uniform(seg)) > 1:
                        changed = True

    # -- the replay ----------------------------------------------------------------------------

    def run(self) -> Replay:
        sales: dict[Hashable, list[tuple[_LotState, Draw]]] = defaultdict(list)
        for state in self.lots:
            for d in state.lot.draws:
                sales[d.sale].append((state, d))
        for draws in sales.values():
            if len({d.sold for _, d in draws}) != 1 or len({s.lot.account for s, _ in draws}) != 1:
                raise ValueError("a sale's draws must share one date and one account")
        # The sales in date order; a day's in the order of the shares they sold, then in the order
        # they were made (``sale_sequence``): the order in which a day's sales take their shares and
        # in which earlier sales' shares are offered as replacements.
        order = sorted(sales, key=lambda k: (sales[k][0][1].sold, min(s.order for s, _ in sales[k]), sale_sequence(k)))
        for rank, key in enumerate(order):
            self.sale_rank[key] = rank
            self.sale_date[key] = sales[key][0][1].sold
        day: list[Hashable] = []
        for key in order:
            if day and self.sale_date[day[0]] != self.sale_date[key]:
                self.sell(day, sales)
                day = []
            day.append(key)
        if day:
            self.sell(day, sales)
        self.normalise()
        return self.result()

    def sell(self, keys: list[Hashable], sales: dict[Hashable, list[tuple[_LotState, Draw]]]) -> None:
        """The sales of one day. The ledger knows trade dates only, so their order within the day
        is never known: Treas. Reg. §1.1091-1(b) then takes the stock disposed of at a loss "in the
        order in which they were originally acquired" - share by share across the day's sales, its
        accounts and both spouses', not one whole sale after another. Every sale takes its shares
        first; then the day's loss shares, in the order acquired, each take their replacements."""
        for key in keys:
            for state, d in sales[key]:
                self.take(state, d, key)
        realising = {key for key in keys if sales[key][0][0].lot.taxable}  # an IRA's or Roth's sale realises nothing
        states = sorted({state for key in realising for state, _ in sales[key]}, key=lambda state: state.order)
        carved: dict[Hashable, dict[_LotState, list[_Seg]]] = {key: defaultdict(list) for key in realising}
        at = (-1, _ZERO)  # the loss shares before this position have been taken
        self.normalise()
        while (loss := self.next_loss(states, realising, at)) is not None:
            at = (loss.lot.order, loss.hi)
            if self.replace(loss, loss.sale, carved[loss.sale]):
                self.normalise()  # a run cut may leave replacements of it spanning two runs
        # Replacement shares still held get a lot of their own, one per sale and purchase, unless
        # the sale took every plain share left of the purchase (then the lot keeps its id); a
        # day's sales in their order, the shares a later one of them took still counted as plain.
        # (Read from the runs as they now stand: a run carved may have been split since.)
        later = {key: set(keys[n + 1:]) for n, key in enumerate(keys)}
        for key in keys:
            for state in carved.get(key, {}):
                held = [s for s in state.segs if s.sale is None]
                replacing = {id(s): self.source(s).sale for s in held if s.src_lot is not None}
                plain_left = any(replacing.get(id(s)) in later[key] or s.src_lot is None for s in held)
                name = state.new_name() if plain_left else state.lot.lot_id
                for seg in held:
                    if replacing.get(id(seg)) == key:
                        seg.name = name
        # The held pieces as the ledger shows them after this day, so a later sale naming one (an
        # order released meanwhile names ``B-1-W1``) finds its shares: specific identification,
        # Treas. Reg. §1.1012-1(c). Until 2026-12-07 a second holding period under one id was
        # renamed only at the end of the replay, and such a sale took the first piece's shares.
        for state in self.lots:
            self.name_held(state)

    def name_held(self, state: _LotState) -> None:
        """Held shares with one id share one holding period (and are all replacements or none): a
        second run gets an id of its own, ``{lot}-W{n}``, the next one free."""
        groups: dict[tuple, list[_Seg]] = defaultdict(list)
        for seg in state.segs:
            if seg.sale is None:
                groups[(seg.name, self.start(seg), seg.src_lot is not None)].append(seg)
        used: set[str] = set()
        for (name, _start, _replacement), segs in sorted(groups.items(), key=lambda kv: kv[0][:2]):
            if name in used:
                name = state.new_name()
                for seg in segs:
                    seg.name = name
            used.add(name)

    def next_loss(self, states: list[_LotState], sales: set[Hashable], at: tuple) -> _Seg | None:
        """The first run of loss shares of ``sales`` at or after position ``at`` (a lot's order and
        a share in it): the order of acquisition (Treas. Reg. §1.1091-1(b), (c)). A loss is read
        as the shares stand now: one an earlier share of the day deferred into them counts (a
        chain); a run passed over at a gain is not washed again."""
        for state in states:
            if state.order < at[0]:
                continue
            for seg in state.segs:
                if seg.sale in sales and (state.order, seg.lo) >= at and self.loss_per_share(seg) > 0:
                    return seg
        return None

    def take(self, state: _LotState, d: Draw, key: Hashable) -> None:
        """Mark ``d.quantity`` held shares of the lot as sold by sale ``key``: the piece the order
        named first, then the others in order."""
        need = Fraction(d.quantity)
        held = [s for s in state.segs if s.sale is None]
        for seg in [s for s in held if s.name == d.named] + [s for s in held if s.name != d.named]:
            if need == 0:
                break
            if seg.size > need:
                seg.cut(seg.lo + need)
            seg.sale, seg.draw = key, d
            need -= seg.size
        if need > 0:
            raise ValueError(f"lot {state.lot.lot_id}: a sale on {d.sold} takes more shares than the lot has")

    def ancestors(self, sale: Hashable) -> dict[_LotState, list[tuple[Fraction, Fraction]]]:
        """The shares whose deferred loss reached a share ``sale`` sold, directly or through others:
        per lot, ranges of shares. Traced share by share (each share replaces at most one loss share),
        never by whole sales: a sale whose loss went into another share of an ancestor's sale does
        not feed this one, and may replace its loss."""
        reached: dict[_LotState, list[tuple[Fraction, Fraction]]] = defaultdict(list)
        todo = [(seg.lot, seg.lo, seg.hi) for state in self.lots for seg in state.segs if seg.sale == sale]
        while todo:
            state, lo, hi = todo.pop()
            for seg in state.covering(lo, hi):
                if seg.src_lot is None:
                    continue
                a, b = max(lo, seg.lo), min(hi, seg.hi)
                src = (seg.src_lot, seg.src_lo + (a - seg.lo), seg.src_lo + (b - seg.lo))
                reached[src[0]].append(src[1:])
                todo.append(src)  # the graph has no circle (this rule keeps it so): the trace ends
        return reached

    def candidates(self, sold: date, sale: Hashable) -> tuple[list[_Seg], bool]:
        """Shares that may replace a loss of ``sale``, in the order they are used: purchases in
        the order acquired; of each, the shares still held, then those sold before. Never the
        sale's own shares, nor shares whose loss reached it (a circle). Also says whether a run
        was cut (to leave out only the part of it that reached the sale)."""
        reached = self.ancestors(sale)
        out, cut = [], False
        for state in self.lots:
            if state.lot.inherited or state.lot.gifted or not in_window(sold, state.lot.purchased):
                continue  # inherited and gifted shares were not bought (IRC §1091(a))
            for lo, hi in reached.get(state, ()):
                for at in (lo, hi):
                    if any(s.lo < at < s.hi and s.src_lot is None for s in state.segs):
                        state.split_at(at)
                        cut = True
            free = [s for s in state.segs if s.src_lot is None and s.sale != sale
                    and not any(lo < s.hi and s.lo < hi for lo, hi in reached.get(state, ()))]
            out += [s for s in free if s.sale is None]
            out += sorted((s for s in free if s.sale is not None), key=lambda s: (self.sale_rank[s.sale], s.lo))
        return out, cut

    def replace(self, loss: _Seg, sale: Hashable, carved: dict[_LotState, list[_Seg]]) -> bool:
        """Match the run ``loss`` with replacement shares; says whether a run was cut."""
        need, offset = loss.size, _ZERO
        candidates, cut = self.candidates(self.sale_date[sale], sale)
        for seg in candidates:
            if need == 0:
                break
            if seg.src_lot is not None:
                continue  # taken earlier in this loop (a run split off a candidate)
            if seg.lot is loss.lot or (seg.lot.lot.purchase is not None
                                       and seg.lot.lot.purchase == loss.lot.lot.purchase):
                continue  # the rest of the loss shares' own purchase: not replacements (Rev. Rul. 56-602)
            state = seg.lot
            if seg.size > need:
                seg.cut(seg.lo + need)
                cut = True
            if seg.sale is None and state.lot.in_ledger:
                carved[state].append(seg)
            seg.src_lot, seg.src_lo = loss.lot, loss.lo + offset
            need -= seg.size
            offset += seg.size
        return cut

    # -- the answer ----------------------------------------------------------------------------

    def result(self) -> Replay:
        groups: dict[tuple, list[_Seg]] = defaultdict(list)
        for state in self.lots:
            # A chain reaching replacement shares after their day may have moved a holding period.
            self.name_held(state)
            if not state.lot.in_ledger:
                continue
            for seg in state.segs:
                draw = None if seg.draw is None else state.draw_index[id(seg.draw)]
                # A sold piece's shares are all losses or all not: a share sold at a gain is untouched
                # by §1091, and its gain must neither net against nor cap the loss disallowed on the
                # others (one row of both understated the disallowed loss and the replacement's basis).
                losing = seg.sale is not None and self.loss_per_share(seg) > 0
                groups[(state.order, seg.sale is not None, draw, seg.name, self.start(seg),
                        seg.src_lot is not None, losing)].append(seg)
        # Outgoing replacements of each loss run: (source run, target run).
        targets: dict[int, list[_Seg]] = defaultdict(list)
        for state in self.lots:
            for seg in state.segs:
                src = self.source(seg)
                if src is not None:
                    targets[id(src)].append(seg)
        pieces: list[Piece] = []
        piece_of: dict[int, int] = {}
        for (lot_order, is_sold, draw_i, name, start, replacement, _losing), segs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] if kv[0][2] is not None else -1,
                                            kv[0][3], kv[0][4], kv[0][6])
        ):
            state = self.lots[lot_order]
            matched = disallowed = lost = _ZERO
            for seg in segs:
                loss = self.loss_per_share(seg) if is_sold else _ZERO
                for target in targets.get(id(seg), ()):
                    matched += target.size
                    disallowed += target.size * loss
                    if not target.lot.lot.taxable:
                        lost += target.size * loss
            first = segs[0]
            piece = Piece(
                lot=state.lot.key, lot_id=name, sale=first.sale, draw=draw_i,
                quantity=sum((s.size for s in segs), _ZERO),
                proceeds=sum((s.size * self.proceeds_per_share(s) for s in segs), _ZERO),
                unadjusted=sum((s.size * self.unadjusted_per_share(s) for s in segs), _ZERO),
                wash=sum((s.size * self.wash_per_share(s) for s in segs), _ZERO),
                acquired=start, purchased=state.lot.purchased,
                sold=self.sale_date[first.sale] if is_sold else None, replacement=replacement,
                matched=matched, disallowed=disallowed, lost=lost,
            )
            for seg in segs:
                piece_of[id(seg)] = len(pieces)
            pieces.append(piece)
        adjustments: dict[tuple, list] = {}
        for state in self.lots:
            for seg in state.segs:
                src = self.source(seg)
                if src is None:
                    continue
                loss = self.loss_per_share(src)
                key = (piece_of[id(src)], piece_of.get(id(seg)), state.order)
                entry = adjustments.setdefault(key, [_ZERO, _ZERO, _ZERO, seg])
                entry[0] += seg.size
                entry[1] += seg.size * loss
                entry[2] += seg.size * loss if state.lot.taxable else _ZERO
        out = [
            Adjustment(source=source, target=target, target_lot=self.lots[lot_order].lot.key, quantity=q,
                       disallowed=dis, basis_added=added, before=self.lots[lot_order].lot.purchased,
                       after=self.start(seg))
            for (source, target, lot_order), (q, dis, added, seg) in sorted(
                adjustments.items(), key=lambda kv: (kv[0][0], kv[0][2], -1 if kv[0][1] is None else kv[0][1]))
        ]
        return Replay(tuple(pieces), tuple(out))


def household_replay(lots: Iterable[Lot]) -> Replay:
    """Every wash sale among the lots of one equivalence group in one household, and the pieces
    (held shares and sales) with their basis, holding period and disallowed losses.

    ``lots`` hold the whole history: each lot's draws are the sales that took from it. Raises
    ``ValueError`` for a history that cannot be (a sale taking more shares than its lot had)."""
    return _Replayer(lots).run()
