"""A simulated taxable account: share-exact tax lots, realised gains by year, the wash-sale rule.

Every strategy trades through the same account, so every strategy is held to the same rules:

- holding period (IRC §1222, Pub. 550): a sale is long-term when the lot was held more than a year
  (``rebalancing.engine.tax.is_long_term``, the engine's own rule);
- wash sales (IRC §1091, Treas. Reg. §1.1091-1, Pub. 550): a loss is disallowed to the extent
  shares of the same security are bought within 30 days before or after the sale; shares of the
  loss shares' own purchase, sold with them or kept, are not replacements (Rev. Rul. 56-602: selling
  part of a lot bought in the window reduces the position, it does not buy it back; the ledger's
  rule, ``rebalancing.ledger.wash_sales``).  Loss sales are taken in the order they were made and
  each is matched with replacement shares in the order those were bought, earliest first
  (§1.1091-1(b), (c)); a share that replaced one loss is disregarded for any other (§1.1091-1(d)).
  The regulation does not order the loss sales of one day: here they are matched in the order the
  sold shares were bought (their purchase, then their place in it, as the ledger takes them), so the
  outcome does not depend on the order of the day's orders - the day's loss sales are matched
  together once the day's trading is read or a later day trades, and a read followed by more
  trades that day is undone first (what the account shows never depends on when it is read).
  Purchases of one day replace in the order made, those in the household's IRA or Roth first
  (the ledger's rule, docs/ledger.md: the sources are silent within a day; this reading never
  claims a loss or a basis the other would deny).  The disallowed loss is added to
  the replacement shares' basis (§1091(d)) and the sold shares' holding period to theirs
  (§1223(3)); shares of the purchase still held take it first.  A replacement found after the
  sale reduces the sale's loss in the year of the sale.  When the replacement shares were already
  sold (bought in the 30 days before the loss sale and sold again, or sold the same day), their
  sale is corrected where it was reported: its basis carries the disallowed loss and its term
  follows the tacked holding period, in the year of that sale (an amended year is settled as a
  difference at the next settlement, ``simulation``/``household``).  A purchase in the household's
  IRA or Roth (``buy_elsewhere``) washes a loss like any other and the loss is lost for good: the
  IRA's basis does not take it (Rev. Rul. 2008-5).  Only the same symbol counts as substantially
  identical here: the backtest universe holds no equivalent funds.
- two limits, counted in ``SimAccount.approximations``: when such a correction hits a sale that was
  itself at a loss, or turns it into a loss that a purchase within 30 days of it could wash, that
  sale's own wash sale is not replayed with the larger loss (the extra loss stays allowed, in the
  tacked term); and an IRA or Roth purchase made after shares bought the same day were sold that
  day (their purchase was then matched first), when a taxable purchase of the day had already
  replaced a loss of the days before, is taken after it.  Never met in the bundled backtests.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from rebalancing.engine.tax import is_long_term, replacement_start, term
from rebalancing.engine.wash_sales import WINDOW_DAYS

from .errors import BacktestError

__all__ = ["Lot", "Execution", "SimAccount"]

# Share quantities below this are float noise (the engine reports shares to 6 decimals).
SHARE_EPS = 1e-7


@dataclass(slots=True)
class Lot:
    """Shares held: ``basis`` is the lot's total cost (disallowed losses added), ``acquired`` the
    start of its holding period (tacked for replacement shares), ``purchase`` the buy it came from."""

    id: str
    symbol: str
    quantity: float
    basis: float
    acquired: date
    purchase: int
    replacement: bool = False  # these shares already replaced a loss sale's (a wash sale)
    # Where these shares stand among their purchase's (the first is 0): sales and replacements
    # take a purchase's shares front first, so a lot is one run of them, as in the ledger's replay.
    position: float = 0.0


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill: a purchase, or a sale from one lot with its realised gain (before any wash-sale
    disallowance, which ``SimAccount.wash_sales`` records)."""

    day: date
    symbol: str
    side: str
    quantity: float
    price: float
    lot_id: str
    gain: float = 0.0
    term: str = ""


