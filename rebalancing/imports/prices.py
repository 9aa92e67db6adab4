"""The price file: closing prices, upserted by (symbol, date)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from rebalancing.models import Price, Security

from .cells import date_cells, decimal_cells, distinct, duplicates_report, references_map, text_cells
from .report import ImportSummary
from .rows import changes_apply, changes_plan, ids_by, import_begin, records
from .sheet import Source, sheet_read

__all__ = ["prices_import"]

KIND = "prices"
REQUIRED = ("symbol", "date", "close")


@transaction.atomic
def prices_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Create or update closing prices by (symbol, date). A close must be above 0; a date must not be
    after ``as_of`` (default today); the symbol must be in the security master."""
    as_of = as_of or timezone.localdate()
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED)
    symbols = text_cells(sheet, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    dates = date_cells(sheet, "date", not_after=as_of)
    closes = decimal_cells(sheet, "close", field=Price._meta.get_field("close"), positive=True)
    duplicates_report(sheet, {"symbol": symbols, "date": dates}, "symbol and date")
    known = ids_by(Security, "symbol", distinct(symbols))
    security_ids = references_map(sheet, "symbol", symbols, known, "symbol")
    sheet.problems.reject_if_any()

    rows = records({"security_id": security_ids, "date": dates, "close": closes})
    # A superset of the rows the file names (every date of every symbol in it); matched by key below.
    existing = Price.objects.filter(
        security_id__in=distinct(security_ids), date__in=distinct(dates)
    ).order_by().values("id", "security_id", "date", "close")
    changes = changes_plan(rows=rows, existing=existing, key=("security_id", "date"))
    changes_apply(Price, changes, copy=True)
    return ImportSummary(KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged)
