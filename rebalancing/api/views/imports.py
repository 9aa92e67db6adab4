"""Imports of the book: a CSV file (multipart) or the same rows as JSON, through the one import service."""

import csv
import io
import json
from importlib import import_module

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from rebalancing.api.parsers import BoundedJSONParser
from rebalancing.imports import KINDS, ImportRejected, book_import
from rebalancing.imports.report import Problems
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmAPIView, Rule, idempotent


def _columns(kind: str) -> tuple[str, ...]:
    """The kind's CSV columns, required first (from the import module that reads them)."""
    module = import_module(KINDS[kind].__module__)
    return (*module.REQUIRED, *getattr(module, "OPTIONAL", ()))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


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
            if isinstance(value, dict) or (isinstance(value, list) and column not in LIST_COLUMNS):
                what = "an object" if isinstance(value, dict) else "a list"
                problems.add(index + 2, column, f"is {what}, not a single value")
    problems.reject_if_any()


def rows_to_csv(kind: str, rows: list[dict]) -> bytes:
    """JSON rows as the CSV the import service reads: the kind's columns that any row names, then any
    unknown key (which the service reports as an unknown column)."""
    named = dict.fromkeys(key for row in rows for key in row)
    known = [c for c in _columns(kind) if c in named]
    header = known + [k for k in named if k not in known]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in header])
    return out.getvalue().encode()


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
                _json_rows_refuse(data["kind"], data["rows"])
                summary = book_import(kind=data["kind"], source=rows_to_csv(data["kind"], data["rows"]),
                                      as_of=data["as_of"], by=request.user)
            except ImportRejected as exc:
                # Rows of the JSON list are counted from 0; the CSV's line 2 is rows[0].
                for problem in exc.detail.get("problems", []):
                    problem["index"] = problem["row"] - 2 if problem["row"] >= 2 else None
                raise
        body = {"kind": summary.kind, "rows": summary.rows, "created": summary.created, "updated": summary.updated,
                "unchanged": summary.unchanged, "deleted": summary.deleted, "notes": list(summary.notes)}
        return Response(body, status=status.HTTP_201_CREATED)
