"""Executions in: fills and cancels reported by the custodian, applied once and atomically.

A file (or the API's list of records, read by ``execution_file``) is checked whole first; any
problem refuses it with a row-level report (``ImportRejected``, the import machinery's format) and nothing is written. Then,
day by day in trade-date order, in one transaction:

- a sale relieves the lots its order names, in the engine's order (specific identification);
  each lot drawn from becomes a ``RealisedLot`` with its proceeds, basis, gain and term;
- a buy creates a lot (its basis includes fees; IRS Pub. 550 "Basis of Investment Property");
- cash moves, realised year-to-date gains grow, a ``TradeRecord`` is written for the engine's
  wash-sale window, orders are filled, partially filled or cancelled;

then the wash sales of the households and equivalence groups the file touched are replayed from
their whole history (``adjustments.wash_sales_recompute``), so a fill dated before earlier ones
gives what it would have given had it come in order; and a proposal whose orders are all filled
or cancelled becomes executed. An execution whose
``external_id`` was applied before is recognised and changes nothing; the same id with different
values is refused.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import groupby

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from rebalancing.engine.tax import gift_basis, gift_start, term
from rebalancing.imports.cells import distinct
from rebalancing.imports.report import ImportSummary
from rebalancing.imports.rows import import_begin
from rebalancing.imports.sheet import Sheet, Source, sheet_read
from rebalancing.models import Account, Execution, Order, Proposal, RealisedLot, TaxLot, TradeRecord
from rebalancing.webhooks import events as webhook_events
from tenants.audit.services import audit_many

from .account_opening import opening_days, trade_before_opening_problem
from .adjustments import LEDGER_LOCK, unit_cost, wash_sales_recompute
from .execution_file import KIND, OPTIONAL, REQUIRED, Row, columns_differing, rows_read, sheet_from_records
from .fill_order import Reallocation, fill_order_key
from .quantities import cents, cents_running, plain, prorate

__all__ = ["KIND", "LEDGER_LOCK", "OPTIONAL", "REQUIRED", "executions_apply", "executions_import"]

_CLOSED = (Order.Status.FILLED, Order.Status.CANCELLED)


def executions_import(*, source: Source, actor=None, as_of: date | None = None) -> ImportSummary:
    """Apply a CSV file of executions (layout: docs/ledger.md). ``actor``: who applies it (a
    user or a process name, for the audit trail); ``as_of``: trade dates may not be later
    (default today; from 1900 to today, as a run's day: ``book_day_check``). Raises ``ImportRejected``
    with the report; nothing is then written."""
    as_of = _file_day(as_of)
    with transaction.atomic():
        import_begin(LEDGER_LOCK)
        sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
        return _apply(sheet, actor=actor, as_of=as_of, source="csv")


def executions_apply(*, records: list[dict], actor=None, as_of: date | None = None,
                     source: str = "api") -> ImportSummary:
    """The same from records (the API's JSON body): field names are the file's columns, and the
    n-th record is reported as row n + 1, its line in the same CSV (header line 1)."""
    as_of = _file_day(as_of)
    with transaction.atomic():
        import_begin(LEDGER_LOCK)
        sheet = sheet_from_records(records)
        return _apply(sheet, actor=actor, as_of=as_of, source=source)


def _file_day(as_of: date | None) -> date:
    # A day after today would let fills dated 9999-12-30 through "not in the future" and into the lots
    # and the wash-sale year: refused here, for every caller (API, command), by the book's own rule.
    from rebalancing.engine_inputs import book_day_check

    return timezone.localdate() if as_of is None else book_day_check(as_of, what="day the file is read on (as_of)")


class _Refused(Exception):
    """A row that cannot be applied: its column and the problem in plain words."""

    def __init__(self, column: str, problem: str):
        super().__init__(problem)
        self.column = column
        self.problem = problem


def _apply(sheet: Sheet, *, actor, as_of: date, source: str) -> ImportSummary:
    rows = rows_read(sheet, as_of)
    problems = sheet.problems
    orders = {
        o.order_id: o for o in Order.objects.select_for_update(of=("self",))
        .filter(order_id__in=distinct(r.order_id for r in rows)).select_related("account", "security")
    }
    stored = {
        e.external_id: e for e in Execution.objects.filter(external_id__in=distinct(r.external_id for r in rows))
        .select_related("order")
    }
    opened = opening_days(o.account_id for o in orders.values())
    new: list[Row] = []
    for row in rows:
        if not row.external_id or not row.order_id:
            continue
        if row.external_id in stored:
            differing = columns_differing(stored[row.external_id], row)
            if differing:
                problems.add(row.line, differing[0], f"execution {row.external_id} was applied on "
                             f"{stored[row.external_id].applied_at:%Y-%m-%d} with other values "
                             f"({', '.join(differing)}); an execution id is applied once")
            continue
        order = orders.get(row.order_id)
        if order is None:
            problems.add(row.line, "order_id", f"order {row.order_id!r} is not known")
            continue
        if isinstance(row.trade_date, date) and row.trade_date < order.released_on:
            problems.add(row.line, "trade_date", f"{row.trade_date} is before order {order.order_id} was released, on "
                         f"{order.released_on}: a {row.kind} cannot come before its order")
        if row.kind == "fill" and isinstance(row.trade_date, date) and (problem := trade_before_opening_problem(
                account=order.account.custodian_number, opened_on=opened.get(order.account_id),
                trade_date=row.trade_date, what="fill")):
            problems.add(row.line, "trade_date", problem)
        if row.account_number and row.account_number != order.account.custodian_number:
            problems.add(row.line, "account_number", f"order {order.order_id} is for account {order.account.custodian_number}")
        if row.symbol and row.symbol != order.security.symbol:
            problems.add(row.line, "symbol", f"order {order.order_id} trades {order.security.symbol}")
        if row.side and row.side != order.side:
            problems.add(row.line, "side", f"order {order.order_id} is a {order.side}")
        if row.lot_id and (row.kind != "fill" or order.side != "buy"):
            problems.add(row.line, "lot_id", "only a buy fill creates a lot; leave it empty")
        new.append(row)

    # A dry run on copies of the rows read so far: each checked against the lots and orders as they
    # will be by its turn (trade date, then line), so the report covers overfills and short lots too.
    # Within a day, purchases first: a sale may take shares bought that day (a day trade), whatever
    # line the custodian listed it on; no purchase depends on a sale.
    # Sale fills already booked that the new ones come before are taken again, in order (fill_order).
    def in_order(rows: list[Row]) -> list[Row]:
        return sorted(rows, key=lambda r: fill_order_key(r, orders[r.order_id].side))

    again = Reallocation(new, orders)
    events = in_order(new + again.rows)
    account_ids = {orders[r.order_id].account_id for r in new}
    year = as_of.year
    rehearsal_orders, rehearsal_book = {k: copy.copy(o) for k, o in orders.items()}, _Book(account_ids)
    again.take_back(rehearsal_orders, rehearsal_book)
    rehearsal = _Ledger(rehearsal_orders, rehearsal_book, year=year, actor=actor, source=source)
    reported = {p.row for p in problems.sorted()}
    first_line = {}
    for row in new:
        first_line.setdefault(row.order_id, row.line)
    for row in events:
        if row.line in reported:
            continue
        try:
            rehearsal.apply(row, again.execution(row))
        except _Refused as refused:
            if row.line:
                problems.add(row.line, refused.column, refused.problem)
            else:  # a booked fill taken again after this file's earlier-dated one: the new row is why
                problems.add(first_line[row.order_id], refused.column,
                             f"booked fill {row.external_id} of {row.trade_date}, taken again after this earlier-dated "
                             f"fill, would fail: {refused.problem}")
    problems.reject_if_any()
    if not new:
        return ImportSummary(KIND, len(rows), 0, 0, len(rows) - len(new))

    before = {k: (o.status, o.filled_quantity, o.cancelled_quantity) for k, o in orders.items()}
    if again:
        book = _Book(account_ids)
        again.take_back(orders, book)
        _Ledger(orders, book, year=year, actor=actor, source=source).write()
        again.write_back(year=year)
    for _, day_rows in groupby(events, key=lambda r: r.trade_date):
        ledger = _Ledger(orders, _Book(account_ids), year=year, actor=actor, source=source)
        for row in day_rows:
            ledger.apply(row, again.execution(row))  # rehearsed above: cannot refuse now
        ledger.write()
    fills = [r for r in new if r.kind == "fill"]
    recomputed = wash_sales_recompute(
        household_ids={orders[r.order_id].account.household_id for r in fills},
        security_ids={orders[r.order_id].security_id for r in fills},
        year=year, actor=actor, trigger=f"executions from {source}",
        new_sales=[*Execution.objects.filter(external_id__in=[r.external_id for r in fills]).values_list("pk", flat=True),
                   *(e.pk for e in again.executions.values())],
    )
    reordered = again.record(actor=actor, source=source) if again else 0
    adjustments = recomputed.adjustments
    changed = [o for k, o in orders.items() if (o.status, o.filled_quantity, o.cancelled_quantity) != before[k]]
    audit_many(actor=actor, action="order.execute", changes=[
        ("order", o.order_id, _state(*before[o.order_id]), _state(o.status, o.filled_quantity, o.cancelled_quantity))
        for o in changed
    ], comment=f"executions from {source}")
    executed = _proposals_complete({o.proposal_id for o in changed}, actor=actor)
    _estimates_restate(changed, actor=actor, source=source)
    notes = [_orders_words(changed)]
    if adjustments:
        notes.append(f"{adjustments} wash-sale adjustment{'s' if adjustments != 1 else ''}")
    if recomputed.changed_sales:
        notes.append(f"{recomputed.changed_sales} earlier sale{'s' if recomputed.changed_sales != 1 else ''} "
                     "recalculated for wash sales")
    if reordered:
        notes.append(f"{reordered} earlier sale{'s' if reordered != 1 else ''} of {len(again.executions)} booked "
                     f"fill{'s' if len(again.executions) != 1 else ''} taken again in trade-date order")
    if executed:
        notes.append(f"{executed} proposal{'s' if executed != 1 else ''} executed")
    webhook_events.executions_imported(source=source, applied=len(new), unchanged=len(rows) - len(new),
                                       order_ids=[o.order_id for o in changed], notes=notes)
    return ImportSummary(KIND, len(rows), len(new), 0, len(rows) - len(new), notes=tuple(notes))


def _orders_words(changed: list[Order]) -> str:
    """What the file did to its orders: how many it filled, and each it left part-filled or cancelled
    (by id and security, with its shares) - a partial fill read as "filled" hides shares never traded."""
    filled = sum(o.status == Order.Status.FILLED for o in changed)
    words = [f"{filled} order{'s' if filled != 1 else ''} filled"]
    rest = [o for o in changed if o.status != Order.Status.FILLED]
    for o in rest[:10]:
        shares = f"{o.filled_quantity.normalize():f} of {o.quantity.normalize():f} filled"
        if o.status == Order.Status.CANCELLED:
            done = "cancelled" if o.filled_quantity == 0 else f"{shares}, {o.cancelled_quantity.normalize():f} cancelled"
        else:
            done = f"{shares} so far"
        words.append(f"{o.order_id} ({o.security.symbol}) {done}")
    if len(rest) > 10:
        words.append(f"{len(rest) - 10} more not wholly filled (Orders page)")
    return "; ".join(words)


def _state(status: str, filled: Decimal, cancelled: Decimal) -> dict:
    return {"status": status, "filled_quantity": str(filled), "cancelled_quantity": str(cancelled)}


def _estimates_restate(changed: list[Order], *, actor, source: str) -> None:
    """A released proposal's open sales are planned in its household's open estimates at the
    engine's prices (services.tax_estimates): filled at another price, or cancelled, they restate them."""
    from rebalancing.services.tax_estimates import open_estimates_restate

    households = {o.account.household_id for o in changed if o.side == "sell" and o.account.taxable}
    if households:
        open_estimates_restate(households, actor=actor, because=f"released sales filled or cancelled ({source})")


def _proposals_complete(proposal_ids: set[int], *, actor) -> int:
    """Released proposals whose orders are all filled or cancelled become executed."""
    from rebalancing.services.proposals import proposal_mark_executed

    if not proposal_ids:
        return 0
    complete = (
        Proposal.objects.filter(pk__in=proposal_ids, status=Proposal.Status.RELEASED)
        .annotate(still_open=Count("orders", filter=~Q(orders__status__in=_CLOSED)))
        .filter(still_open=0)
    )
    done = 0
    for proposal in complete:
        proposal_mark_executed(proposal=proposal, actor=actor, comment="every order filled or cancelled")
        done += 1
    return done


@dataclass
class _Piece:
    """Shares taken from one lot by a sale: ``named`` is the lot the order named."""

    lot_id: str
    named: str
    bought_as: str
    quantity: Decimal
    cost_basis: Decimal
    wash_adjustment: Decimal
    acquired: date
    purchased: date
    origin_id: int | None
    replacement: bool
    unit_cost: Decimal
    inherited: bool
    gift_date: date | None
    gift_unit_value: Decimal | None


def _purchase_of(lot_id: str, held: list[TaxLot]) -> str:
    """The purchase a piece named ``{purchase}-W{n}`` that is no longer held was part of ("" if none
    of the account's lots is of such a purchase)."""
    head, _, number = lot_id.rpartition("-W")
    return head if head and number.isdigit() and any(lot.bought_as == head for lot in held) else ""


def _piece_order(lot: TaxLot, purchase: str) -> tuple:
    """A purchase's pieces: its own lot, then its parts by number (``-W2`` before ``-W10``)."""
    number = lot.lot_id[len(purchase) + 2:] if lot.lot_id.startswith(f"{purchase}-W") else ""
    return (lot.lot_id != purchase, int(number) if number.isdigit() else 0, lot.lot_id)


class _Book:
    """The lots of the accounts a file touches, in memory, with what explains them."""

    def __init__(self, account_ids):
        self.lots: dict[tuple[int, str], TaxLot] = {}
        self.by_account: dict[int, list[TaxLot]] = defaultdict(list)
        for lot in TaxLot.objects.filter(account_id__in=account_ids):
            self.lots[(lot.account_id, lot.lot_id)] = lot
            self.by_account[lot.account_id].append(lot)
        # What each lot holds in the ledger now, for a refusal's words (the book's lots change as it goes).
        self.held_now: dict[int, Decimal] = {lot.pk: lot.quantity for lot in self.lots.values()}
        # Lots the ledger created from buy fills.
        self.origins: dict[tuple[int, str], int] = {
            (account_id, lot_id): pk for pk, account_id, lot_id in
            Execution.objects.filter(order__account_id__in=account_ids, kind=Execution.Kind.FILL, order__side="buy")
            .exclude(lot_id="").values_list("pk", "order__account_id", "lot_id")
        }
        self.changed: dict[int, TaxLot] = {}
        self.emptied: list[int] = []
        self.created: list[TaxLot] = []
        # Each purchase's cost as bought of the shares sold so far, exact: a sale's basis is the cents
        # of the running cost less those before it (``quantities.cents_running``, as the replay splits it).
        self.sold_cost: dict[tuple[int, str], Fraction] = defaultdict(Fraction)
        for account_id, lot_id, bought_as, unit, quantity, basis, wash in RealisedLot.objects.filter(
                account_id__in=account_ids).values_list("account_id", "lot_id", "purchase_lot_id", "unit_cost",
                                                        "quantity", "cost_basis", "wash_adjustment"):
            self.sold_cost[(account_id, bought_as or lot_id)] += (
                Fraction(unit) * Fraction(quantity) if unit is not None else Fraction(basis - wash))

    def family(self, account_id: int, lot_id: str) -> list[TaxLot]:
        """The lot an order names, then the other pieces of the same purchase: the parts the wash-sale
        replay split from it (``{lot}-W1``...), or for such a part, the purchase's lot and its other
        parts. The named piece's shares are taken first (specific identification, Treas. Reg.
        §1.1012-1(c)); the rest only when a replay since release moved shares between the purchase's
        pieces, so that a sale of that purchase is not stranded (the replay's ``take`` too takes the
        named piece, then the purchase's other shares)."""
        held = self.by_account[account_id]
        named = self.lots.get((account_id, lot_id))
        prefix = f"{lot_id}-W"
        splits = sorted(
            (lot for lot in held if lot.lot_id.startswith(prefix) and lot.lot_id[len(prefix):].isdigit()),
            key=lambda lot: int(lot.lot_id[len(prefix):]),
        )
        purchase = named.bought_as if named is not None else _purchase_of(lot_id, held)
        out = ([named] if named is not None else []) + splits
        seen = {id(lot) for lot in out}
        return out + sorted((lot for lot in held if purchase and lot.bought_as == purchase and id(lot) not in seen),
                            key=lambda lot: _piece_order(lot, purchase))

    def take(self, lot: TaxLot, quantity: Decimal, named: str) -> _Piece:
        """Shares of ``lot``. Their cost as bought: the cents of the purchase's cost of every share sold
        so far, these included, less those of the shares sold before (shares x the cost per share,
        exact); the sale that empties the lot takes what is left of its basis. So the bases of the
        pieces sold and of the shares held add up to what the lot cost (IRC §1012)."""
        whole = quantity == lot.quantity
        unit = lot.unit_cost if lot.unit_cost is not None else unit_cost(lot.cost_basis - lot.wash_adjustment,
                                                                          lot.quantity)
        wash = lot.wash_adjustment if whole else cents(lot.wash_adjustment * quantity / lot.quantity)
        purchase = (lot.account_id, lot.bought_as)
        if whole:
            cost = lot.cost_basis - lot.wash_adjustment
        else:
            [cost] = cents_running([Fraction(unit) * Fraction(quantity)], before=self.sold_cost[purchase])
        self.sold_cost[purchase] += Fraction(unit) * Fraction(quantity)
        piece = _Piece(
            lot_id=lot.lot_id, named=named, bought_as=lot.bought_as, quantity=quantity,
            cost_basis=cost + wash, wash_adjustment=wash, acquired=lot.acquired,
            purchased=lot.bought_on, origin_id=self.origins.get((lot.account_id, lot.bought_as)),
            # An inherited lot's holding period starts before it passed (IRC §1223(9)), not by a wash sale.
            replacement=lot.wash_adjustment > 0 or (lot.acquired != lot.bought_on and not lot.inherited),
            unit_cost=unit, inherited=lot.inherited, gift_date=lot.gift_date, gift_unit_value=lot.gift_unit_value,
        )
        lot.quantity -= quantity
        lot.wash_adjustment -= wash
        lot.cost_basis -= cost + wash
        lot.unit_cost = unit
        if lot.pk is None:
            # Bought earlier the same day in this file (a day trade): not stored yet, so it is
            # written as what is left of it, or not at all.
            if lot.quantity == 0:
                self.created.remove(lot)
        elif lot.quantity == 0:
            self.changed.pop(lot.pk, None)
            self.emptied.append(lot.pk)
        else:
            self.changed[lot.pk] = lot
        return piece

    def relieve(self, order: Order, quantity: Decimal, sold: date) -> list[_Piece]:
        """Take ``quantity`` shares from the lots ``order`` names, in the order named, after the
        shares its earlier fills took. A sale on ``sold`` cannot take shares bought after it."""
        skip, need, pieces = order.filled_quantity, quantity, []
        for named in order.lots:
            planned = Decimal(named["quantity"])
            if skip >= planned:
                skip -= planned
                continue
            wanted = min(planned - skip, need)
            earlier, skip, left = skip, Decimal(0), wanted
            family = self.family(order.account_id, named["lot_id"])
            for lot in family:
                if left == 0:
                    break
                if lot.security_id != order.security_id:
                    # Specific identification names shares of the security sold (Pub. 550).
                    raise _Refused("quantity", f"lot {lot.lot_id} of account {order.account.custodian_number} holds "
                                   f"{lot.security.symbol}, not the {order.security.symbol} order {order.order_id} "
                                   "sells")
                taken = min(lot.quantity, left)
                if taken > 0 and lot.bought_on > sold:
                    # Shares bought after the sale were not there to sell: such a fill would book a
                    # sale before its purchase (gain, term and the wash-sale window all wrong).
                    raise _Refused("trade_date", f"lot {lot.lot_id} of account {order.account.custodian_number} "
                                   f"was bought on {lot.bought_on}, after this sale's trade date {sold}")
                if taken > 0 and lot.gift_date is not None and lot.gift_date > sold:
                    # A gift's day bought is the donor's; the donee owns the shares only from the gift
                    # (IRC §1015(a)): a sale before it would sell shares not yet the account's.
                    raise _Refused("trade_date", f"lot {lot.lot_id} of account {order.account.custodian_number} "
                                   f"was received as a gift on {lot.gift_date}, after this sale's trade date {sold}")
                if taken > 0:
                    pieces.append(self.take(lot, taken, named["lot_id"]))
                    left -= taken
            if left > 0:
                raise _Refused("quantity", _short_lot(order, named["lot_id"], held=wanted - left, sells=wanted,
                                                      earlier=earlier, named=planned,
                                                      now=sum(self.held_now.get(lot.pk, Decimal(0)) for lot in family)))
            need -= wanted
            if need == 0:
                return pieces
        if need > 0:
            raise _Refused("quantity", f"the lots named by order {order.order_id} hold {plain(quantity - need)} shares "
                           f"for this fill of {plain(quantity)}")
        return pieces

    def restore(self, realised: list[RealisedLot]) -> None:
        """Put the shares of these sales back in the lots they were taken from (``fill_order``): a lot
        emptied since is made again as it was, with its basis, wash-sale adjustment and dates. Each
        gives back the cost it took (a gift's the donor's, as ``take`` figured it), latest first."""
        for r in reversed(realised):
            purchase = (r.account_id, r.bought_as)
            self.sold_cost[purchase] -= (Fraction(r.unit_cost) * Fraction(r.quantity) if r.unit_cost is not None
                                         else Fraction(r.cost_basis - r.wash_adjustment))
            if r.gift_date is not None:  # the sale's basis was the gift's rule's; the lot's is the donor's
                [cost] = cents_running([Fraction(r.unit_cost) * Fraction(r.quantity)], before=self.sold_cost[purchase])
            else:
                cost = r.cost_basis - r.wash_adjustment
            lot = self.lots.get((r.account_id, r.lot_id))
            if lot is None:
                if r.gift_date is not None:  # back as the donor's: the sale's basis and start were its own
                    self.add(TaxLot(account_id=r.account_id, lot_id=r.lot_id, security_id=r.security_id,
                                    quantity=r.quantity, cost_basis=cost, acquired=r.purchased,
                                    purchase_lot_id=r.purchase_lot_id, unit_cost=r.unit_cost,
                                    gift_date=r.gift_date, gift_unit_value=r.gift_unit_value))
                    continue
                self.add(TaxLot(account_id=r.account_id, lot_id=r.lot_id, security_id=r.security_id,
                                quantity=r.quantity, cost_basis=r.cost_basis, acquired=r.acquired,
                                purchased=r.purchased if r.purchased != r.acquired else None,
                                purchase_lot_id=r.purchase_lot_id, wash_adjustment=r.wash_adjustment,
                                unit_cost=r.unit_cost, inherited=r.inherited))
                continue
            lot.quantity += r.quantity
            lot.wash_adjustment += r.wash_adjustment
            lot.cost_basis += cost + r.wash_adjustment
            if lot.pk is not None:
                if lot.pk in self.emptied:
                    self.emptied.remove(lot.pk)
                self.changed[lot.pk] = lot

    def add(self, lot: TaxLot) -> None:
        self.lots[(lot.account_id, lot.lot_id)] = lot
        self.by_account[lot.account_id].append(lot)
        self.created.append(lot)


def _short_lot(order: Order, lot_id: str, *, held: Decimal, sells: Decimal, earlier: Decimal, named: Decimal,
               now: Decimal) -> str:
    """A lot too small for a fill, in an operations user's words: what the lot holds (as the ledger
    shows it now, and in trade-date order when fills are taken again in that order and it differs),
    what this fill would sell from it, and the order's earlier fills apart."""
    shares = f"{plain(held)} share{'' if held == 1 else 's'}"
    holds = shares if held == now else f"{shares} in trade-date order ({plain(now)} in the ledger now)"
    before = f" ({plain(earlier)} of the {plain(named)} it names already sold by its earlier fills)" if earlier else ""
    return (f"lot {lot_id} of account {order.account.custodian_number} holds {holds}; this fill of order "
            f"{order.order_id} would sell {plain(sells)} from it{before}")


class _Ledger:
    """Applies executions to orders and a book in memory; ``write`` stores the result."""

    def __init__(self, orders: dict[str, Order], book: _Book, *, year: int, actor, source: str):
        self.orders, self.book, self.year, self.source = orders, book, year, source
        self.applied_by = actor if isinstance(actor, str) else (actor.get_username() if actor is not None else "system")
        self.executions: list[Execution] = []
        self.realised: list[RealisedLot] = []
        self.trades: list[TradeRecord] = []
        self.cash: dict[int, Decimal] = defaultdict(Decimal)
        # (account, tax year of the sale) -> gains: the year's figures (and an earlier year's) grow with them
        self.ytd: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(
            lambda: {"short": Decimal(0), "long": Decimal(0)})
        self.touched: dict[str, Order] = {}

    def apply(self, row: Row, booked: Execution | None = None) -> None:
        """Apply ``row``; ``booked``: the execution it already is, taken again in trade-date order
        (``fill_order``: not stored again, its cash already moved)."""
        order = self.orders[row.order_id]
        if order.status in _CLOSED:
            raise _Refused("order_id", f"order {order.order_id} is {order.get_status_display().lower()}; "
                           "nothing of it is open")
        open_quantity = order.open_quantity
        quantity = row.quantity if row.quantity is not None else open_quantity
        if quantity > open_quantity:
            verb = "cancels" if row.kind == "cancel" else "fills"
            raise _Refused("quantity", f"{verb} {plain(quantity)} shares but {plain(open_quantity)} of order "
                           f"{order.order_id} are open")
        execution = booked or Execution(external_id=row.external_id, order=order, kind=row.kind, quantity=quantity,
                                        price=row.price, fees=row.fees if row.kind == "fill" else Decimal(0),
                                        trade_date=row.trade_date, source=self.source,
                                        applied_by=self.applied_by[:200])
        if row.kind == "cancel":
            order.cancelled_quantity += quantity
        else:
            if order.side == "sell":
                self._sell(order, execution, cash=booked is None)
            else:
                self._buy(order, execution, row.lot_id or row.external_id)
            order.filled_quantity += quantity
        if order.open_quantity == 0:
            order.status = Order.Status.FILLED if order.cancelled_quantity == 0 else Order.Status.CANCELLED
            order.closed_at = timezone.now()
        elif order.filled_quantity > 0:
            order.status = Order.Status.PARTIALLY_FILLED
        if booked is None:
            self.executions.append(execution)
        self.touched[order.order_id] = order

    def _sell(self, order: Order, execution: Execution, *, cash: bool = True) -> None:
        pieces = self.book.relieve(order, execution.quantity, execution.trade_date)
        net = cents(execution.quantity * execution.price) - execution.fees
        total_gain = total_loss = Decimal(0)
        for piece, proceeds in zip(pieces, prorate(net, [p.quantity for p in pieces]), strict=True):
            basis, acquired = piece.cost_basis, piece.acquired
            if piece.gift_date is not None:  # IRC §1015(a): the donor's basis, or the gift day's value for a loss
                value = cents(piece.gift_unit_value * piece.quantity)
                basis = gift_basis(proceeds, piece.cost_basis, value)
                acquired = gift_start(proceeds, piece.cost_basis, value, piece.acquired, piece.gift_date)
            lot_term = term(acquired, execution.trade_date)
            gain = proceeds - basis
            total_gain += gain
            total_loss += min(gain, Decimal(0))
            self.realised.append(RealisedLot(
                account_id=order.account_id, execution=execution, lot_id=piece.lot_id, security_id=order.security_id,
                quantity=piece.quantity, proceeds=proceeds, cost_basis=basis, gain=gain, term=lot_term,
                acquired=acquired, purchased=piece.purchased, sold=execution.trade_date,
                origin_id=piece.origin_id, replacement=piece.replacement, wash_adjustment=piece.wash_adjustment,
                unit_cost=piece.unit_cost, inherited=piece.inherited, gift_date=piece.gift_date,
                gift_unit_value=piece.gift_unit_value,
                named_lot_id="" if piece.named == piece.lot_id else piece.named,
                purchase_lot_id="" if piece.bought_as == piece.lot_id else piece.bought_as,
            ))
            self.ytd[order.account_id, execution.trade_date.year][lot_term] += gain
        if cash:
            self.cash[order.account_id] += net
        self._trade(order, execution, realised_gain=total_gain, realised_loss=total_loss)

    def _buy(self, order: Order, execution: Execution, lot_id: str) -> None:
        key = (order.account_id, lot_id)
        if key in self.book.lots or key in self.book.origins:
            raise _Refused("lot_id" if lot_id != execution.external_id else "external_id",
                           f"account {order.account.custodian_number} already has a lot {lot_id!r}; "
                           "name the new lot in the lot_id column")
        cost = cents(execution.quantity * execution.price) + execution.fees
        execution.lot_id = lot_id
        self.book.add(TaxLot(account_id=order.account_id, lot_id=lot_id, security_id=order.security_id,
                             quantity=execution.quantity, cost_basis=cost, acquired=execution.trade_date,
                             unit_cost=unit_cost(cost, execution.quantity)))
        self.cash[order.account_id] -= cost
        self._trade(order, execution, realised_gain=None)

    def _trade(self, order: Order, execution: Execution, *, realised_gain: Decimal | None,
               realised_loss: Decimal | None = None) -> None:
        # The engine reads the household's last 30 days of trades for its wash-sale rules.
        self.trades.append(TradeRecord(
            account_id=order.account_id, security_id=order.security_id, side=order.side,
            quantity=execution.quantity, price=execution.price, trade_date=execution.trade_date,
            realised_gain=realised_gain, realised_loss=realised_loss, external_id=execution.external_id,
        ))

    def write(self) -> None:
        Execution.objects.bulk_create(self.executions)
        RealisedLot.objects.bulk_create(self.realised)
        book = self.book
        TaxLot.objects.filter(pk__in=book.emptied).delete()
        TaxLot.objects.bulk_update(list(book.changed.values()),
                                   ["quantity", "cost_basis", "wash_adjustment", "unit_cost"], batch_size=500)
        TaxLot.objects.bulk_create(book.created)
        known = set(TradeRecord.objects.filter(external_id__in=[t.external_id for t in self.trades])
                    .values_list("account_id", "external_id"))
        TradeRecord.objects.bulk_create([t for t in self.trades if (t.account_id, t.external_id) not in known])
        for account_id, cash in self.cash.items():
            Account.objects.filter(pk=account_id).update(cash=F("cash") + cash)
        Account.objects.realised_add(self.ytd, year=self.year)
        Order.objects.bulk_update(list(self.touched.values()),
                                  ["status", "filled_quantity", "cancelled_quantity", "closed_at"])