@dataclass(slots=True)
class _SoldPart:
    """Shares of a purchase sold while not (yet) replacement shares: a later loss sale within 30 days
    of their purchase can still match them, which corrects this sale."""

    day: date
    quantity: float  # of these shares, not yet matched as replacement shares
    gain_per_share: float
    acquired: date  # holding-period start when sold
    term: str


@dataclass(slots=True)
class _Purchase:
    day: date
    symbol: str
    quantity: float
    unused: float  # shares not yet matched as replacement shares
    outside: bool = False  # bought in the household's IRA or Roth: no lot here (Rev. Rul. 2008-5)
    sold: list[_SoldPart] = field(default_factory=list)


@dataclass(slots=True)
class _LossSale:
    day: date
    symbol: str
    unmatched: float
    loss_per_share: float
    acquired: date
    term: str
    excluded: int  # the purchase the sold shares came from
    position: float = 0.0  # where the sold shares stood among their purchase's (``Lot.position``)
    washed: bool = False

    @property
    def order(self) -> tuple:
        """Among one day's loss sales: the order the sold shares were acquired (§1.1091-1(b)), and
        of one purchase's, their place in it - the ledger's rule (``ledger.wash_sales``: loss
        shares by their position in the lot), whatever wash adjustment or holding period each
        carries. (Until 2026-12-07 one purchase's were taken lowest basis per share first.)"""
        return (self.excluded, self.position)


@dataclass(slots=True)
class WashSale:
    """A loss sale (some of) whose loss was disallowed."""

    day: date
    symbol: str
    disallowed: float


