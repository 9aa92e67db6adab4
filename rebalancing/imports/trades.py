"""The trade file: executed trades, upserted by (account, external id); wash-sale rules read them."""

from datetime import date
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.utils import timezone

from rebalancing.ledger.account_opening import opening_days, trade_before_opening_problem
from rebalancing.models import Account, Security, TradeRecord

from .cells import (
    MAX_AMOUNT,
    MAX_SHARES,
    CellProblem,
    boolean_cells,
    column_parse,
    date_cells,
    decimal_cells,
    distinct,
    duplicates_report,
    references_map,
    required_cells,
    text_cells,
)
from .report import ImportSummary
from .rows import changes_apply, changes_plan, ids_by, import_begin, records
from .sheet import Source, sheet_read

__all__ = ["trades_import"]

KIND = "trades"
REQUIRED = ("account_number", "symbol", "side", "quantity", "price", "trade_date", "external_id")
OPTIONAL = ("realised_gain", "cancelled")
_SIDES = {"buy": "buy", "b": "buy", "sell": "sell", "s": "sell"}
_field = TradeRecord._meta.get_field


def _side(text: str) -> str:
    try:
        return _SIDES[text.lower()]
    except KeyError:
        raise CellProblem(f"{text!r} is not a side; write buy or sell") from None


def _before_opening_report(sheet, numbers, columns: dict) -> None:
    """A trade dated before its account was opened (``ledger.account_opening``); a bust does not count."""
    cancelled = columns.get("cancelled", pd.Series([None] * len(numbers), index=numbers.index, dtype=object))
    account_ids = columns["account_id"]
    opened = opening_days(a for a in account_ids if isinstance(a, int))
    for line, number, account_id, day, bust in zip(numbers.index, numbers, account_ids, columns["trade_date"],
                                                   cancelled, strict=True):
        if isinstance(account_id, int) and isinstance(day, date) and bust is not True:
            problem = trade_before_opening_problem(account=number, opened_on=opened.get(account_id), trade_date=day)
            if problem:
                sheet.problems.add(line, "trade_date", problem)


@transaction.atomic
def trades_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Create or update trades by (account, external id). quantity > 0, price >= 0, trade_date not
    after ``as_of`` (default today); realised_gain is signed and may be empty."""
    as_of = as_of or timezone.localdate()
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    numbers = text_cells(sheet, "account_number", field=Account._meta.get_field("custodian_number"), required=True)
    symbols = text_cells(sheet, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    columns = {
        "side": required_cells(sheet, "side", column_parse(sheet, "side", _side), "buy or sell"),
        "quantity": decimal_cells(sheet, "quantity", field=_field("quantity"), positive=True,
                                  plausible=(MAX_SHARES, "shares in one trade")),
        "price": decimal_cells(sheet, "price", field=_field("price"), minimum=Decimal(0)),
        "trade_date": date_cells(sheet, "trade_date", not_after=as_of),
        "external_id": text_cells(sheet, "external_id", field=_field("external_id"), required=True),
    }
    if sheet.has("cancelled"):
        columns["cancelled"] = boolean_cells(sheet, "cancelled")
    if sheet.has("realised_gain"):
        # Either sign: a loss beyond the bound is as much a column mix-up as a gain (Plausibility).
        columns["realised_gain"] = decimal_cells(sheet, "realised_gain", field=_field("realised_gain"), required=False,
                                                 plausible=(MAX_AMOUNT, "dollars of gain or loss on one trade"))
        # A buy realises nothing (docs/csv-formats.md: "empty for a buy"); a gain on one is a column mix-up.
        on_buy = (columns["side"] == "buy") & (sheet.cells("realised_gain") != "")
        sheet.problems.add_rows(sheet.cells("realised_gain").index[on_buy.astype(bool)], "realised_gain",
                                "a buy realises no gain or loss; leave realised_gain empty for a buy")
    duplicates_report(sheet, {"account_number": numbers, "external_id": columns["external_id"]}, "account and external id")
    known_accounts = ids_by(Account, "custodian_number", distinct(numbers))
    columns["account_id"] = references_map(sheet, "account_number", numbers, known_accounts, "account")
    known_securities = ids_by(Security, "symbol", distinct(symbols))
    columns["security_id"] = references_map(sheet, "symbol", symbols, known_securities, "symbol")
    _before_opening_report(sheet, numbers, columns)
    sheet.problems.reject_if_any()

    rows = records(columns, keep_when_empty=("cancelled",))
    existing = TradeRecord.objects.filter(
        account_id__in=distinct(columns["account_id"]), external_id__in=distinct(columns["external_id"])
    ).order_by().values("id", *sorted({name for row in rows for name in row}))
    existing = list(existing)
    changes = changes_plan(rows=rows, existing=existing, key=("account_id", "external_id"))
    changes_apply(TradeRecord, changes)
    # A purchase in any account of a household can wash a loss sale in another (Pub. 550).
    touched = {(row["account_id"], row["security_id"]) for row in (*changes.create, *changes.update)}
    before = {row["id"]: row for row in existing}
    touched |= {(before[row["id"]]["account_id"], before[row["id"]]["security_id"]) for row in changes.update}
    if touched:
        from rebalancing.ledger.adjustments import LEDGER_LOCK, wash_sales_recompute

        import_begin(LEDGER_LOCK)
        wash_sales_recompute(account_ids={a for a, _ in touched}, security_ids={s for _, s in touched},
                             year=as_of.year, actor="trades file", trigger="trades file")
    return ImportSummary(KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged)
