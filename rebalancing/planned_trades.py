"""Trades a household has decided on but not yet executed, for the engine's wash-sale rules.

A run must never create a wash sale across a household (IRS Pub. 550: a purchase in any account
of the household washes a loss sale in another). So besides the trades executed in the last 30
days, the engine sees, for every account of the household:

- the open orders of released proposals (what is left of them to fill), the account's own
  included: they will execute;
- the open proposals (draft, pending approval, approved) of the other accounts: they may; the
  account's own are replaced by the proposal being made;
- within a run, what was just proposed for the household's other accounts, in place of their
  older open proposals (a household's accounts are solved one after the other, in one chunk).

Each is an ``engine.HouseholdTrade`` dated the run's day; a sale comes lot by lot, with its gain,
so a planned loss blocks buying the group back and a planned purchase blocks selling it at a loss.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef

from rebalancing import engine
from rebalancing.array_filters import any_of
from rebalancing.ledger.holdings import purchases_known_from_lots
from rebalancing.models import Account, Order, Proposal, RealisedLot, Security, TradeRecord

__all__ = ["LossSale", "Planned", "Purchase", "household_loss_sales", "household_plans_load", "household_purchases",
           "household_request_seeing", "request_with_plans", "trades_planned_by"]

ORDER = "order"
PROPOSAL = "proposal"
_OPEN_PROPOSALS = (Proposal.Status.DRAFT, Proposal.Status.PENDING, Proposal.Status.APPROVED)
_OPEN_ORDERS = (Order.Status.OPEN, Order.Status.PARTIALLY_FILLED)


@dataclass(frozen=True)
class Planned:
    """A planned trade of account ``account_id``: from an open ``order`` or an open ``proposal``."""

    account_id: int
    source: str
    trade: engine.HouseholdTrade


def trades_planned_by(trades: Iterable[dict], *, account_number: str, as_of: date,
                      fraction: float = 1.0, taxable: bool = True) -> list[engine.HouseholdTrade]:
    """A proposal's trades (the result's JSON form) as household trades: sales lot by lot with
    their gains, purchases whole. ``fraction``: the part still to be executed. Not ``taxable`` (an
    IRA or Roth): its sales realise nothing for tax, so none is a loss sale."""
    out = []
    for t in trades:
        if t.get("side") == "buy":
            out.append(engine.HouseholdTrade(date=as_of, symbol=t["symbol"], side="buy",
                                             quantity=float(t["quantity"]) * fraction, account_id=account_number))
            continue
        lots = t.get("lots") or []
        for lot in lots or [{"quantity": t["quantity"], "gain": t.get("realised_gain")}]:
            gain = lot.get("gain") if taxable else 0.0
            out.append(engine.HouseholdTrade(
                date=as_of, symbol=t["symbol"], side="sell", quantity=float(lot["quantity"]) * fraction,
                realised_gain=None if gain is None else float(gain) * fraction, account_id=account_number,
            ))
    return out


def household_plans_load(household_ids: Iterable[int], *, as_of: date) -> dict[int, list[Planned]]:
    """household id -> its planned trades, in at most three queries."""
    plans: dict[int, list[Planned]] = defaultdict(list)
    household_ids = list(household_ids)
    # An account's own open proposal is replaced by the one being made, never seen by it: only a
    # household's other accounts look at it. An account alone in its household (most of them) has
    # its proposal's result, hundreds of KB for a direct index, left unread, and when no account has
    # a sibling there is no query for proposals at all (the planner, misled by a proposals table
    # that grew since it was last analysed, had spent 45 ms on one for 50 accounts).
    members: dict[int, list[int]] = defaultdict(list)
    for household_id, account_id in Account.objects.filter(any_of("household_id", household_ids)).values_list(
            "household_id", "pk"):
        members[household_id].append(account_id)
    with_siblings = [a for accounts in members.values() if len(accounts) > 1 for a in accounts]
    for p in (Proposal.objects.filter(any_of("account_id", with_siblings), status__in=_OPEN_PROPOSALS).order_by()
              .values_list("account_id", "account__household_id", "account__custodian_number", "result",
                           "account__taxable")):
        account_id, household_id, number, result, taxable = p
        for trade in trades_planned_by((result or {}).get("trades") or [], account_number=number, as_of=as_of,
                                       taxable=taxable):
            plans[household_id].append(Planned(account_id, PROPOSAL, trade))
    orders = (Order.objects.filter(any_of("account__household_id", household_ids), status__in=_OPEN_ORDERS)
              .select_related("account", "security", "proposal").order_by("pk"))
    for order in orders:
        fraction = float(order.open_quantity / order.quantity)
        trades = [t for t in (order.proposal.result or {}).get("trades") or []
                  if t.get("symbol") == order.security.symbol and t.get("side") == order.side][:1] or [
            {"symbol": order.security.symbol, "side": order.side, "quantity": float(order.quantity), "lots": [
                {"quantity": float(lot["quantity"]), "gain": None} for lot in order.lots]}]
        for trade in trades_planned_by(trades, account_number=order.account.custodian_number, as_of=as_of,
                                       fraction=fraction, taxable=order.account.taxable):
            plans[order.account.household_id].append(Planned(order.account_id, ORDER, trade))
    return plans


@dataclass(frozen=True)
class Purchase:
    """A purchase of the household for the wash-sale window: made on ``day``, or left to fill in an
    open order of a released proposal (``day`` None: it will be made from today on)."""

    account_number: str
    symbol: str
    day: date | None
    shares: float


def household_purchases(household_ids: Iterable[int], *, start: date, end: date) -> dict[int, list[Purchase]]:
    """household id -> its purchases from ``start`` to ``end`` as a run sees them: buy trade records
    (not cancelled), lots bought then that no trade tells of (``purchases_known_from_lots``), and
    the open buy orders (``household_plans_load``), in every account of the household."""
    household_ids = list(household_ids)
    out: dict[int, list[Purchase]] = defaultdict(list)
    told = set()
    for household_id, number, security_id, symbol, day, shares in (
            TradeRecord.objects.filter(any_of("account__household_id", household_ids), side="buy", cancelled=False,
                                       trade_date__gte=start, trade_date__lte=end).order_by("trade_date", "pk")
            .values_list("account__household_id", "account__custodian_number", "security_id", "security__symbol",
                         "trade_date", "quantity")):
        told.add((number, security_id, day))
        out[household_id].append(Purchase(number, symbol, day, float(shares)))
    from_lots = purchases_known_from_lots(household_ids, start, end, told_buys=told)
    symbols = dict(Security.objects.filter(pk__in={row[2] for row in from_lots}).values_list("pk", "symbol"))
    for household_id, number, security_id, _, shares, day, _ in from_lots:
        out[household_id].append(Purchase(number, symbols[security_id], day, shares))
    for household_id, plans in household_plans_load(household_ids, as_of=end).items():
        out[household_id] += [Purchase(p.trade.account_id, p.trade.symbol, None, p.trade.quantity) for p in plans
                              if p.source == ORDER and p.trade.side == "buy"]
    return out


@dataclass(frozen=True)
class LossSale:
    """A loss sale of the household's taxable accounts for the wash-sale window: lot ``lot_id`` ("":
    not known) sold on ``day`` with ``loss`` of it left for a purchase to wash, or left to sell in an
    open order of a released proposal (``day`` None: it will be made from today on)."""

    account_number: str
    symbol: str
    lot_id: str
    day: date | None
    loss: Decimal


def household_loss_sales(household_ids: Iterable[int], *, start: date, end: date) -> dict[int, list[LossSale]]:
    """household id -> its loss sales from ``start`` to ``end``, the mirror of ``household_purchases``:
    the lots the ledger sold at a loss (``RealisedLot``), sales at a loss no realised lot tells of (a
    trades file's), and the open sell orders' losing lots (``household_plans_load``), in its taxable
    accounts (an IRA's sale realises nothing to wash). A lot's shares a purchase already replaced
    are washed once (Treas. Reg. §1.1091-1(c)): only the rest of its loss is left. A sale whose gain
    is not known is not judged."""
    household_ids = list(household_ids)
    out: dict[int, list[LossSale]] = defaultdict(list)
    taxable = {"account__taxable": True, "sold__gte": start, "sold__lte": end}
    for household_id, number, symbol, lot_id, day, quantity, gain, matched in (
            RealisedLot.objects.filter(any_of("account__household_id", household_ids), gain__lt=0, **taxable)
            .order_by("sold", "pk").values_list("account__household_id", "account__custodian_number",
                                                "security__symbol", "lot_id", "sold", "quantity", "gain",
                                                "wash_matched_quantity")):
        if matched < quantity:
            out[household_id].append(LossSale(number, symbol, lot_id, day, -gain * (quantity - matched) / quantity))
    told = RealisedLot.objects.filter(account_id=OuterRef("account_id"), execution__external_id=OuterRef("external_id"))
    for household_id, number, symbol, day, gain, loss in (
            TradeRecord.objects.filter(any_of("account__household_id", household_ids), side="sell", cancelled=False,
                                       account__taxable=True, trade_date__gte=start, trade_date__lte=end)
            .exclude(Exists(told)).order_by("trade_date", "pk")
            .values_list("account__household_id", "account__custodian_number", "security__symbol", "trade_date",
                         "realised_gain", "realised_loss")):
        # A sale with any losing lot is a loss sale, whatever its net (as a run reads trade records).
        lost = loss if loss is not None and loss < 0 else gain
        if lost is not None and lost < 0:
            out[household_id].append(LossSale(number, symbol, "", day, -lost))
    for household_id, plans in household_plans_load(household_ids, as_of=end).items():
        out[household_id] += [LossSale(p.trade.account_id, p.trade.symbol, "", None,
                                       Decimal(str(round(-p.trade.realised_gain, 2)))) for p in plans
                              if p.source == ORDER and p.trade.side == "sell" and p.trade.realised_gain is not None
                              and p.trade.realised_gain < 0]
    return out


def request_with_plans(request: engine.RebalanceRequest, *, account_id: int, recorded, planned: Iterable[Planned],
                       proposed: dict[int, list[engine.HouseholdTrade]]) -> engine.RebalanceRequest:
    """``request`` seeing the household's executed trades (``recorded``), its planned ones, and
    ``proposed``: what this run just proposed for accounts of the household (in place of their
    older open proposals)."""
    trades = list(recorded)
    for p in planned:
        if p.source == PROPOSAL and (p.account_id == account_id or p.account_id in proposed):
            continue
        trades.append(p.trade)
    for other, new in proposed.items():
        if other != account_id:
            trades.extend(new)
    if not proposed and tuple(trades) == request.account.household_trades:  # nothing planned: as it is
        return request
    account = dataclasses.replace(request.account, household_trades=tuple(trades))
    return dataclasses.replace(request, account=account)


def household_request_seeing(request: engine.HouseholdRequest,
                             trades: Iterable[engine.HouseholdTrade]) -> engine.HouseholdRequest:
    """A household's ``request`` (whose accounts see no open proposal: a household solve replaces
    them) seeing ``trades`` besides - open proposals that will stand after what is being planned, so
    that it sells nothing at a loss that one of them buys. Every account sees them, as in a run."""
    trades = tuple(trades)
    if not trades:
        return request
    accounts = tuple(dataclasses.replace(a, request=dataclasses.replace(a.request, account=dataclasses.replace(
        a.request.account, household_trades=a.request.account.household_trades + trades))) for a in request.accounts)
    return dataclasses.replace(request, accounts=accounts)
