"""Records (a JSON body's rows, a page's one row) as the CSV file the import of their kind reads: one
reader, one set of rules, whatever the records came from."""

import csv
import io
import json
from importlib import import_module

from . import KINDS
from .sheet import column_name

__all__ = ["columns", "required_columns", "rows_to_csv"]


def columns(kind: str) -> tuple[str, ...]:
    """The kind's CSV columns, required first (from the import module that reads them)."""
    module = import_module(KINDS[kind].__module__)
    return (*module.REQUIRED, *getattr(module, "OPTIONAL", ()))


def required_columns(kind: str) -> tuple[str, ...]:
    return import_module(KINDS[kind].__module__).REQUIRED


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _keyed(row: dict) -> dict:
    """A row keyed as a CSV header is read ("Symbol", " DATE " and "account-number" name symbol, date
    and account_number); two keys naming one column are both kept for the reader to
    report the column twice (the second behind spaces, which the reader strips)."""
    out: dict = {}
    for key, value in row.items():
        name = column_name(key) if isinstance(key, str) else key
        while name in out:
            name = f" {name}"
        out[name] = value
    return out


def rows_to_csv(kind: str, rows: list[dict]) -> bytes:
    """JSON rows as the CSV the import service reads: the kind's required columns and the optional ones
    any row names, then any unknown key (which the service reports as an unknown column). A key a row
    leaves out is an empty cell, which clears an optional field: give it rows that name the same keys
    (the API's ``rows_by_keys``). Keys are read as a CSV's headers are (``sheet.column_name``)."""
    rows = [_keyed(row) for row in rows]
    named = dict.fromkeys((*required_columns(kind), *(key for row in rows for key in row)))
    known = [c for c in columns(kind) if c in named]
    header = known + [k for k in named if k not in known]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in header])
    return out.getvalue().encode()
