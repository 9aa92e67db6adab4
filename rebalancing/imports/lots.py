"""The position file: tax lots, a full snapshot of each account in it."""

from datetime import date
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.utils import timezone

from rebalancing.models import Account, Price, Security, TaxLot

from .cells import (
    MAX_AMOUNT,
    MAX_SHARES,
    boolean_cells,
    date_cells,
    decimal_cells,
    distinct,
    duplicates_report,
    references_map,
    text_cells,
)
from .report import ImportSummary
from .rows import ids_by, import_begin, records
from .sheet import Source, sheet_read

__all__ = ["lots_import"]

KIND = "lots"
REQUIRED = ("account_number", "lot_id", "symbol", "quantity", "cost_basis", "acquired")
# ``inherited``: yes for shares acquired from a decedent (``acquired`` is then the day they passed).
# ``gift_date`` and ``gift_value``: shares received as a gift on that day, worth that much then
# (the lot's fair market value, like ``cost_basis`` a total; ``acquired`` and ``cost_basis`` are
# the donor's, IRC §1015(a)).
OPTIONAL = ("inherited", "gift_date", "gift_value")
_UNIT = Decimal(1).scaleb(-TaxLot._meta.get_field("gift_unit_value").decimal_places)
_LOT_COLUMNS = REQUIRED[1:]
_field = TaxLot._meta.get_field


