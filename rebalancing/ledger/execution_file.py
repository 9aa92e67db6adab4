"""An executions file (or the API's records) read into rows: cells checked, problems reported by
row and column in the imports' format; nothing applied here (``executions`` applies them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from rebalancing.imports.cells import (
    INVALID,
    MAX_AMOUNT,
    CellProblem,
    column_parse,
    date_cells,
    decimal_cells,
    duplicates_report,
    single_value_problem,
    text_cells,
)
from rebalancing.imports.report import Problems
from rebalancing.imports.sheet import Sheet
from rebalancing.models import Account, Execution, Order, Security, TaxLot

__all__ = ["KIND", "OPTIONAL", "REQUIRED", "Row", "columns_differing", "rows_read", "sheet_from_records"]

KIND = "executions"
REQUIRED = ("external_id", "order_id", "quantity", "trade_date")
OPTIONAL = ("kind", "price", "fees", "lot_id", "account_number", "symbol", "side")
_KINDS = {"fill": "fill", "f": "fill", "cancel": "cancel", "c": "cancel", "cxl": "cancel"}
_SIDES = {"buy": "buy", "b": "buy", "sell": "sell", "s": "sell"}
_field = Execution._meta.get_field


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def sheet_from_records(records) -> Sheet:
    problems = Problems(KIND)
    if not isinstance(records, list):
        problems.add(1, None, "expected a list of executions")
        problems.reject_if_any()
    columns = (*REQUIRED, *OPTIONAL)
    rows = []
    # Numbered as the lines of the same executions sent as a CSV file (header line 1), as the
    # imports number JSON rows: the n-th record is row n + 1, whichever way it was sent.
    for n, item in enumerate(records, start=2):
        if not isinstance(item, dict):
            problems.add(n, None, "is not an object of named fields")
            continue
        for key, value in item.items():
            if key not in columns:
                problems.add(n, key, f"unknown field; the fields of an execution are {', '.join(columns)}")
            elif problem := single_value_problem(value):  # no column of an execution takes a list
                problems.add(n, key, problem)
        rows.append({name: _text(item.get(name)) for name in columns})
    problems.reject_if_any()
    frame = pd.DataFrame(rows, columns=list(columns), dtype=str)
    frame.index = pd.RangeIndex(2, len(rows) + 2, name="row")
    return Sheet(KIND, frame, problems)


@dataclass
class Row:
    line: int
    external_id: str
    order_id: str
    kind: str
    quantity: Decimal | None
    price: Decimal | None
    fees: Decimal
    trade_date: date
    lot_id: str
    account_number: str
    symbol: str
    side: str | None


def _choice(mapping: dict[str, str], what: str):
    def parse(text: str) -> str:
        try:
            return mapping[text.lower()]
        except KeyError:
            raise CellProblem(f"{text!r} is not {what}") from None

    return parse


def _optional(sheet: Sheet, column: str, read, default=None) -> pd.Series:
    if sheet.has(column):
        return read()
    return pd.Series([default] * sheet.rows, index=sheet.frame.index, dtype=object)


def rows_read(sheet: Sheet, as_of: date) -> list[Row]:
    columns = {
        "external_id": text_cells(sheet, "external_id", field=_field("external_id"), required=True),
        "order_id": text_cells(sheet, "order_id", field=Order._meta.get_field("order_id"), required=True),
        "kind": _optional(sheet, "kind", lambda: column_parse(sheet, "kind", _choice(_KINDS, "fill or cancel"))),
        "quantity": decimal_cells(sheet, "quantity", field=_field("quantity"), required=False, positive=True),
        "price": _optional(sheet, "price", lambda: decimal_cells(sheet, "price", field=_field("price"),
                                                                 required=False, positive=True)),
        "fees": _optional(sheet, "fees", lambda: decimal_cells(sheet, "fees", field=_field("fees"), required=False,
                                                               minimum=Decimal(0),
                                                               plausible=(MAX_AMOUNT, "dollars of fees on one fill"))),
        "trade_date": date_cells(sheet, "trade_date", not_after=as_of),
        "lot_id": _optional(sheet, "lot_id", lambda: text_cells(sheet, "lot_id", field=TaxLot._meta.get_field("lot_id")), ""),
        "account_number": _optional(sheet, "account_number", lambda: text_cells(
            sheet, "account_number", field=Account._meta.get_field("custodian_number")), ""),
        "symbol": _optional(sheet, "symbol", lambda: text_cells(sheet, "symbol", field=Security._meta.get_field("symbol"),
                                                                upper=True), ""),
        "side": _optional(sheet, "side", lambda: column_parse(sheet, "side", _choice(_SIDES, "a side; write buy or sell"))),
    }
    duplicates_report(sheet, {"external_id": columns["external_id"]}, "external id")
    rows = []
    for line, *values in zip(sheet.frame.index, *columns.values(), strict=True):
        if any(value is INVALID for value in values):
            continue  # already reported
        cells = dict(zip(columns, values, strict=True))
        kind = cells["kind"] or "fill"
        if kind == "fill":
            if cells["quantity"] is None:
                sheet.problems.add(line, "quantity", "is empty; a fill needs the shares filled")
            if cells["price"] is None:
                sheet.problems.add(line, "price", "is empty; a fill needs its price")
            elif cells["quantity"] is not None and (problem := _fees_problem(cells["fees"], cells["quantity"],
                                                                             cells["price"])):
                sheet.problems.add(line, "fees", problem)
        elif cells["price"] is not None:
            sheet.problems.add(line, "price", "a cancel has no price; leave it empty")
        rows.append(Row(line=int(line), kind=kind, fees=cells["fees"] or Decimal(0),
                         **{name: cells[name] for name in ("external_id", "order_id", "quantity", "price",
                                                           "trade_date", "lot_id", "account_number", "symbol",
                                                           "side")}))
    return rows


# A fill's fees are its commission and the regulators' charges (SEC Section 31 fee, FINRA TAF): a
# small part of what it traded. They may exceed a tiny fill's gross value only by a ticket's minimum
# charge (a broker-assisted trade's minimum commission is tens of dollars); fees beyond both are a
# value from another column (an account number, a value in cents), which booked would
# put a loss of that size on Schedule D.
MAX_TICKET_CHARGE = Decimal(100)


def _fees_problem(fees: Decimal | None, quantity: Decimal, price: Decimal) -> str | None:
    gross = quantity * price
    if fees is None or fees <= max(gross, MAX_TICKET_CHARGE):
        return None
    return (f"${fees:,.2f} of fees on a fill worth ${gross:,.2f} ({quantity:g} at {price:g}): a fill's fees (commission "
            f"and regulatory fees) are at most its gross value, or a minimum ticket charge of at most "
            f"${MAX_TICKET_CHARGE:,.0f} on a smaller fill; is a value from another column (an account number, "
            "a value in cents) here?")


def columns_differing(stored: Execution, row: Row) -> list[str]:
    """The columns in which ``row`` differs from the execution stored under its id."""
    differing = []
    if stored.order.order_id != row.order_id:
        differing.append("order_id")
    if stored.kind != row.kind:
        differing.append("kind")
    if row.quantity is not None and stored.quantity != row.quantity:
        differing.append("quantity")
    if stored.kind == "fill" and (stored.price != row.price or stored.fees != row.fees):
        differing.append("price" if stored.price != row.price else "fees")
    if stored.trade_date != row.trade_date:
        differing.append("trade_date")
    return differing
