"""Records (a JSON body's rows, a page's one row) as the CSV file the import of their kind reads: one
reader, one set of rules, whatever the records came from."""

import csv
import io
import json
from importlib import import_module

from . import KINDS

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


def rows_to_csv(kind: str, rows: list[dict]) -> bytes:
    """JSON rows as the CSV the import service reads: the kind's required columns and the optional ones
    any row names, then any unknown key (which the service reports as an unknown column). A key a row
    leaves out is an empty cell, which clears an optional field: give it rows that name the same keys
    (the API's ``rows_by_keys``)."""
    named = dict.fromkeys((*required_columns(kind), *(key for row in rows for key in row)))
    known = [c for c in columns(kind) if c in named]
    header = known + [k for k in named if k not in known]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in header])
    return out.getvalue().encode()
