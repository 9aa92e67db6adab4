"""Wash-sale rules (IRC §1091, IRS Publication 550 "Wash Sales").

A loss is disallowed when substantially identical securities are bought within 30 days before or
after the sale.  Here "substantially identical" means the same symbol or a configured group of
equivalents, and the window is household-wide: purchases in any account of the household,
tax-deferred ones included, count.

The engine never *creates* a wash sale:
- a group with a loss sale in the last 30 days may not be bought (the buy would disallow it);
- a group bought in the last 30 days may not be sold at a loss (the loss would be disallowed);
- within one proposal a group is either bought or sold at a loss, never both.
Only ``WashSaleParams.allow`` lifts the first two, and the disallowed amount is then reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from .money import cents
from .parameters import WashSaleParams
from .request import HouseholdTrade, LotTable, TaxLot
from .result import Alert
from .words import dollars

__all__ = [
    "WINDOW_DAYS",
    "Equivalence",
    "WindowActivity",
    "WindowPurchase",
    "window_activity",
    "told_by",
    "latest_loss_sales",
    "buyable_on",
    "harvestable_on",
    "find_violations",
    "disallowed_alert",
    "washing_purchase_alert",
]

WINDOW_DAYS = 30


class Equivalence:
    """Maps each symbol to its group of substantially identical securities."""

    __slots__ = ("_group",)

    def __init__(self, groups: Iterable[Iterable[str]] = ()):
        self._group: dict[str, str] = {}
        for group in groups:
            members = sorted(set(group))
            if not members:
                continue
            # Chained groups (A~B, B~C) merge into one: identity is transitive for the rule.
            key = next((self._group[m] for m in members if m in self._group), members[0])
            for m in members:
                old = self._group.get(m)
                if old is not None and old != key:
                    for s, g in list(self._group.items()):
                        if g == old:
                            self._group[s] = key
                self._group[m] = key

    def group(self, symbol: str) -> str:
        """The group key of ``symbol`` (the symbol itself when it has no configured equivalents)."""
        return self._group.get(symbol, symbol)

    def groups(self, symbols: Sequence[str]) -> list[str]:
        """``[group(s) for s in symbols]``, in one C loop (a direct index has hundreds)."""
        return list(map(self._group.get, symbols, symbols))

    def members(self, symbol: str) -> set[str]:
        """The configured members of ``symbol``'s group, including ``symbol``."""
        key = self.group(symbol)
        return {s for s, g in self._group.items() if g == key} | {symbol}


@dataclass(frozen=True, slots=True)
class WindowPurchase:
    """One purchase of the window, as the ledger's replay knows it (a ``ledger.wash_sales.Lot``):
    ``order`` sorts purchases as the replay does - the day bought, the account, the lot id (the
    told lots' smallest; "" for a trade that tells no lot of the account, whose id the engine is
    not given) - and ``lots`` are the ids of the account's own lots that are its shares (a lot
    bought in the window, or the lots a buy trade of the account tells of)."""

    group: str
    order: tuple[int, str, str]
    shares: float
    lots: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowActivity:
    """What happened in the household in the 30 days before the as-of date, by equivalence group.

    ``loss_sales``: group -> loss realised (positive number; ``inf`` when a sale's gain is unknown);
    ``purchases``: group -> shares bought (household trades and the account's own recent lots);
    ``last_purchase``: group -> the day of its latest purchase (what blocks a loss sale longest);
    ``bought``: the same shares purchase by purchase, in the order the ledger's replay uses them.
    """

    loss_sales: dict[str, float]
    purchases: dict[str, float]
    last_purchase: dict[str, date] = field(default_factory=dict)
    bought: tuple[WindowPurchase, ...] = ()


