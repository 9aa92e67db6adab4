"""The fills of a sale order take its named lots in trade-date order, whatever order they arrive in.

A sale order names lots (specific identification) and each fill takes the next shares of that list.
Which shares a fill takes decides its basis, its term and the wash-sale window its loss opens, so it
must follow the fills' trade dates, not the files they came in: an order naming A-1-L2 (50 shares,
short-term) then A-1-L1 (100, long-term), filled 100 on 11-20 and then 50 on 11-18, sells A-1-L2's
50 on 11-18 and A-1-L1's 100 on 11-20 - also when the 11-20 fill was booked first.

So when a file brings a sale fill that comes, in that order (trade date, then the custodian's
execution id), before fills of the same order already booked, those booked fills are taken back:
their shares return to the lots they came from, their realised rows and trade records go, the
year's realised gains lose them; and they are applied again, in order, with the new ones. Their
cash stays (the proceeds of a fill do not depend on which shares it sold). The wash-sale replay then
runs on the corrected history, and what changed in the booked sales is kept as a
``WashSaleRecalculation`` (the trail the period's reports list), with an audit row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from rebalancing.models import Account, Execution, Order, RealisedLot, TradeRecord, WashSaleRecalculation
from tenants.audit.services import audit_record

from .adjustments import group_key
from .execution_file import Row

__all__ = ["Reallocation", "fill_order_key"]


def fill_order_key(row: Row, side: str) -> tuple:
    """The order fills are applied in: by trade date; within a day purchases first (a sale may take
    shares bought that day); then by the custodian's execution id, so the result is a function of
    the fills alone, as the wash-sale replay's order of draws is."""
    return row.trade_date, side == "sell", row.external_id


def _row_of(execution: Execution) -> Row:
    return Row(line=0, external_id=execution.external_id, order_id=execution.order.order_id, kind=execution.kind,
               quantity=execution.quantity, price=execution.price, fees=execution.fees,
               trade_date=execution.trade_date, lot_id="", account_number="", symbol="", side=None)


class Reallocation:
    """The booked sale fills that new fills come before, taken back and applied again in order."""

    def __init__(self, new: list[Row], orders: dict[str, Order]):
        first_new: dict[str, tuple] = {}
        for row in new:
            order = orders[row.order_id]
            if row.kind == "fill" and order.side == "sell":
                key = fill_order_key(row, order.side)
                first_new[row.order_id] = min(first_new.get(row.order_id, key), key)
        booked = (Execution.objects.filter(order__order_id__in=list(first_new), kind=Execution.Kind.FILL)
                  .select_related("order", "order__account", "order__security").order_by("trade_date", "external_id"))
        self.executions: dict[str, Execution] = {
            e.external_id: e for e in booked if fill_order_key(_row_of(e), "sell") > first_new[e.order.order_id]}
        self.rows = [_row_of(e) for e in self.executions.values()]
        self.realised = list(RealisedLot.objects.filter(execution__in=list(self.executions.values()))
                             .select_related("execution").order_by("pk"))

    def __bool__(self) -> bool:
        return bool(self.executions)

    def execution(self, row: Row) -> Execution | None:
        """The booked execution a row applies again (None: a new one)."""
        return self.executions.get(row.external_id) if row.line == 0 else None

    def take_back(self, orders: dict[str, Order], book) -> None:
        """In memory: the shares back in ``book``'s lots, the orders' fills undone."""
        book.restore(self.realised)
        for execution in self.executions.values():
            order = orders[execution.order.order_id]
            order.filled_quantity -= execution.quantity
            order.status = Order.Status.PARTIALLY_FILLED if order.filled_quantity > 0 else Order.Status.OPEN
            order.closed_at = None

    def write_back(self, *, year: int) -> None:
        """In the database (after ``take_back`` on the orders and a book written by the caller): the
        realised rows and trade records of the fills taken back go, and their gains leave the year's."""
        ytd: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: {"short": Decimal(0), "long": Decimal(0)})
        for r in self.realised:
            ytd[r.account_id, r.sold.year][r.term] -= r.gain + r.disallowed_loss
        RealisedLot.objects.filter(pk__in=[r.pk for r in self.realised]).delete()
        for execution in self.executions.values():
            TradeRecord.objects.filter(account_id=execution.order.account_id, side="sell",
                                       external_id=execution.external_id).delete()
        Account.objects.realised_add(ytd, year=year)

    def record(self, *, actor, source: str) -> int:
        """What taking the booked fills again changed in their sales, kept per household and
        equivalence group for the reports; the number of sales that changed."""
        before = _figures(self.realised)
        after = _figures(RealisedLot.objects.filter(execution__in=list(self.executions.values()))
                         .select_related("execution"))
        by_group: dict[tuple[int, str], list[dict]] = defaultdict(list)
        zero = {"quantity": Decimal(0), "cost_basis": Decimal(0), "gain": Decimal(0), "terms": set()}
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key, zero), after.get(key, zero)
            execution = self.executions[key[0]]
            account = execution.order.account
            for name in ("quantity", "cost_basis", "gain", "terms"):
                if old[name] != new[name]:
                    render = (lambda v: "/".join(sorted(v))) if name == "terms" else str
                    by_group[(account.household_id, group_key(execution.order.security))].append({
                        "account": account.custodian_number, "lot_id": key[1], "sold": str(execution.trade_date),
                        "field": "term" if name == "terms" else name, "before": render(old[name]),
                        "after": render(new[name])})
        sales = 0
        for (household_id, group), changes in sorted(by_group.items()):
            days = [date.fromisoformat(c["sold"]) for c in changes]
            recalculation = WashSaleRecalculation.objects.create(
                household_id=household_id, group=group,
                trigger=(f"executions from {source}: a fill dated before fills of the same order already booked; "
                         "those fills take the order's lots again in trade-date order")[:200],
                actor=actor if isinstance(actor, str) else (actor.get_username() if actor is not None else "system"),
                first_sold=min(days), last_sold=max(days), changes=changes)
            changed = len({(c["account"], c["lot_id"], c["sold"]) for c in changes})
            audit_record(actor=actor, action="ledger.fills_reordered", obj=recalculation,
                         before={"sales": changed}, after={"changes": changes[:50]},
                         comment="fills of one sale order take its named lots in trade-date order")
            sales += changed
        return sales


def _figures(rows) -> dict[tuple[str, str], dict]:
    """A booked fill's sale per lot as bought: shares, basis, gain, terms."""
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        f = out.setdefault((r.execution.external_id, r.bought_as),
                           {"quantity": Decimal(0), "cost_basis": Decimal(0), "gain": Decimal(0), "terms": set()})
        f["quantity"] += r.quantity
        f["cost_basis"] += r.cost_basis
        f["gain"] += r.gain
        f["terms"].add(r.term)
    return out
