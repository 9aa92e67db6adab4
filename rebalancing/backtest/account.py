"""A simulated taxable account: share-exact tax lots, realised gains by year, the wash-sale rule.

Every strategy trades through the same account, so every strategy is held to the same rules:

- holding period (IRC §1222, Pub. 550): a sale is long-term when the lot was held more than a year
  (``rebalancing.engine.tax.is_long_term``, the engine's own rule);
- wash sales (IRC §1091, Treas. Reg. §1.1091-1, Pub. 550): a loss is disallowed to the extent
  shares of the same security are bought within 30 days before or after the sale; shares of the
  loss shares' own purchase, sold with them or kept, are not replacements (Rev. Rul. 56-602: selling
  part of a lot bought in the window reduces the position, it does not buy it back; the ledger's
  rule, ``rebalancing.ledger.wash_sales``).  Replacement shares are matched in the order they were bought;
  the disallowed loss is added to their basis (§1091(d)) and the sold shares' holding period is
  added to theirs (§1223(3)).  A replacement found after the sale reduces the sale's loss in the
  year of the sale; when the replacement shares were already sold, the disallowed loss reduces
  that earlier sale's gain instead (booked when found).  Only the same symbol counts as
  substantially identical here: the backtest universe holds no equivalent funds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from rebalancing.engine.tax import is_long_term, replacement_start
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
class _Purchase:
    day: date
    symbol: str
    quantity: float
    unused: float  # shares not yet matched as replacement shares


@dataclass(slots=True)
class _LossSale:
    day: date
    symbol: str
    unmatched: float
    loss_per_share: float
    acquired: date
    term: str
    excluded: int  # the purchase the sold shares came from
    washed: bool = False


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
    lots: dict[str, Lot] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    realised: dict[int, list[float]] = field(default_factory=dict)  # year -> [short, long]
    wash_sales: list[WashSale] = field(default_factory=list)
    _purchases: list[_Purchase] = field(default_factory=list)
    _loss_sales: list[_LossSale] = field(default_factory=list)
    _purchase_of: dict[str, int] = field(default_factory=dict)
    _next_lot: int = 0

    # -- reading -------------------------------------------------------------------------------
    def quantities(self, symbols: tuple[str, ...]) -> list[float]:
        """Shares held of each symbol, in the given order."""
        held = dict.fromkeys(symbols, 0.0)
        for lot in self.lots.values():
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
        return self.lots[part].symbol if part else None

    def year(self, year: int) -> list[float]:
        """Realised [short-term, long-term] net gains of ``year`` so far."""
        return self.realised.setdefault(year, [0.0, 0.0])

    # -- trading -------------------------------------------------------------------------------
    def buy(self, symbol: str, quantity: float, price: float, day: date) -> Lot | None:
        """Buy ``quantity`` shares at ``price``; returns the new lot (None for a zero quantity)."""
        if not quantity > SHARE_EPS:
            return None
        self.cash -= quantity * price
        self._purchases.append(_Purchase(day, symbol, quantity, quantity))
        purchase = len(self._purchases) - 1
        lot = self._new_lot(symbol, quantity, quantity * price, day, purchase)
        self.executions.append(Execution(day, symbol, "buy", quantity, price, lot.id))
        # Earlier loss sales (within 30 days) for which these shares are replacement shares.
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
            self._record_wash(sale, disallowed)
            # The sale's year loses that loss (a correction when that year is already settled).
            self.year(sale.day.year)[sale.term == "long"] += disallowed
            self._adjust_replacement(purchase, matched, disallowed, sale)
        return lot

    def sell(self, lot_id: str, quantity: float, price: float, day: date) -> float:
        """Sell ``quantity`` shares of a lot at ``price``; returns the realised gain (before any
        wash-sale disallowance).

        A lot split by the wash-sale rule earlier in the same decision (its replacement shares
        became a lot of their own) is still sold under its original id.
        """
        if quantity < 0 or not math.isfinite(quantity):
            raise BacktestError(f"cannot sell {quantity} shares of lot {lot_id}")
        gain, left = 0.0, quantity
        while left > SHARE_EPS * max(1.0, quantity):
            part = next(self._family(lot_id), None)
            if part is None:
                if left == quantity:
                    raise BacktestError(f"unknown lot {lot_id}")
                raise BacktestError(
                    f"cannot sell {quantity} shares of lot {lot_id}: {left} more than it held"
                )
            lot = self.lots[part]
            take = min(left, lot.quantity)
            if left - take <= SHARE_EPS * max(1.0, quantity):
                take = left if left <= lot.quantity * (1 + SHARE_EPS) else take
            gain += self._sell_one(part, take, price, day)
            left -= take
        return gain

    def _family(self, lot_id: str) -> Iterator[str]:
        """The lot itself, then the held lots split off the same purchase (wash-sale splits)."""
        if lot_id in self.lots:
            yield lot_id
        purchase = self._purchase_of.get(lot_id)
        if purchase is None:
            return
        for lot in self.lots.values():
            if lot.purchase == purchase and lot.id != lot_id:
                yield lot.id

    def _sell_one(self, lot_id: str, quantity: float, price: float, day: date) -> float:
        lot = self.lots.get(lot_id)
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
        term = "long" if is_long_term(lot.acquired, day) else "short"
        lot.quantity -= quantity
        lot.basis -= basis
        if lot.quantity <= SHARE_EPS:
            del self.lots[lot_id]
        self.cash += proceeds
        self.executions.append(Execution(day, lot.symbol, "sell", quantity, price, lot_id, gain, term))
        self.year(day.year)[term == "long"] += gain
        if gain < 0:
            self._loss_sale(lot, quantity, -gain / quantity, day, term)
        return gain

    # -- the wash-sale rule ----------------------------------------------------------------------
    def _loss_sale(self, lot: Lot, quantity: float, loss_per_share: float, day: date, term: str) -> None:
        sale = _LossSale(day, lot.symbol, quantity, loss_per_share, lot.acquired, term, lot.purchase)
        start = day - timedelta(days=WINDOW_DAYS)
        # Shares bought in the 30 days before the sale, oldest first (not the sold shares' purchase).
        for p, purchase in enumerate(self._purchases):
            if (
                purchase.symbol != lot.symbol
                or not start <= purchase.day <= day
                or purchase.unused <= SHARE_EPS
            ):
                continue
            if p == lot.purchase:
                continue  # the loss shares' own purchase: not a replacement (Rev. Rul. 56-602)
            matched = min(sale.unmatched, purchase.unused)
            if matched <= SHARE_EPS:
                continue
            sale.unmatched -= matched
            purchase.unused -= matched
            disallowed = matched * loss_per_share
            self._record_wash(sale, disallowed)
            self.year(day.year)[term == "long"] += disallowed
            self._adjust_replacement(p, matched, disallowed, sale)
            if sale.unmatched <= SHARE_EPS:
                break
        # Purchases in the next 30 days may still match what is left.
        if sale.unmatched > SHARE_EPS:
            self._loss_sales.append(sale)
        cutoff = day - timedelta(days=WINDOW_DAYS + 1)
        self._loss_sales = [s for s in self._loss_sales if s.day >= cutoff and s.unmatched > SHARE_EPS]

    def _record_wash(self, sale: _LossSale, disallowed: float) -> None:
        if sale.washed:
            last = next(w for w in reversed(self.wash_sales) if w.day == sale.day and w.symbol == sale.symbol)
            last.disallowed += disallowed
            return
        sale.washed = True
        self.wash_sales.append(WashSale(sale.day, sale.symbol, disallowed))

    def _adjust_replacement(self, purchase: int, shares: float, disallowed: float, sale: _LossSale) -> None:
        """Add the disallowed loss to the basis of ``shares`` replacement shares of ``purchase``
        still held (split off as their own lot with the tacked holding period); what was already
        sold reduces the gain realised on it, now."""
        # IRC §1223(3), the engine's rule (a replacement bought before the sale starts where the
        # sold shares did; before 2026-12-04 that case counted the overlapping days twice).
        tacked = replacement_start(self._purchases[purchase].day, sale.day, sale.acquired)
        left = shares
        # Shares that already replaced another loss sale's are spent; the rest of the purchase
        # still held takes the adjustment.
        for lot in [lot for lot in self.lots.values() if lot.purchase == purchase and not lot.replacement]:
            take = min(left, lot.quantity)
            if take <= SHARE_EPS:
                continue
            part = take / lot.quantity
            basis = lot.basis * part
            lot.quantity -= take
            lot.basis -= basis
            if lot.quantity <= SHARE_EPS:
                del self.lots[lot.id]
            self._new_lot(
                lot.symbol, take, basis + disallowed * take / shares, tacked, purchase
            ).replacement = True
            left -= take
        if left > SHARE_EPS:
            self.year(sale.day.year)[0] -= disallowed * left / shares

    def _new_lot(self, symbol: str, quantity: float, basis: float, acquired: date, purchase: int) -> Lot:
        self._next_lot += 1
        lot = Lot(f"L{self._next_lot}", symbol, quantity, basis, acquired, purchase)
        self.lots[lot.id] = lot
        self._purchase_of[lot.id] = purchase
        return lot