def window_activity(
    as_of: date,
    trades: Iterable[HouseholdTrade],
    lots: Iterable[TaxLot],
    equivalence: Equivalence,
    account_id: str | None = None,
    bought_on: Mapping[str, date | None] | None = None,
) -> WindowActivity:
    """Collect the household's loss sales and purchases within the 30-day window before ``as_of``.

    ``lots``: the account's own (``account_id``); one bought in the window is a purchase unless a
    buy trade tells of it (``told_by``). ``bought_on``: the day a lot was bought where that is not
    its ``acquired`` (``Account.bought_on``; None: not bought)."""
    start = as_of - timedelta(days=WINDOW_DAYS)
    loss_sales: dict[str, float] = {}
    purchases: dict[str, float] = {}
    last: dict[str, date] = {}
    # Purchase by purchase: [group, day, account, shares, own lot ids]. The account's buys of a
    # security on one day are one purchase (``told_by``: its lots that day are their shares), as
    # the ledger takes them; another account's buy is its own.
    bought: list[list] = []
    own: dict[tuple[str, date], list] = {}
    unnamed: dict[tuple[str, date, float], list] = {}
    for t in trades:
        if not start <= t.date <= as_of:
            continue
        g = equivalence.group(t.symbol)
        if t.side == "buy":
            purchases[g] = purchases.get(g, 0.0) + t.quantity
            last[g] = max(last.get(g, t.date), t.date)
            if account_id is not None and t.account_id == account_id:
                entry = own.get((t.symbol, t.date))
                if entry is not None:
                    entry[3] += t.quantity
                    continue
                entry = own[(t.symbol, t.date)] = [g, t.date, account_id, t.quantity, []]
            else:
                entry = [g, t.date, t.account_id or "", t.quantity, []]
                if t.account_id is None or account_id is None:
                    unnamed.setdefault((t.symbol, t.date, t.quantity), entry)
            bought.append(entry)
        elif t.realised_gain is None or t.realised_gain < 0:
            loss = float("inf") if t.realised_gain is None else -t.realised_gain
            loss_sales[g] = loss_sales.get(g, 0.0) + loss
    # A lot acquired in the window is itself a purchase (it may be missing from the trade list).
    told = told_by(trades, account_id)
    bought_on = bought_on or {}
    # Lots as columns: only those acquired in the window become TaxLot objects.
    for lot in lots.acquired_between(start, as_of) if isinstance(lots, LotTable) and not bought_on else lots:
        day = bought_on.get(lot.id, lot.acquired)
        if day is None or not start <= day <= as_of:
            continue
        if not told(lot.symbol, day, lot.quantity):
            g = equivalence.group(lot.symbol)
            purchases[g] = purchases.get(g, 0.0) + lot.quantity
            last[g] = max(last.get(g, day), day)
            bought.append([g, day, account_id or "", lot.quantity, [lot.id]])
        else:
            # (A trade in the window: the lot's day is in it.)
            entry = own.get((lot.symbol, day)) or unnamed.get((lot.symbol, day, lot.quantity))
            if entry is not None:
                entry[4].append(lot.id)
    return WindowActivity(loss_sales, purchases, last, tuple(
        WindowPurchase(g, (day.toordinal(), account, min(ids, default="")), shares, tuple(ids))
        for g, day, account, shares, ids in bought))


def disallowed_alert(amount: float) -> Alert | None:
    """The alert of a proposal whose loss sales lose ``amount`` to wash sales it is allowed to make
    (None below half a cent): the engine's estimate, or the ledger's when a run restates it."""
    if amount <= 0.005:
        return None
    return Alert("wash_sale_disallowed",
                 f"{dollars(amount)} of losses are disallowed by wash sales (allowed by wash_sale.allow)",
                 amount=cents(amount))


def washing_purchase_alert(symbol: str, amount: float | None = None, sold_on: date | None = None) -> Alert:
    """The alert of a purchase of ``symbol`` that washes a household loss sale of the last 30 days:
    by how much (``amount``) and which sale (``sold_on``) where the ledger's replay says so; the
    engine, which sees only the window's trades, names the purchase alone."""
    if amount is None:
        return Alert("wash_sale_disallowed", f"buying {symbol} within 30 days of a household loss sale disallows "
                                             "that loss (allowed by wash_sale.allow)", symbol=symbol)
    return Alert("wash_sale_disallowed", f"buying {symbol} disallows {dollars(amount)} of the loss sold on "
                                         f"{sold_on} (wash sale, allowed by wash_sale.allow)",
                 symbol=symbol, amount=cents(amount))


