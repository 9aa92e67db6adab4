"""Orders out: a released proposal's trades become orders, and orders become CSV files.

Two layouts (docs/ledger.md "Orders out"):

- per account, one line per order: what a custodian's trade upload or an OMS order blotter takes;
- per block, one line per allocation: the day's orders of one security and side traded as one
  block and allocated back to the accounts.

Sales name their lots ("versus purchase", specific identification: IRS Pub. 550 "Adequate
identification"), as the engine chose them. Every order id is stable (``P{proposal}-{n}``), so a
file sent twice is recognised line by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.exports import csv_text
from rebalancing.models import Order, Proposal, Security, TaxLot
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed

from .quantities import plain, shares

__all__ = [
    "BLOCK_COLUMNS", "ORDER_COLUMNS", "Block", "blocks_csv", "lots_text", "orders_create", "orders_by_block", "orders_csv", "orders_open",
]

ORDER_COLUMNS = (
    "order_id", "block_id", "account_number", "symbol", "side", "quantity", "open_quantity", "order_type",
    "limit_price", "reference_price", "time_in_force", "lot_method", "lots",
)
BLOCK_COLUMNS = (
    "block_id", "symbol", "side", "block_quantity", "reference_price", "order_id", "account_number", "quantity",
    "lots",
)


@transaction.atomic
def orders_create(*, proposal: Proposal, actor=None, today: date | None = None) -> list[Order]:
    """The orders of a released proposal, one per trade (called by ``proposal_release`` in its
    transaction). Called again, it returns the orders already made."""
    existing = list(proposal.orders.order_by("pk"))
    if existing:
        return existing
    trades = (proposal.result or {}).get("trades") or []
    symbols = {t["symbol"] for t in trades}
    securities = {s.symbol: s for s in Security.objects.filter(symbol__in=symbols)}
    missing = sorted(symbols - set(securities))
    if missing:
        raise ValidationFailed(f"The proposal trades securities no longer in the master: {', '.join(missing)}.",
                               code="unknown_security", detail={"symbols": missing})
    _lots_still_held(proposal, trades)
    day = today or timezone.localdate()
    orders = []
    for n, trade in enumerate(trades, start=1):
        quantity = shares(trade["quantity"])
        if quantity <= 0:
            continue
        side = trade["side"]
        lots = [
            {"lot_id": lot["lot_id"], "quantity": str(shares(lot["quantity"]))}
            for lot in trade.get("lots") or () if shares(lot["quantity"]) > 0
        ] if side == "sell" else []
        orders.append(Order(
            order_id=f"P{proposal.pk}-{n}", proposal=proposal, account_id=proposal.account_id,
            security=securities[trade["symbol"]], side=side, quantity=quantity,
            reference_price=Decimal(str(trade["price"])).quantize(Decimal("0.000001")),
            lots=lots, reasons=list(trade.get("reasons") or ()),
            block_id=f"B{day:%Y%m%d}-{side.upper()}-{trade['symbol']}"[:64], released_on=day,
        ))
    Order.objects.bulk_create(orders)  # the table's check constraints guard quantities
    if orders:
        audit_record(actor=actor, action="orders.create", obj=proposal, before=None,
                     after={"orders": [o.order_id for o in orders]},
                     comment=f"{len(orders)} order{'s' if len(orders) != 1 else ''} for the custodian")
    return orders


def _lots_still_held(proposal: Proposal, trades: list[dict]) -> None:
    """Refuse orders selling shares the account no longer holds: a lots file or a custodian's lots
    accepted since the proposal was made may have replaced the lots it names (the order would go to
    the custodian naming lots that are gone, and its fill be refused)."""
    # Lots an open buy of the same security may still bring are not judged: fills arrive in any order
    # (a day trade's sale can be released before its purchase's fill is booked).
    arriving = set(Order.objects.filter(account_id=proposal.account_id, side="buy",
                                        status__in=[Order.Status.OPEN, Order.Status.PARTIALLY_FILLED])
                   .values_list("security__symbol", flat=True))
    wanted: dict[str, Decimal] = {}
    for trade in trades:
        if trade["side"] == "sell" and trade["symbol"] not in arriving:
            for lot in trade.get("lots") or ():
                wanted[lot["lot_id"]] = wanted.get(lot["lot_id"], Decimal(0)) + shares(lot["quantity"])
    if not wanted:
        return
    held = dict(TaxLot.objects.filter(account_id=proposal.account_id, lot_id__in=list(wanted))
                .values_list("lot_id", "quantity"))
    short = [f"lot {lot_id} holds {plain(held.get(lot_id, Decimal(0)))} of the {plain(quantity)} shares it sells"
             for lot_id, quantity in sorted(wanted.items()) if quantity > 0 and held.get(lot_id, Decimal(0)) < quantity]
    if short:
        raise Conflict(f"Proposal #{proposal.pk} sells lots the account no longer holds as they were: "
                       f"{'; '.join(short)}. Its lots changed after the proposal was made (a lots file, or the "
                       "custodian's lots); rebalance the account again.", code="lots_changed",
                       detail={"lots": [{"lot_id": lot_id, "held": str(held.get(lot_id, Decimal(0))),
                                         "sells": str(quantity)} for lot_id, quantity in sorted(wanted.items())
                                        if quantity > 0 and held.get(lot_id, Decimal(0)) < quantity]})


def orders_open(orders=None, *, day: date | None = None):
    """Orders still open (in part or whole), oldest first; ``day``: released that day only."""
    qs = (orders if orders is not None else Order.objects.all()).filter(
        status__in=[Order.Status.OPEN, Order.Status.PARTIALLY_FILLED]
    )
    if day is not None:
        qs = qs.filter(created_at__date=day)
    return qs.select_related("account", "security").order_by("created_at", "order_id")


def lots_text(lots: list[dict], already_sold: Decimal = Decimal(0)) -> str:
    """``lot_id:quantity|lot_id:quantity``, without the shares that fills have already taken."""
    parts = []
    for lot in lots:
        quantity = Decimal(lot["quantity"])
        taken = min(quantity, already_sold)
        already_sold -= taken
        if quantity - taken > 0:
            parts.append(f"{lot['lot_id']}:{plain(quantity - taken)}")
    return "|".join(parts)


def orders_csv(orders: Iterable[Order]) -> str:
    """One line per order (columns ``ORDER_COLUMNS``)."""
    return csv_text(ORDER_COLUMNS, (
        (
            o.order_id, o.block_id, o.account.custodian_number, o.security.symbol, o.side, plain(o.quantity),
            plain(o.open_quantity), "LMT" if o.limit_price is not None else "MKT",
            "" if o.limit_price is None else plain(o.limit_price), plain(o.reference_price), "DAY",
            "SPECIFIC_LOTS" if o.side == "sell" else "", lots_text(o.lots, o.filled_quantity),
        )
        for o in orders
    ))


@dataclass
class Block:
    """The orders of one release day, side and security, traded as one and allocated back."""

    block_id: str
    symbol: str
    side: str
    reference_price: Decimal
    orders: list[Order] = field(default_factory=list)

    @property
    def quantity(self) -> Decimal:
        return sum((o.quantity for o in self.orders), Decimal(0))

    @property
    def filled(self) -> Decimal:
        return sum((o.filled_quantity for o in self.orders), Decimal(0))

    @property
    def open(self) -> Decimal:
        return sum((o.open_quantity for o in self.orders), Decimal(0))


def orders_by_block(orders: Iterable[Order], *, newest_first: bool = False) -> list[Block]:
    """``orders`` (with their account and security loaded) gathered into blocks, in block id order
    (newest first if asked), each block's orders in order id order."""
    blocks: dict[str, Block] = {}
    for o in sorted(orders, key=lambda o: o.order_id):
        blocks.setdefault(o.block_id, Block(o.block_id, o.security.symbol, o.side, o.reference_price)).orders.append(o)
    return [blocks[b] for b in sorted(blocks, reverse=newest_first)]


def blocks_csv(orders: Iterable[Order]) -> str:
    """One line per allocation of a block (columns ``BLOCK_COLUMNS``); blocks in id order."""
    return csv_text(BLOCK_COLUMNS, (
        (block.block_id, block.symbol, block.side, plain(block.open), plain(block.reference_price), o.order_id,
         o.account.custodian_number, plain(o.open_quantity), lots_text(o.lots, o.filled_quantity))
        for block in orders_by_block(orders) for o in block.orders
    ))
