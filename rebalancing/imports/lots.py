"""The position file: tax lots, a full snapshot of each account in it."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.models import Account, Security, TaxLot

from .cells import (
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
OPTIONAL = ("inherited",)
_LOT_COLUMNS = REQUIRED[1:]
_field = TaxLot._meta.get_field


@transaction.atomic
def lots_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Replace the lots of every account in the file with the file's lots (matched by lot id, so an
    unchanged lot is not rewritten); accounts not in the file keep theirs.

    A row with only an account number says the account holds no lots (a custodian's snapshot of an
    emptied account). quantity > 0, cost_basis >= 0, acquired not after ``as_of`` (default today);
    ``inherited`` (optional, yes/no): shares acquired from a decedent on ``acquired``.
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

    lot_ids = text_cells(lots, "lot_id", field=_field("lot_id"), required=True)
    symbols = text_cells(lots, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    quantities = decimal_cells(lots, "quantity", field=_field("quantity"), positive=True)
    costs = decimal_cells(lots, "cost_basis", field=_field("cost_basis"), minimum=Decimal(0))
    acquired = date_cells(lots, "acquired", not_after=as_of)
    # Without the column a lot keeps the ledger's mark (a custodian's file may not carry it).
    marks = {"inherited": boolean_cells(lots, "inherited").map(lambda v: v is True)} if lots.has("inherited") else {}
    duplicates_report(lots, {"account_number": numbers[lots.frame.index], "lot_id": lot_ids}, "account and lot id")
    known_securities = ids_by(Security, "symbol", distinct(symbols))
    security_ids = references_map(lots, "symbol", symbols, known_securities, "symbol")
    sheet.problems.reject_if_any()

    rows = records({
        "account_id": account_ids[lots.frame.index], "lot_id": lot_ids, "security_id": security_ids,
        "quantity": quantities, "cost_basis": costs, "acquired": acquired, **marks,
    })
    # The file has the lots as bought; the ledger's are compared as bought, then the household's
    # wash sales are replayed over what changed (a lot bought inside a window is a purchase too).
    from rebalancing.ledger.adjustments import LEDGER_LOCK, wash_sales_recompute
    from rebalancing.ledger.holdings import held_lots_as_bought, held_lots_replace

    import_begin(LEDGER_LOCK)
    changes, touched = held_lots_replace(rows=rows, existing=held_lots_as_bought(distinct(account_ids)), copy=True)
    wash_sales_recompute(account_ids={a for a, _ in touched}, security_ids={s for _, s in touched},
                         year=as_of.year, actor="lots file", trigger="lots file")
    return ImportSummary(
        KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged, len(changes.delete_ids)
    )