def told_by(trades: Iterable[HouseholdTrade], account_id: str | None) -> Callable[[str, date, float], bool]:
    """Whether a lot of account ``account_id`` - its symbol, the day it was bought, its shares - is
    the shares of a buy trade in ``trades``: one of the account's own buys of the security that day
    (the trade tells the whole purchase; the lot holds what is left of it, or one of its parts), or
    a buy of no named account of the same security, day and quantity. A lot and a trade are never
    matched across accounts: a spouse's purchase of as many shares the same day is its own."""
    trades = tuple(trades)
    own = {(t.symbol, t.date) for t in trades if t.side == "buy" and account_id is not None and t.account_id == account_id}
    unnamed = {(t.symbol, t.date, t.quantity) for t in trades
               if t.side == "buy" and (t.account_id is None or account_id is None)}
    return lambda symbol, day, quantity: (symbol, day) in own or (symbol, day, quantity) in unnamed


def harvestable_on(purchase_date: date) -> date:
    """The first day a loss sale is no longer washed by a purchase on ``purchase_date`` (the 30
    days before a sale count too, Pub. 550)."""
    return purchase_date + timedelta(days=WINDOW_DAYS + 1)


def buyable_on(sale_date: date) -> date:
    """The first day a purchase no longer disallows the loss of a sale on ``sale_date``.

    Pub. 550: a purchase within 30 days after the sale makes it a wash sale, so the 31st day is
    the first clean one (the same window ``window_activity`` looks back over).
    """
    return sale_date + timedelta(days=WINDOW_DAYS + 1)


def latest_loss_sales(
    as_of: date, trades: Iterable[HouseholdTrade], equivalence: Equivalence
) -> dict[str, HouseholdTrade]:
    """Per equivalence group, the household loss sale of the window that blocks buying longest
    (the latest; among same-day sales the largest loss, unknown gains counting as the largest).
    One account's losing lots of a security sold on one day are one sale, their losses summed (the
    ledger reports a sale lot by lot: the message named one lot's loss)."""
    start = as_of - timedelta(days=WINDOW_DAYS)
    sales: dict[tuple, HouseholdTrade] = {}
    for t in trades:
        if t.side != "sell" or not start <= t.date <= as_of:
            continue
        if t.realised_gain is not None and t.realised_gain >= 0:
            continue
        key = (t.date, t.symbol, t.account_id)
        seen = sales.get(key)
        if seen is not None and t.account_id is not None:
            gain = None if seen.realised_gain is None or t.realised_gain is None else seen.realised_gain + t.realised_gain
            sales[key] = replace(seen, quantity=seen.quantity + t.quantity, realised_gain=gain)
        else:
            sales[key if t.account_id is not None else (*key, len(sales))] = t
    out: dict[str, HouseholdTrade] = {}
    for t in sales.values():
        g = equivalence.group(t.symbol)
        best = out.get(g)
        loss = math.inf if t.realised_gain is None else -t.realised_gain
        if best is None or (t.date, loss) > (
            best.date,
            math.inf if best.realised_gain is None else -best.realised_gain,
        ):
            out[g] = t
    return out


def find_violations(
    as_of: date,
    trades: Iterable[HouseholdTrade],
    lots: Iterable[TaxLot],
    proposed_buys: Iterable[str],
    proposed_loss_sales: Iterable[tuple[str, str]],
    params: WashSaleParams,
) -> list[str]:
    """Describe every wash sale a proposal would create (empty list = none).

    ``proposed_buys``: symbols bought; ``proposed_loss_sales``: (lot id, symbol) sold at a loss.
    Used by the tests and as a last safety check of each proposal.
    """
    eq = Equivalence(params.equivalent_groups)
    lots = tuple(lots)
    window = window_activity(as_of, trades, lots, eq)
    buys = {eq.group(s): s for s in proposed_buys}
    problems = []
    for lot_id, symbol in proposed_loss_sales:
        g = eq.group(symbol)
        if g in buys:
            problems.append(f"lot {lot_id} of {symbol} sold at a loss while {buys[g]} is bought")
        if g in window.purchases:
            problems.append(f"lot {lot_id} of {symbol} sold at a loss within 30 days of a purchase")
    for g, symbol in buys.items():
        if g in window.loss_sales:
            problems.append(f"{symbol} bought within 30 days of a loss sale")
    return problems
