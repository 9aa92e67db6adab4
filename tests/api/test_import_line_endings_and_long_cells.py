"""The API's answer to the two files that crash ``imports.sheet`` (tests/imports/
test_sheet_cr_line_endings_and_long_cells.py): lines ended by a carriage return alone (Excel for
Mac's "CSV (Macintosh)") and a cell longer than the csv module's 131,072-character field limit are
answered 500 by imports/, executions/, reconciliations/ and cash-flows/upload/, where they must be
read, or refused with 400 naming the row and column, writing nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import CashFlow, Execution, Price, Reconciliation, Security

from .conftest import API, error_of

CR_PRICES = "symbol,date,close\rVTI,2026-11-19,101.5\r"
LONG = "x" * 140_000


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("book.csv", text.encode(), "text/csv")


def _counts(firm):
    with tenant_context(firm):
        return [m.objects.count() for m in (Price, Security, Execution, Reconciliation, CashFlow)]


@pytest.mark.django_db
@pytest.mark.parametrize("url, data", [
    ("imports/", {"kind": "prices", "file": CR_PRICES}),
    ("executions/", {"file": "external_id,order_id,quantity,trade_date\rX-1,P1-1,1,2026-11-19\r"}),
    ("reconciliations/", {"file": "account_number,lot_id,symbol,quantity,cost_basis,acquired\rT-000,L1,VTI,1,1,2020-01-02\r"}),
    ("cash-flows/upload/", {"file": "household_id,kind,amount,account_number\rHH-T-000,deposit,100,T-000\r"}),
])
def test_carriage_return_files_are_never_a_server_error(firm_a, people, book, client_for, url, data):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    answer = client.post(f"{API}/{url}", {k: _upload(v) if k == "file" else v for k, v in data.items()})

    assert answer.status_code != 500, answer.content[:200]
    assert answer.status_code in (200, 201, 400), answer.content[:300]
    if answer.status_code == 400:
        error_of(answer)
        assert _counts(firm_a) == before


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["csv", "json"])
def test_a_huge_cell_is_refused_naming_its_row_and_column_not_a_server_error(firm_a, people, book, client_for, how):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    if how == "csv":
        answer = client.post(f"{API}/imports/", {"kind": "securities",
                                                 "file": _upload(f"symbol,name,asset_class\nZZZ,{LONG},us_equity\n")})
    else:
        answer = client.post(f"{API}/imports/", {"kind": "securities", "rows": [
            {"symbol": "ZZZ", "name": LONG, "asset_class": "us_equity"}]}, content_type="application/json")

    assert answer.status_code == 400, answer.content[:200]
    body = error_of(answer)
    assert body["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in body["detail"]["problems"]] == [(2, "name")]
    assert _counts(firm_a) == before


@pytest.mark.django_db
def test_a_huge_cell_in_an_executions_file_is_refused_not_a_server_error(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    answer = client.post(f"{API}/executions/", {"file": _upload(
        f"external_id,order_id,quantity,trade_date\n{LONG},P1-1,1,2026-11-19\n")})

    assert answer.status_code == 400, answer.content[:200]
    assert error_of(answer)["code"] == "import_rejected"
    assert _counts(firm_a) == before
