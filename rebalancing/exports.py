"""The one CSV writer of every file the product hands out, and the download that audits it.

Orders and blocks for the custodian, the tax reports, reconciliation differences and the API's
order files all come through ``csv_text``, so every cell is escaped the same way against formula
injection (OWASP "CSV Injection"; CWE-1236): a spreadsheet treats a cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return as a formula, so an imported account number
``=HYPERLINK(...)`` would run in the reader's spreadsheet. Such a cell gets a leading ``'``, which
spreadsheets read as "this is text" and do not show. A cell that is just a number (``-1234.56``,
``+3``, ``1e-5``) is left alone: a negative gain must stay a number, and a number is no formula.
Quoting of separators, quotes and line breaks is the csv module's, with RFC 4180's CRLF line ends:
the writer then quotes a cell holding a lone carriage return, which would otherwise start a new row
(and a formula in it) in a spreadsheet.

(defusedcsv does the same for ``=+-@|%`` but leaves a leading tab or carriage return, which OWASP
lists, and rewrites ``|`` inside cells, which the lots column uses as its separator.)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from django.http import HttpResponse

from tenants.audit.services import audit_record

__all__ = ["CSV_CONTENT_TYPE", "FORMULA_LEADS", "cell_text", "csv_download", "csv_text", "download_audit"]

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell_text(value) -> str:
    """One cell as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_LEADS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(columns: Iterable[str], rows: Iterable[Iterable]) -> str:
    """A header line and one line per row, every cell through ``cell_text``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell_text(c) for c in columns])
    writer.writerows([cell_text(v) for v in row] for row in rows)
    return out.getvalue()


def download_audit(*, user, what: str, filters: dict | None = None, rows: int | None = None) -> None:
    """Record that ``user`` took a file or report out of the product (who, what, with which filters)."""
    after = {"what": what, "filters": {k: v for k, v in (filters or {}).items() if v not in (None, "")}}
    if rows is not None:
        after["lines"] = rows
    audit_record(actor=user, action="export.download", object_type="export", object_id=what[:64], after=after)


def csv_download(*, user, text: str, filename: str, what: str, filters: dict | None = None) -> HttpResponse:
    """``text`` (from ``csv_text``) as a file download, audited."""
    download_audit(user=user, what=what, filters=filters, rows=max(text.count("\n") - 1, 0))  # lines after the header
    response = HttpResponse(text, content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
