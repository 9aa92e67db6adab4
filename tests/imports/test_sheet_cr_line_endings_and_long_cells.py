"""Two files an integrator or a firm really sends crash the shared CSV reader (``imports.sheet``)
with a 500 instead of being read or refused by row and column:

- lines ended by a carriage return alone (Excel for Mac's "CSV (Macintosh)", old custodian
  exports): ``_other_separator`` hands the whole file to ``csv.reader`` as one line, which raises
  ``_csv.Error: new-line character seen in unquoted field``;
- a cell longer than 131,072 characters (the ``csv`` module's default field limit): ``_cells_per_record``
  raises ``_csv.Error: field larger than field limit``. pandas reads the cell; the check after it dies.

Every endpoint that takes a file goes through ``sheet_read``: imports/ (CSV and JSON rows),
executions/, reconciliations/, cash-flows/upload/ (and the Import page, ``import_book``)."""

import csv

import pytest

from rebalancing.imports import sheet as sheet_module
from rebalancing.imports.report import ImportRejected
from rebalancing.imports.sheet import sheet_read

CR_PRICES = "symbol,date,close\rVTI,2026-11-19,101.5\r"
LONG = "x" * 140_000


def test_a_file_with_carriage_return_line_ends_is_read_like_any_other():
    sheet = sheet_read(CR_PRICES.encode(), kind="prices", required=("symbol", "date", "close"))

    assert sheet.frame.to_dict("records") == [{"symbol": "VTI", "date": "2026-11-19", "close": "101.5"}]


def test_a_cell_longer_than_the_csv_modules_field_limit_is_a_problem_of_its_cell_not_a_crash():
    try:
        sheet = sheet_read(f"symbol,name\nVTI,{LONG}\n".encode(), kind="securities", required=("symbol", "name"))
    except ImportRejected:
        return  # refused by name is fine too
    assert sheet.frame["name"].tolist() == [LONG]


def test_a_carriage_return_file_names_its_problems_by_line():
    with pytest.raises(ImportRejected) as refused:
        sheet_read(b"symbol,date,close\rVTI,2026-11-19,101.5\rBND,2026-11-19\r", kind="prices",
                   required=("symbol", "date", "close"))
    assert [p["row"] for p in refused.value.detail["problems"]] == [3]

    with pytest.raises(ImportRejected) as refused:
        sheet_read(b"sep=;\rsymbol;date;close\r", kind="prices", required=("symbol", "date", "close"))
    assert "separator hint" in refused.value.detail["problems"][0]["problem"]

    with pytest.raises(ImportRejected) as refused:
        sheet_read(b"symbol,date,close\rVTI,2026-11-19,1\rBND,\x00,1\r", kind="prices",
                   required=("symbol", "date", "close"))
    assert [p["row"] for p in refused.value.detail["problems"]] == [3]


def test_a_cell_over_the_limit_is_refused_naming_row_column_and_limit():
    with pytest.raises(ImportRejected) as refused:
        sheet_read(f"symbol,name\nVTI,short\nBND,{LONG}\n".encode(), kind="securities", required=("symbol", "name"))
    [problem] = refused.value.detail["problems"]
    assert (problem["row"], problem["column"]) == (3, "name")
    assert "140,000" in problem["problem"] and "131,072" in problem["problem"]

    with pytest.raises(ImportRejected) as refused:
        sheet_read(f"symbol,{LONG}\nVTI,x\n".encode(), kind="securities", required=("symbol", "name"))
    [problem] = refused.value.detail["problems"]
    assert problem["row"] == 1 and "131,072" in problem["problem"]


def test_no_csv_module_error_escapes_the_reader(monkeypatch):
    def broken(text):
        raise csv.Error("something the csv module cannot split")

    monkeypatch.setattr(sheet_module, "_other_separator", broken)
    with pytest.raises(ImportRejected) as refused:
        sheet_read(b"symbol,date,close\nVTI,2026-11-19,1\n", kind="prices", required=("symbol", "date", "close"))
    [problem] = refused.value.detail["problems"]
    assert problem["row"] == 1 and "cannot be read as CSV" in problem["problem"]
