"""Imports of the book: a CSV file (multipart) or the same rows as JSON, through the one import service."""


from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from rebalancing.api.parsers import BoundedJSONParser
from rebalancing.imports import ImportRejected, ImportSummary, book_import
from rebalancing.imports.cells import single_value_problem
from rebalancing.imports.from_rows import required_columns, rows_to_csv
from rebalancing.imports.report import Problems
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmAPIView, Rule, idempotent

# Columns the import reads as a list (``imports.cells.tag_cells``: a JSON list or "a|b"): the only
# ones a JSON row may give a list; anywhere else a list or object is not a value.
LIST_COLUMNS = frozenset({"tags", "asset_classes"})


def _json_rows_refuse(kind: str, rows: list[dict]) -> None:
    """Refuse, by row and column, what the CSV the rows become would misread: a list or object where a
    single value belongs (it would be stored as its JSON text), and a row that gives no value at all
    (it would be a blank line, which a file may have and the import skips: the row would vanish)."""
    problems = Problems(kind)
    for index, row in enumerate(rows):
        if all(value is None or (isinstance(value, str) and not value.strip()) for value in row.values()):
            problems.add(index + 2, None, "the row gives no value (every column is missing, null or empty)")
        for column, value in row.items():
            if problem := single_value_problem(value, list_allowed=column in LIST_COLUMNS):
                problems.add(index + 2, column, problem)
    problems.reject_if_any()


def _keys(kind: str, row: dict) -> frozenset[str]:
    """The keys a row names beyond the required columns (which every CSV of the kind has)."""
    return frozenset(row) - set(required_columns(kind))


def rows_by_keys(kind: str, rows: list[dict]) -> list[list[int]]:
    """The positions of the rows, grouped by the keys they name, in the order of each group's first row.

    A CSV file leaves alone an optional field whose column it does not have; a JSON row that leaves a
    key out says the same of its row. Each group is imported as one file of just its columns, so a key
    a row leaves out keeps the stored value (and ``null`` or ``""`` clears it, as an empty cell does).
    """
    groups: dict[frozenset[str], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(_keys(kind, row), []).append(index)
    return list(groups.values())


# What the import of each kind reads its rows together by (a snapshot of an account's lots replaced
# whole, a benchmark's weights summed by date, a household's facts given once, an account's trades, a
# symbol given once): the rows of one of these go to the import together, so they must name the same keys.
_READ_TOGETHER = {
    "securities": ("symbol", "symbol"),
    "prices": ("symbol", "symbol"),
    "benchmark_weights": ("benchmark", "benchmark"),
    "accounts": ("household_id", "household"),
    "lots": ("account_number", "account"),
    "trades": ("account_number", "account"),
}


def _keys_read_together_refuse(kind: str, rows: list[dict]) -> None:
    """Refuse, by row and key, rows of one symbol, account, household or benchmark that name different
    keys: imported apart, they would escape the checks that read them together (or, for an account's
    lots, the later ones would replace the earlier)."""
    column, what = _READ_TOGETHER[kind]
    first: dict[str, tuple[int, frozenset[str]]] = {}
    problems = Problems(kind)
    for index, row in enumerate(rows):
        value = row.get(column)
        if value is None or isinstance(value, list | dict) or not str(value).strip():
            continue  # reported by the import (a value is required there)
        name = str(value).strip()
        keys = _keys(kind, row)
        first_index, first_keys = first.setdefault(name.upper(), (index, keys))
        for key in sorted(first_keys ^ keys):
            said = "leaves out" if key in first_keys else "names"
            other = "names" if key in first_keys else "leaves out"
            problems.add(index + 2, key, f"this row {said} {key!r} and row {first_index + 2} ({what} {name!r}) {other} "
                                         f"it: the rows of one {what} are imported together, so name the same keys "
                                         "in each (a key left out keeps the stored value; null or \"\" clears it)")
    problems.reject_if_any()


def _json_rows_import(*, kind: str, rows: list[dict], as_of, by) -> ImportSummary:
    """Import JSON rows as one CSV per set of keys (``rows_by_keys``), all in one transaction: a refused
    row writes nothing of the request, and the report names every group's problems by the request's rows."""
    _json_rows_refuse(kind, rows)
    groups = rows_by_keys(kind, rows)
    if len(groups) == 1:
        return book_import(kind=kind, source=rows_to_csv(kind, rows), as_of=as_of, by=by)
    _keys_read_together_refuse(kind, rows)
    problems = Problems(kind)
    seen: set[tuple] = set()
    hidden = 0
    summaries: list[ImportSummary] = []
    with transaction.atomic():
        for positions in groups:
            try:
                summaries.append(book_import(kind=kind, source=rows_to_csv(kind, [rows[i] for i in positions]),
                                             as_of=as_of, by=by))
            except ImportRejected as exc:
                hidden += exc.detail.get("total", 0) - exc.detail.get("shown", 0)
                for problem in exc.detail.get("problems", []):
                    # The group's line 2 is its first row; line 1 (its header) is the request's.
                    row = positions[problem["row"] - 2] + 2 if problem["row"] >= 2 else problem["row"]
                    if (row, problem["column"], problem["problem"]) not in seen:
                        seen.add((row, problem["column"], problem["problem"]))
                        problems.add(row, problem["column"], problem["problem"])
        try:
            problems.reject_if_any()
        except ImportRejected as exc:
            if hidden:
                exc.detail["total"] += hidden
            raise
    notes = dict.fromkeys(note for summary in summaries for note in summary.notes)
    return ImportSummary(
        kind, rows=sum(s.rows for s in summaries), created=sum(s.created for s in summaries),
        updated=sum(s.updated for s in summaries), unchanged=sum(s.unchanged for s in summaries),
        deleted=sum(s.deleted for s in summaries), notes=tuple(notes),
    )


class ImportView(FirmAPIView):
    """Import securities, prices, benchmark weights, accounts, lots or trades.

    A file with any bad row is refused whole (400 ``import_rejected`` with row, column and problem for
    each); nothing is half-imported, and importing the same rows again changes nothing.
    """

    parser_classes = [BoundedJSONParser, MultiPartParser]
    rules = {"post": Rule(Scope.IMPORT, Capability.IMPORT_DATA)}

    @extend_schema(
        request={"application/json": serializers.ImportJsonSerializer,
                 "multipart/form-data": serializers.ImportFileSerializer},
        responses={201: serializers.ImportSummarySerializer},
        examples=[OpenApiExample("prices as JSON", request_only=True, value={
            "kind": "prices", "rows": [{"symbol": "VTI", "date": "2026-11-20", "close": "251.30"}]})],
    )
    @idempotent
    def post(self, request):
        if request.content_type.startswith("multipart/"):
            serializer = serializers.ImportFileSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            summary = book_import(kind=data["kind"], source=data["file"], as_of=data["as_of"], by=request.user)
        else:
            serializer = serializers.ImportJsonSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            try:
                summary = _json_rows_import(kind=data["kind"], rows=data["rows"], as_of=data["as_of"], by=request.user)
            except ImportRejected as exc:
                # Rows of the JSON list are counted from 0; the CSV's line 2 is rows[0].
                for problem in exc.detail.get("problems", []):
                    problem["index"] = problem["row"] - 2 if problem["row"] >= 2 else None
                raise
        body = {"kind": summary.kind, "rows": summary.rows, "created": summary.created, "updated": summary.updated,
                "unchanged": summary.unchanged, "deleted": summary.deleted, "notes": list(summary.notes)}
        return Response(body, status=status.HTTP_201_CREATED)
