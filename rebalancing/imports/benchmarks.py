"""The benchmark weight file: each (benchmark, date) in it replaces that date's constituents."""

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.utils import timezone

from rebalancing.models import Benchmark, BenchmarkWeight, Security

from .cells import (
    consistent_values,
    date_cells,
    decimal_cells,
    distinct,
    duplicates_report,
    references_map,
    text_cells,
    valid,
)
from .report import ImportSummary
from .rows import changes_apply, changes_plan, ids_by, import_begin, records
from .sheet import Sheet, Source, sheet_read

__all__ = ["PRO_FORMA_AHEAD", "WEIGHT_SUM_TOLERANCE", "benchmark_weights_import"]

# How far ahead of ``as_of`` weights may be dated: providers publish pro-forma constituents weeks before
# a reconstitution takes effect (Russell's preliminary lists about a month); a year is generous, and a
# date beyond (9999-12-31) is a typo that would be every later day's weights.
PRO_FORMA_AHEAD = timedelta(days=366)

KIND = "benchmark_weights"
REQUIRED = ("benchmark", "date", "symbol", "weight")
OPTIONAL = ("benchmark_name",)
WEIGHT_SUM_TOLERANCE = Decimal("0.000001")


def _sums_report(sheet: Sheet, codes: pd.Series, dates: pd.Series, weights: pd.Series) -> None:
    # Only whole groups are summed: a group with an unreadable weight is already reported.
    frame = pd.DataFrame({"benchmark": codes, "date": dates, "weight": weights})
    frame["readable"] = valid(codes) & valid(dates) & valid(weights)
    for (code, day), group in frame[valid(codes) & valid(dates)].groupby(["benchmark", "date"], sort=False):
        if not group["readable"].all():
            continue
        total = sum(group["weight"], Decimal(0))
        if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
            sheet.problems.add(
                group.index[0], "weight",
                f"the weights of {code} on {day.isoformat()} sum to {total.normalize():f} over "
                f"{len(group)} rows from this one; they must sum to 1 within {WEIGHT_SUM_TOLERANCE:f}",
            )


@transaction.atomic
def benchmark_weights_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Replace the constituents of each (benchmark, date) in the file with the file's rows.

    A benchmark not yet known is created, named by ``benchmark_name`` (else its code); a known one keeps
    its name. Weights are in [0, 1] and each (benchmark, date) must sum to 1 within 1e-6. Dates of a
    benchmark not in the file are untouched. Dates may be after ``as_of`` (default today), by at most
    ``PRO_FORMA_AHEAD``: pro-forma weights are dated ahead.
    """
    as_of = as_of or timezone.localdate()
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    codes = text_cells(sheet, "benchmark", field=Benchmark._meta.get_field("code"), required=True)
    dates = date_cells(sheet, "date", not_after=as_of + PRO_FORMA_AHEAD)
    symbols = text_cells(sheet, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    weights = decimal_cells(
        sheet, "weight", field=BenchmarkWeight._meta.get_field("weight"), minimum=Decimal(0), maximum=Decimal(1)
    )
    names = {}
    if sheet.has("benchmark_name"):
        given = text_cells(sheet, "benchmark_name", field=Benchmark._meta.get_field("name"))
        names = consistent_values(sheet, codes, given, "benchmark_name", "the name")
    duplicates_report(sheet, {"benchmark": codes, "date": dates, "symbol": symbols}, "benchmark, date and symbol")
    _sums_report(sheet, codes, dates, weights)
    known = ids_by(Security, "symbol", distinct(symbols))
    security_ids = references_map(sheet, "symbol", symbols, known, "symbol")
    sheet.problems.reject_if_any()

    benchmark_ids = ids_by(Benchmark, "code", distinct(codes))
    new = [Benchmark(code=code, name=names.get(code, code)) for code in distinct(codes) if code not in benchmark_ids]
    for benchmark in Benchmark.objects.bulk_create(new):
        benchmark_ids[benchmark.code] = benchmark.id

    ids = pd.Series([benchmark_ids[code] for code in codes], index=codes.index, dtype=object)
    rows = records({"benchmark_id": ids, "date": dates, "security_id": security_ids, "weight": weights})
    replaced = {(row["benchmark_id"], row["date"]) for row in rows}
    existing = [
        row for row in BenchmarkWeight.objects.filter(
            benchmark_id__in=distinct(benchmark_ids.values()), date__in=distinct(dates)
        ).order_by().values("id", "benchmark_id", "date", "security_id", "weight")
        if (row["benchmark_id"], row["date"]) in replaced  # the query is a superset of the replaced dates
    ]
    changes = changes_plan(rows=rows, existing=existing, key=("benchmark_id", "date", "security_id"), replace=True)
    changes_apply(BenchmarkWeight, changes, copy=True)
    notes = (f"{len(new)} benchmark{'s' if len(new) != 1 else ''} created ({', '.join(b.code for b in new)})",) if new else ()
    return ImportSummary(
        KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged, len(changes.delete_ids), notes
    )
