"""What the ledger will book for a proposal's trades, before they are made: a what-if replay.

With ``wash_sale.allow`` the engine may make a wash sale, and its figures are an estimate from its
inputs (the household's last 30 days of trades): it cannot know which purchase already replaced an
earlier loss (Treas. Reg. §1.1091-1(e)), that a purchase it proposes disallows a loss sold before
(IRC §1091(a): "within 30 days before or after"), or how two sales of one day in one group wash each
other (docs/ledger.md). The ledger knows, once the trades fill. So for such proposals the product
books their fills here in memory, at the proposal's prices on the run's day, exactly as the
executions import would (``executions._Book``/``_Ledger``), adds them to the household's history
of each equivalence group they touch (``adjustments.group_history``), replays it with
``wash_sales.household_replay`` and rounds it as the ledger does (``adjustments._Writer``). Nothing
is written.

The answer: each proposed sale's rows as the ledger will book them (shares, proceeds, basis, gain,
term, disallowed loss, per lot named and term), and each earlier sale whose recognised result the
proposal's purchases change (a loss they disallow), by account, tax year and term.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from rebalancing.models import Account, Order, Security

from .adjustments import _Group, _Writer, group_history, group_key, group_lots
from .executions import _Book, _Ledger, _Refused
from .wash_sales import household_replay

__all__ = ["EarlierSale", "LotSale", "Planned", "WhatIf", "proposals_what_if"]

_PRICE = Decimal("0.000001")


@dataclass(frozen=True)
class Planned:
    """One proposal's trades (its result's ``trades``) for an account."""

    account_id: int
    trades: list[dict]


@dataclass
class LotSale:
    """What the ledger books for the shares one proposed sale takes from one lot, of one term."""

    lot_id: str
    term: str
    quantity: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)
    cost_basis: Decimal = Decimal(0)
    gain: Decimal = Decimal(0)
    disallowed_loss: Decimal = Decimal(0)


@dataclass(frozen=True)
class EarlierSale:
    """A sale already booked whose result the proposals change: ``change`` is added to its
    recognised result (gain + disallowed loss), on its account's return of ``year``, as ``term``;
    ``by``: the index of the proposal whose purchase (of ``symbol``) does it - or, with no purchase
    in the group, whose sale does it."""

    account_id: int
    lot_id: str
    sold: date
    year: int
    term: str
    disallowed_before: Decimal
    disallowed_after: Decimal
    change: Decimal
    by: int | None
    symbol: str
    bought: bool = True  # ``by`` buys ``symbol`` (else it sells it at a loss)


@dataclass
class WhatIf:
    """``sales``: (proposal index, trade index) -> the ledger's rows for that sale; ``earlier``:
    booked sales the proposals change; ``refused``: why a proposal's fills could not be booked
    (its figures are then the engine's)."""

    sales: dict[tuple[int, int], list[LotSale]] = field(default_factory=dict)
    earlier: list[EarlierSale] = field(default_factory=list)
    refused: str = ""


def proposals_what_if(planned: list[Planned], *, as_of: date) -> WhatIf:
    """The ledger's figures for ``planned`` (proposals of accounts of one or more households, in the
    order they would be released) filled in full at their prices on ``as_of``. Reads only."""
    out = WhatIf()
    accounts_of = {a.pk: a for a in Account.objects.filter(pk__in={p.account_id for p in planned})}
    households = {a.household_id for a in accounts_of.values()}
    accounts = {a.pk: a for a in Account.objects.filter(household_id__in=households)}
    symbols = {t["symbol"] for p in planned for t in p.trades}
    by_symbol = {s.symbol: s for s in Security.objects.filter(symbol__in=symbols)}
    # Orders as release would make them (``ledger.orders``), with ids of their own that sort after
    # every real one of the day; filled in full at their reference price on ``as_of``.
    orders: dict[str, Order] = {}
    where: dict[str, tuple[int, int]] = {}
    rows = []
    serial = 0
    for i, proposal in enumerate(planned):
        account = accounts_of[proposal.account_id]
        for n, trade in enumerate(proposal.trades, start=1):
            quantity = Decimal(str(trade["quantity"])).quantize(_PRICE)
            if quantity <= 0:
                continue
            serial += 1
            order_id = f"P{10**12 + i}-{n}"
            lots = [{"lot_id": lot["lot_id"], "quantity": str(Decimal(str(lot["quantity"])).quantize(_PRICE))}
                    for lot in trade.get("lots") or ()] if trade["side"] == "sell" else []
            order = Order(pk=-serial, order_id=order_id, account=account, security=by_symbol[trade["symbol"]],
                          side=trade["side"], quantity=quantity, lots=lots,
                          reference_price=Decimal(str(trade["price"])).quantize(_PRICE))
            orders[order_id] = order
            where[order_id] = (i, n - 1)
            rows.append(SimpleNamespace(order_id=order_id, kind="fill", quantity=quantity, price=order.reference_price,
                                        fees=Decimal(0), trade_date=as_of, external_id=f"what-if {order_id}",
                                        lot_id=""))
    book = _Book(list(accounts_of))
    ledger = _Ledger(orders, book, year=as_of.year, actor="what-if", source="what-if")
    try:
        # Within a day, purchases first (``fill_order``): a sale may take shares bought that day.
        for row in sorted(rows, key=lambda r: orders[r.order_id].side != "buy"):
            ledger.apply(row)
    except _Refused as refused:
        out.refused = refused.problem
        return out
    for k, execution in enumerate(ledger.executions, start=1):
        execution.pk = -k
    for r in ledger.realised:
        r.execution = r.execution  # the id given just above
    touched = {(accounts[o.account_id].household_id, group_key(o.security)) for o in orders.values()}
    members = {s.pk: s for s in Security.objects.filter(
        equivalence_group__in={s.equivalence_group for s in by_symbol.values() if s.equivalence_group})}
    members.update({s.pk: s for s in by_symbol.values()})
    groups = group_history(households, members)
    held_now = {(lot.account_id, lot.lot_id): lot for lot in book.lots.values()}
    for (household_id, key) in touched:
        group = groups.get((household_id, key)) or _Group(household_id, key)
        # The book's lots as the fills leave them (emptied ones gone), its new lots and fills.
        group.held = [held_now.get((lot.account_id, lot.lot_id), lot) for lot in group.held]
        group.held = [lot for lot in group.held if lot.quantity > 0 and lot.pk not in book.emptied]
        for lot in book.created:
            if (accounts[lot.account_id].household_id, group_key(members[lot.security_id])) == (household_id, key):
                group.held.append(lot)
        for execution in ledger.executions:
            order = execution.order
            if order.side == "buy" and (accounts[order.account_id].household_id,
                                        group_key(order.security)) == (household_id, key):
                group.fills.append(execution)
        booked = list(group.realised)
        group.realised = booked + [r for r in ledger.realised
                                   if (accounts[r.account_id].household_id,
                                       group_key(members[r.security_id])) == (household_id, key)]
        history, lots = group_lots(group, accounts)
        realised = _Writer(group, accounts, household_replay(history), lots).realised()
        # The proposals whose purchases in this group can change the household's booked sales.
        # (A loss sold now can move an earlier sale too: replacement shares bought in the window
        # and already sold take its disallowed part into their basis, IRC §1091(d).)
        traders = {side: [(i, t["symbol"]) for i, p in enumerate(planned)
                          if accounts[p.account_id].household_id == household_id
                          for t in p.trades if t["side"] == side and group_key(by_symbol[t["symbol"]]) == key]
                   for side in ("buy", "sell")}
        _collect(out, realised.values(), booked, where, traders["buy"], traders["sell"])
    return out


def _collect(out: WhatIf, realised, booked, where, buyers: list[tuple[int, str]],
             sellers: list[tuple[int, str]]) -> None:
    before: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), None])
    for r in booked:
        row = before[(r.execution_id, r.account_id, r.bought_as, r.term, r.sold)]
        row[0] += r.gain + r.disallowed_loss
        row[1] += r.disallowed_loss
        row[2] = r
    after: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), None])
    for r in realised:
        if r.execution_id is not None and r.execution_id < 0:
            order_id = r.execution.order.order_id
            sales = out.sales.setdefault(where[order_id], [])
            sale = next((s for s in sales if s.lot_id == r.named_as and s.term == r.term), None)
            if sale is None:
                sale = LotSale(r.named_as, r.term)
                sales.append(sale)
            sale.quantity += r.quantity
            sale.proceeds += r.proceeds
            sale.cost_basis += r.cost_basis
            sale.gain += r.gain
            sale.disallowed_loss += r.disallowed_loss
            continue
        row = after[(r.execution_id, r.account_id, r.bought_as, r.term, r.sold)]
        row[0] += r.gain + r.disallowed_loss
        row[1] += r.disallowed_loss
        row[2] = r
    for key in sorted(set(before) | set(after), key=str):
        (was, was_dis, r0), (now, now_dis, r1) = before.get(key, (0, 0, None)), after.get(key, (0, 0, None))
        if was == now:
            continue
        r = r1 or r0
        out.earlier.append(EarlierSale(
            account_id=r.account_id, lot_id=r.bought_as, sold=r.sold, year=r.sold.year, term=r.term,
            disallowed_before=Decimal(was_dis), disallowed_after=Decimal(now_dis), change=Decimal(now) - Decimal(was),
            by=(buyers or sellers or [(None, "")])[0][0], symbol=(buyers or sellers or [(None, "")])[0][1],
            bought=bool(buyers)))