@transaction.atomic
def lots_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Replace the lots of every account in the file with the file's lots (matched by lot id, so an
    unchanged lot is not rewritten); accounts not in the file keep theirs.

    A row with only an account number says the account holds no lots (a custodian's snapshot of an
    emptied account). quantity > 0, cost_basis >= 0, acquired not after ``as_of`` (default today);
    ``inherited`` (optional, yes/no): shares acquired from a decedent on ``acquired``; ``gift_date``
    and ``gift_value`` (optional, both or neither): received as a gift that day, worth that then.
    Refused (``ImportRejected``, nothing written) if it would change or remove a lot that a released
    sale still open names (``_open_sales_report``).
    """
    as_of = as_of or timezone.localdate()
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    numbers = text_cells(sheet, "account_number", field=Account._meta.get_field("custodian_number"), required=True)
    known_accounts = ids_by(Account, "custodian_number", distinct(numbers))
    account_ids = references_map(sheet, "account_number", numbers, known_accounts, "account")
    emptied = sheet.frame.index[(sheet.frame[[c for c in (*_LOT_COLUMNS, *OPTIONAL) if sheet.has(c)]] == "")
                                .all(axis=1)]
    lots = sheet.without(emptied)
    _emptied_with_lots_report(sheet, numbers, emptied, lots.frame.index)

    lot_ids = text_cells(lots, "lot_id", field=_field("lot_id"), required=True)
    symbols = text_cells(lots, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    quantities = decimal_cells(lots, "quantity", field=_field("quantity"), positive=True,
                               plausible=(MAX_SHARES, "shares in one lot"))
    costs = decimal_cells(lots, "cost_basis", field=_field("cost_basis"), minimum=Decimal(0),
                          plausible=(MAX_AMOUNT, "dollars of cost in one lot"))
    acquired = date_cells(lots, "acquired", not_after=as_of)
    # Without the column a lot keeps the ledger's mark (a custodian's file may not carry it).
    marks = {"inherited": boolean_cells(lots, "inherited").map(lambda v: v is True)} if lots.has("inherited") else {}
    if lots.has("gift_date") or lots.has("gift_value"):
        marks.update(_gifts(lots, quantities, acquired, marks.get("inherited"), as_of))
    duplicates_report(lots, {"account_number": numbers[lots.frame.index], "lot_id": lot_ids}, "account and lot id")
    known_securities = ids_by(Security, "symbol", distinct(symbols))
    security_ids = references_map(lots, "symbol", symbols, known_securities, "symbol")
    _worth_report(lots, quantities, security_ids, symbols, as_of)
    sheet.problems.reject_if_any()

    rows = records({
        "account_id": account_ids[lots.frame.index], "lot_id": lot_ids, "security_id": security_ids,
        "quantity": quantities, "cost_basis": costs, "acquired": acquired, **marks,
    })
    # The file has the lots as bought; the ledger's are compared as bought, then the household's
    # wash sales are replayed over what changed (a lot bought inside a window is a purchase too).
    from rebalancing.ledger.adjustments import LEDGER_LOCK, wash_sales_recompute
    from rebalancing.ledger.holdings import held_lots_as_bought, held_lots_replace

    import_begin(LEDGER_LOCK)  # (before reading the ledger: a fill applied meanwhile would be missed)
    existing = held_lots_as_bought(distinct(account_ids))
    _open_sales_report(sheet, account_ids, lot_ids, rows, existing)
    sheet.problems.reject_if_any()
    changes, touched = held_lots_replace(rows=rows, existing=existing, copy=True)
    wash_sales_recompute(account_ids={a for a, _ in touched}, security_ids={s for _, s in touched},
                         year=as_of.year, actor="lots file", trigger="lots file")
    from rebalancing.services.proposals import proposals_supersede_lots_changed

    superseded = proposals_supersede_lots_changed(account_ids={a for a, _ in touched},
                                                  because="the account's lots changed (lots file)")
    notes = (f"{superseded} open proposal{'s' if superseded != 1 else ''} of accounts whose lots changed "
             f"superseded: rebalance {'them' if superseded != 1 else 'it'} again",) if superseded else ()
    return ImportSummary(
        KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged, len(changes.delete_ids),
        notes=notes,
    )


# The file's column that carries a lot's field, for a problem's column.
_COLUMN_OF = {"security_id": "symbol", "quantity": "quantity", "cost_basis": "cost_basis", "acquired": "acquired",
              "inherited": "inherited", "gift_date": "gift_date", "gift_unit_value": "gift_value"}


def _open_sales_report(sheet, account_ids: pd.Series, lot_ids: pd.Series, rows: list[dict], existing: list[dict]) -> None:
    """A lot that a released sale still open names shares of, not yet sold, is not the file's to
    change or remove: the order is at the custodian naming those shares (specific identification,
    IRS Pub. 550 "Adequate identification"), and replaced they could no longer be sold as released
    (its fills refused, or booked at another basis or date). The rule and its words are the
    reconciliation's (``open_orders_on_changed_lots``); here each is named on the lot's line (a lot
    the file leaves out: on its account's first line)."""
    from rebalancing.ledger.reconciliation import open_orders_on_replaced_lots

    found = open_orders_on_replaced_lots(rows=rows, existing=existing, account_ids=distinct(account_ids))
    if not found:
        return
    line_of = {(account_id, lot_id): line for line, account_id, lot_id
               in zip(lot_ids.index, account_ids[lot_ids.index].tolist(), lot_ids.tolist(), strict=True)}
    first_line: dict[int, int] = {}
    for line, account_id in account_ids.items():
        first_line.setdefault(account_id, line)
    for account_id, sales in found.items():
        for sale in sales:
            if sale.problem == "only in the ledger":
                line, column = first_line[account_id], "account_number"
            elif sale.problem == "only at the custodian":
                line, column = line_of[(account_id, sale.bought_as)], "lot_id"
            else:
                line = line_of[(account_id, sale.bought_as)]
                column = _COLUMN_OF["quantity" if "quantity" in sale.fields else sale.fields[0]]
            sheet.problems.add(line, column, (
                f"account {sale.account}: {sale.words('this')}; the order was released to sell the lot's shares "
                "as the ledger holds them, so the file may not change the lot while it is open. The custodian may "
                "have filled or cancelled it already: import those executions first, then this file again"))


def _worth_report(lots, quantities: pd.Series, security_ids: pd.Series, symbols: pd.Series, as_of: date) -> None:
    """A lot worth more than MAX_AMOUNT at its security's latest price on ``as_of``: no client account
    holds that (a mistyped quantity would make the account worth trillions)."""
    ids = {i for i in security_ids.tolist() if isinstance(i, int)}
    closes = dict(Price.objects.latest_on(as_of).filter(security_id__in=ids).values_list("security_id", "close"))
    for line, quantity, security_id, symbol in zip(lots.frame.index, quantities.tolist(), security_ids.tolist(),
                                                   symbols.tolist(), strict=True):
        close = closes.get(security_id) if isinstance(security_id, int) else None
        if isinstance(quantity, Decimal) and close is not None and quantity * close > MAX_AMOUNT:
            lots.problems.add(line, "quantity", f"{quantity.normalize():,f} shares of {symbol} at its latest price, "
                              f"${close.normalize():,f}, are worth ${quantity * close:,.0f}: more than any client "
                              f"account holds in one lot (at most ${int(MAX_AMOUNT):,})")


def _emptied_with_lots_report(sheet, numbers: pd.Series, emptied: pd.Index, lot_rows: pd.Index) -> None:
    """A row saying an account holds nothing and another giving it a lot contradict each other: the
    file is two snapshots of one account (two files pasted together?), and which one is meant is not
    for the import to guess."""
    first_lot_row = {}
    for line, number in numbers[lot_rows].items():
        first_lot_row.setdefault(number, line)
    for line, number in numbers[emptied].items():
        if isinstance(number, str) and number and number in first_lot_row:
            sheet.problems.add(line, "lot_id", f"is empty, saying account {number} holds nothing, but row "
                                               f"{first_lot_row[number]} gives it a lot")


def _gifts(lots, quantities, acquired, inherited, as_of: date) -> dict:
    """``gift_date`` and ``gift_unit_value`` per row from the gift columns, a problem named on each
    row that gives one without the other, a gift before the donor's acquisition, or both a gift and
    an inheritance. Without the columns a lot keeps the ledger's (a custodian's file may not carry them)."""
    empty = [None] * lots.rows
    days = date_cells(lots, "gift_date", required=False, not_after=as_of).tolist() if lots.has("gift_date") else empty
    values = (decimal_cells(lots, "gift_value", field=_field("cost_basis"), required=False, minimum=Decimal(0),
                            plausible=(MAX_AMOUNT, "dollars of value in one lot")).tolist()
              if lots.has("gift_value") else empty)
    inherited = inherited.tolist() if inherited is not None else [False] * lots.rows
    units = []
    for line, day, value, q, bought, passed in zip(lots.frame.index, days, values, quantities.tolist(),
                                                   acquired.tolist(), inherited, strict=True):
        units.append(None)
        if day is None and value is None:
            continue
        if (day is None) != (value is None):
            missing = "gift_value" if value is None else "gift_date"
            lots.problems.add(line, missing, "is empty; a gift needs both its date and the lot's value on that day")
        elif isinstance(day, date) and isinstance(bought, date) and day < bought:
            lots.problems.add(line, "gift_date", f"{day.isoformat()} is before the donor acquired the shares "
                              f"({bought.isoformat()}, the acquired column)")
        elif passed is True:
            lots.problems.add(line, "gift_date", "a lot is inherited or a gift, not both")
        elif isinstance(value, Decimal) and isinstance(q, Decimal) and q > 0:
            units[-1] = (value / q).quantize(_UNIT)
    return {"gift_date": pd.Series([d if isinstance(d, date) else None for d in days], index=lots.frame.index,
                                   dtype=object),
            "gift_unit_value": pd.Series(units, index=lots.frame.index, dtype=object)}