@dataclass(slots=True)
class SimAccount:
    """The account's cash, lots, fills, realised results by tax year and wash sales."""

    cash: float
    _lots: dict[str, Lot] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    _realised: dict[int, list[float]] = field(default_factory=dict)  # year -> [short, long]
    _wash_sales: list[WashSale] = field(default_factory=list)
    _purchases: list[_Purchase] = field(default_factory=list)
    _loss_sales: list[_LossSale] = field(default_factory=list)  # matched, awaiting later purchases
    _today: list[_LossSale] = field(default_factory=list)  # the day's loss sales, not yet matched
    _today_buys: list[int] = field(default_factory=list)  # the day's purchases, not yet matched
    _open: date | None = None  # the day of the trades not yet matched
    _undo: tuple | None = None  # the state before a read matched the open day (``_settle``)
    # Symbols whose taxable purchases of the open day replaced before an IRA purchase could (a share
    # bought and sold the same day, ``_sell_one``): a later IRA purchase that day is approximate.
    _flushed: set[str] = field(default_factory=set)
    _purchase_of: dict[str, int] = field(default_factory=dict)
    _next_lot: int = 0
    _outside_washes: set[tuple[date, str]] = field(default_factory=set)
    approximations: int = 0  # corrections whose own wash sale was not replayed (module docstring)

    # -- reading (the day's loss sales are matched first) ---------------------------------------
    @property
    def lots(self) -> dict[str, Lot]:
        self._settle()
        return self._lots

    @property
    def realised(self) -> dict[int, list[float]]:
        self._settle()
        return self._realised

    @property
    def wash_sales(self) -> list[WashSale]:
        self._settle()
        return self._wash_sales

    @property
    def outside_washes(self) -> int:
        """Loss sales (a day and symbol) washed by an IRA or Roth purchase (``buy_elsewhere``)."""
        self._settle()
        return len(self._outside_washes)

    def quantities(self, symbols: tuple[str, ...]) -> list[float]:
        """Shares held of each symbol, in the given order."""
        held = dict.fromkeys(symbols, 0.0)
        for lot in self._lots.values():
            held[lot.symbol] += lot.quantity
        return [held[s] for s in symbols]

    def recent(self, day: date, days: int = WINDOW_DAYS) -> Iterator[Execution]:
        """Fills of the last ``days`` days up to ``day`` (inclusive)."""
        start = day - timedelta(days=days)
        for e in reversed(self.executions):
            if e.day < start:
                break
            yield e

    def symbol_of(self, lot_id: str) -> str | None:
        """The symbol of a held lot (also under the id it had before a wash-sale split)."""
        part = next(self._family(lot_id), None)
        return self._lots[part].symbol if part else None

    def year(self, year: int) -> list[float]:
        """Realised [short-term, long-term] net gains of ``year`` so far."""
        self._settle()
        return self._year(year)

    def _year(self, year: int) -> list[float]:
        return self._realised.setdefault(year, [0.0, 0.0])

    def liquidated(self, prices: dict[str, float], day: date) -> SimAccount:
        """A copy of the account with every lot sold at ``prices`` on ``day``: the same rules as any
        sale (a loss washed by a purchase of the last 30 days moves to the replacement shares, sold
        in the same liquidation with the tacked holding period, §1091(d), §1223(3))."""
        out = copy.deepcopy(self)
        out._new_day(day)
        out._match_buys()  # shares bought today are sold too: matched as bought first (``sell``)
        for lot_id in list(out._lots):
            lot = out._lots.get(lot_id)
            if lot is not None and lot.quantity > 0:
                out._sell_one(lot_id, lot.quantity, prices[lot.symbol], day)
        out._match_today()
        return out

    # -- trading -------------------------------------------------------------------------------
    def buy(self, symbol: str, quantity: float, price: float, day: date) -> Lot | None:
        """Buy ``quantity`` shares at ``price``; returns the new lot (None for a zero quantity)."""
        if not quantity > SHARE_EPS:
            return None
        self._new_day(day)
        self.cash -= quantity * price
        self._purchases.append(_Purchase(day, symbol, quantity, quantity))
        purchase = len(self._purchases) - 1
        lot = self._new_lot(symbol, quantity, quantity * price, day, purchase)
        self.executions.append(Execution(day, symbol, "buy", quantity, price, lot.id))
        self._today_buys.append(purchase)
        return lot

    def buy_elsewhere(self, symbol: str, quantity: float, day: date) -> None:
        """Shares of ``symbol`` bought in the household's IRA or Roth: replacement shares for this
        account's loss sales like its own purchases, the loss disallowed for good (Rev. Rul. 2008-5)."""
        if not quantity > SHARE_EPS:
            return
        self._new_day(day)
        if symbol in self._flushed:
            self.approximations += 1  # taken after the day's taxable purchases (module docstring)
        self._purchases.append(_Purchase(day, symbol, quantity, quantity, outside=True))
        self._today_buys.append(len(self._purchases) - 1)

    def _replace_earlier(self, purchase: int) -> bool:
        """Match a purchase with the loss sales of the 30 days before still unmatched, in the order
        they were made (§1.1091-1(c)); says whether it replaced any."""
        p = self._purchases[purchase]
        day, symbol = p.day, p.symbol
        replaced = False
        for sale in self._loss_sales:
            if sale.symbol != symbol or sale.unmatched <= SHARE_EPS or (day - sale.day).days > WINDOW_DAYS:
                continue
            left = self._purchases[purchase].unused
            matched = min(sale.unmatched, left)
            if matched <= SHARE_EPS:
                break
            sale.unmatched -= matched
            self._purchases[purchase].unused -= matched
            disallowed = matched * sale.loss_per_share
            self._record_wash(sale, disallowed, p.outside)
            # The sale's year loses that loss (a correction when that year is already settled).
            self._year(sale.day.year)[sale.term == "long"] += disallowed
            self._adjust_replacement(purchase, matched, disallowed, sale)
            replaced = True
        return replaced

    def sell(self, lot_id: str, quantity: float, price: float, day: date) -> float:
        """Sell ``quantity`` shares of a lot at ``price``; returns the realised gain (before any
        wash-sale disallowance).

        A lot split by the wash-sale rule earlier in the same decision (its replacement shares
        became a lot of their own) is still sold under its original id.
        """
        if quantity < 0 or not math.isfinite(quantity):
            raise BacktestError(f"cannot sell {quantity} shares of lot {lot_id}")
        self._new_day(day)
        if self._purchase_of.get(lot_id) in self._today_buys:
            # Shares bought today and sold today: the day's purchases replace the loss sales of the
            # days before as bought, before the day's sales take shares (the ledger's replay).
            self._match_buys()
        gain, left = 0.0, quantity
        while left > SHARE_EPS * max(1.0, quantity):
            part = next(self._family(lot_id), None)
            if part is None:
                if left == quantity:
                    raise BacktestError(f"unknown lot {lot_id}")
                raise BacktestError(
                    f"cannot sell {quantity} shares of lot {lot_id}: {left} more than it held"
                )
            lot = self._lots[part]
            take = min(left, lot.quantity)
            if left - take <= SHARE_EPS * max(1.0, quantity):
                take = left if left <= lot.quantity * (1 + SHARE_EPS) else take
            gain += self._sell_one(part, take, price, day)
            left -= take
        return gain

    def _family(self, lot_id: str) -> Iterator[str]:
        """The lot itself, then the held lots split off the same purchase (wash-sale splits)."""
        if lot_id in self._lots:
            yield lot_id
        purchase = self._purchase_of.get(lot_id)
        if purchase is None:
            return
        # The others in the order of their shares in the purchase, as the ledger takes them.
        family = [lot for lot in self._lots.values() if lot.purchase == purchase and lot.id != lot_id]
        for lot in sorted(family, key=lambda lot: lot.position):
            yield lot.id

    def _sell_one(self, lot_id: str, quantity: float, price: float, day: date) -> float:
        lot = self._lots.get(lot_id)
        if lot is None:
            raise BacktestError(f"unknown lot {lot_id}")
        if quantity > lot.quantity + SHARE_EPS * max(1.0, lot.quantity) or quantity < 0:
            raise BacktestError(f"cannot sell {quantity} shares of lot {lot_id}, which holds {lot.quantity}")
        quantity = min(quantity, lot.quantity)
        if quantity <= SHARE_EPS:
            return 0.0
        basis = lot.basis * quantity / lot.quantity
        proceeds = quantity * price
        gain = proceeds - basis
        if abs(gain) < 1e-9 * max(basis, 1.0):
            gain = 0.0  # float noise is no loss
        held = "long" if is_long_term(lot.acquired, day) else "short"
        position = lot.position  # a sale takes the lot's front shares
        lot.position += quantity
        lot.quantity -= quantity
        lot.basis -= basis
        if lot.quantity <= SHARE_EPS:
            del self._lots[lot_id]
        self.cash += proceeds
        self.executions.append(Execution(day, lot.symbol, "sell", quantity, price, lot_id, gain, held))
        self._year(day.year)[held == "long"] += gain
        if not lot.replacement:
            # Still shares of their purchase that a later loss sale may match (§1.1091-1(c)).
            self._purchases[lot.purchase].sold.append(_SoldPart(day, quantity, gain / quantity, lot.acquired, held))
        if gain < 0:
            self._today.append(
                _LossSale(day, lot.symbol, quantity, -gain / quantity, lot.acquired, held, lot.purchase, position)
            )
        return gain

    # -- the wash-sale rule ----------------------------------------------------------------------
    def _new_day(self, day: date) -> None:
        """A trade on ``day``: the trades of an earlier day are matched first; a read that matched
        this day's so far is undone, so that they are matched again together with this one."""
        if self._undo is not None:
            if self._undo[0] == day:
                self._restore(self._undo)
            self._undo = None
        if self._open != day:
            if self._today or self._today_buys:
                self._match_today()
            self._flushed = set()
        self._open = day

    def _settle(self) -> None:
        """Match the open day's trades for a read. The day's loss sales are matched together (module
        docstring), so a trade later the same day must be matched with them: the state before is
        kept (``_new_day`` goes back to it), and what a read shows never depends on when it is made.
        (Until 2026-12-07 a read between two sales of a day matched the first alone.)"""
        if not self._today and not self._pending_buys_match():
            self._today_buys = []  # nothing to match: nothing to undo
            return
        self._undo = self._snapshot()
        self._match_today()

    def _pending_buys_match(self) -> bool:
        symbols = {self._purchases[p].symbol for p in self._today_buys}
        return any(s.symbol in symbols and s.unmatched > SHARE_EPS for s in self._loss_sales)

    def _snapshot(self) -> tuple:
        """What matching the open day can change: the lots, the results, the wash sales, the loss
        sales and the purchases of the window (older ones are never replacements again)."""
        cut = self._open - timedelta(days=WINDOW_DAYS + 1)
        recent = {i: p for i, p in enumerate(self._purchases) if p.day >= cut}
        state = (self._lots, self._realised, self._wash_sales, recent, self._loss_sales, self._today,
                 self._today_buys, self._outside_washes, self._flushed)
        return (self._open, copy.deepcopy(state), self.approximations, self._next_lot)

    def _restore(self, undo: tuple) -> None:
        _day, state, self.approximations, next_lot = undo
        (self._lots, self._realised, self._wash_sales, recent, self._loss_sales, self._today,
         self._today_buys, self._outside_washes, self._flushed) = state
        for i, purchase in recent.items():
            self._purchases[i] = purchase
        for n in range(next_lot + 1, self._next_lot + 1):
            self._purchase_of.pop(f"L{n}", None)
        self._next_lot = next_lot

    def _match_today(self) -> None:
        """Match the open day's trades: its purchases with the loss sales of the 30 days before,
        then its loss sales, in the order the sold shares were bought (module docstring)."""
        self._match_buys()
        today, self._today = sorted(self._today, key=lambda s: s.order), []
        for sale in today:
            self._loss_sale(sale)

    def _match_buys(self) -> None:
        """The open day's purchases (so far) with the loss sales of the 30 days before."""
        buys, self._today_buys = sorted(self._today_buys, key=self._purchase_order), []
        for purchase in buys:
            if self._replace_earlier(purchase) and not self._purchases[purchase].outside:
                self._flushed.add(self._purchases[purchase].symbol)

    def _purchase_order(self, purchase: int) -> tuple:
        """Replacement shares in the order acquired (§1.1091-1(c), (d)); of one day, those bought in
        an IRA or Roth first, the loss lost for good (Rev. Rul. 2008-5): the sources do not order a
        day's purchases, and this reading never claims a loss or a basis the other would deny (the
        ledger's rule, ``ledger.wash_sales``; docs/ledger.md). Then in the order made."""
        p = self._purchases[purchase]
        return (p.day, not p.outside, purchase)

    def _loss_sale(self, sale: _LossSale) -> None:
        day, loss_per_share, term = sale.day, sale.loss_per_share, sale.term
        start = day - timedelta(days=WINDOW_DAYS)
        # Shares bought in the 30 days before the sale, oldest first (not the sold shares' purchase).
        window = [
            p for p, purchase in enumerate(self._purchases)
            if purchase.symbol == sale.symbol and start <= purchase.day <= day and purchase.unused > SHARE_EPS
        ]
        for p in sorted(window, key=self._purchase_order):
            purchase = self._purchases[p]
            if p == sale.excluded:
                continue  # the loss shares' own purchase: not a replacement (Rev. Rul. 56-602)
            matched = min(sale.unmatched, purchase.unused)
            if matched <= SHARE_EPS:
                continue
            sale.unmatched -= matched
            purchase.unused -= matched
            disallowed = matched * loss_per_share
            self._record_wash(sale, disallowed, purchase.outside)
            self._year(day.year)[term == "long"] += disallowed
            self._adjust_replacement(p, matched, disallowed, sale)
            if sale.unmatched <= SHARE_EPS:
                break
        # Purchases in the next 30 days may still match what is left.
        if sale.unmatched > SHARE_EPS:
            self._loss_sales.append(sale)
        cutoff = day - timedelta(days=WINDOW_DAYS + 1)
        self._loss_sales = [s for s in self._loss_sales if s.day >= cutoff and s.unmatched > SHARE_EPS]

    def _record_wash(self, sale: _LossSale, disallowed: float, outside: bool) -> None:
        if outside:
            self._outside_washes.add((sale.day, sale.symbol))
        if sale.washed:
            last = next(w for w in reversed(self._wash_sales) if w.day == sale.day and w.symbol == sale.symbol)
            last.disallowed += disallowed
            return
        sale.washed = True
        self._wash_sales.append(WashSale(sale.day, sale.symbol, disallowed))

    def _adjust_replacement(self, purchase: int, shares: float, disallowed: float, sale: _LossSale) -> None:
        """Add the disallowed loss to the basis of ``shares`` replacement shares of ``purchase``:
        the shares still held first (split off as their own lot with the tacked holding period),
        then those already sold, earliest sale first, whose sale is corrected in its own year."""
        p = self._purchases[purchase]
        if p.outside:
            return  # an IRA or Roth purchase: the loss is lost, its basis unchanged (Rev. Rul. 2008-5)
        # IRC §1223(3), the engine's rule (a replacement bought before the sale starts where the
        # sold shares did; before 2026-12-04 that case counted the overlapping days twice).
        tacked = replacement_start(p.day, sale.day, sale.acquired)
        left = shares
        # Shares that already replaced another loss sale's are spent; the rest of the purchase
        # still held takes the adjustment.
        for lot in [lot for lot in self._lots.values() if lot.purchase == purchase and not lot.replacement]:
            take = min(left, lot.quantity)
            if take <= SHARE_EPS:
                continue
            part = take / lot.quantity
            basis = lot.basis * part
            lot.quantity -= take
            lot.basis -= basis
            if lot.quantity <= SHARE_EPS:
                del self._lots[lot.id]
            # The front shares of the lot, as the ledger's replay takes them.
            piece = self._new_lot(lot.symbol, take, basis + disallowed * take / shares, tacked, purchase)
            piece.replacement, piece.position = True, lot.position
            lot.position += take
            left -= take
        # Replacement shares sold before the match (bought in the 30 days before the loss sale and
        # sold again, or sold the same day): §1091(d) adds the loss to the basis they were sold
        # with and §1223(3) the holding period, so that sale's result and term are corrected in
        # the year it was made (2026-12-06; before, the loss came back short-term in the loss
        # sale's year).
        for sold in p.sold:
            if left <= SHARE_EPS:
                break
            take = min(left, sold.quantity)
            if take <= SHARE_EPS:
                continue
            sold.quantity -= take
            left -= take
            year = self._year(sold.day.year)
            was = sold.gain_per_share * take
            now = was - disallowed * take / shares
            year[sold.term == "long"] -= was
            year[term(tacked, sold.day) == "long"] += now
            if was < 0 or (now < 0 and self._window_has_purchase(p.symbol, sold.day, purchase)):
                self.approximations += 1  # its own wash sale is not replayed (module docstring)
        p.sold = [part for part in p.sold if part.quantity > SHARE_EPS]
        if left > 1e-6 * max(1.0, shares):
            raise BacktestError(f"{left} replacement shares of purchase {purchase} are neither held nor sold")

    def _window_has_purchase(self, symbol: str, day: date, own: int) -> bool:
        return any(
            q.symbol == symbol and k != own and abs((q.day - day).days) <= WINDOW_DAYS
            for k, q in enumerate(self._purchases)
        )

    def _new_lot(self, symbol: str, quantity: float, basis: float, acquired: date, purchase: int) -> Lot:
        self._next_lot += 1
        lot = Lot(f"L{self._next_lot}", symbol, quantity, basis, acquired, purchase)
        self._lots[lot.id] = lot
        self._purchase_of[lot.id] = purchase
        return lot
