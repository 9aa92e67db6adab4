"""A careless or hostile integrator's files and bodies at the import endpoints: each refused with the
documented error naming its row and column (or field), and nothing written."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Execution, Price, Reconciliation, Security, TaxLot, TradeRecord

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

# An exponent beyond what a Decimal holds: the regular expression of a number accepts it, Decimal() does not.
HUGE = "1e99999999999999999999"
TINY = "1e-99999999999999999999"

BOOK_FILES = {
    "securities": ("symbol,name,asset_class,esg_score\nZZZ,Zed,us_equity,{n}\n", "esg_score", Security),
    "prices": ("symbol,date,close\nVTI,2026-11-19,{n}\n", "close", Price),
    "lots": ("account_number,lot_id,symbol,quantity,cost_basis,acquired\nT-000,L-NEW,VTI,{n},100,2020-01-02\n",
             "quantity", TaxLot),
    "trades": ("account_number,symbol,side,quantity,price,trade_date,external_id\nT-000,VTI,buy,1,{n},2026-11-19,X9\n",
               "price", TradeRecord),
}


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("attack.csv", text.encode(), "text/csv")


def _counts(firm, *models) -> list[int]:
    with tenant_context(firm):
        return [model.objects.count() for model in models]


@pytest.mark.parametrize("number", [HUGE, TINY, f"-{HUGE}"])
@pytest.mark.parametrize("kind", list(BOOK_FILES))
def test_a_number_with_an_exponent_decimal_cannot_hold_is_a_problem_of_its_cell_not_a_server_error(
        firm_a, people, book, client_for, kind, number):
    text, column, model = BOOK_FILES[kind]
    before = _counts(firm_a, model)

    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {"kind": kind,
                                                                       "file": _upload(text.format(n=number))})

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in body["detail"]["problems"]] == [(2, column)]
    assert number in body["detail"]["problems"][0]["problem"]
    assert _counts(firm_a, model) == before


def test_executions_and_a_position_file_with_such_a_number_are_refused_naming_the_cell(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    before = _counts(firm_a, Execution, Reconciliation)

    fills = client.post(f"{API}/executions/", {"executions": [
        {"external_id": "X-1", "order_id": "P1-1", "quantity": HUGE, "price": "1", "trade_date": "2026-11-19"}]},
        content_type="application/json")
    positions = client.post(f"{API}/reconciliations/", {"file": _upload(
        f"account_number,lot_id,symbol,quantity,cost_basis,acquired\nT-000,L1,VTI,10,{HUGE},2020-01-02\n")})

    assert fills.status_code == 400 and error_of(fills)["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in error_of(fills)["detail"]["problems"]][0] == (2, "quantity")
    assert positions.status_code == 400 and error_of(positions)["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in error_of(positions)["detail"]["problems"]] == [(2, "cost_basis")]
    assert _counts(firm_a, Execution, Reconciliation) == before


FAR = "9999-12-31"


def test_an_import_read_on_a_day_after_today_is_refused_so_its_future_dates_do_not_land(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    before = _counts(firm_a, Price, TradeRecord)

    as_file = client.post(f"{API}/imports/", {"kind": "prices", "as_of": FAR,
                                              "file": _upload("symbol,date,close\nVTI,9999-12-30,1\n")})
    as_rows = client.post(f"{API}/imports/", {"kind": "trades", "as_of": FAR, "rows": [
        {"account_number": "T-000", "symbol": "VTI", "side": "buy", "quantity": "1", "price": "1",
         "trade_date": "9999-12-30", "external_id": "X-FAR"}]}, content_type="application/json")
    too_early = client.post(f"{API}/imports/", {"kind": "prices", "as_of": "1899-12-31",
                                                "file": _upload("symbol,date,close\nVTI,1899-12-30,1\n")})

    for answer in (as_file, as_rows, too_early):
        body = error_of(answer)
        assert answer.status_code == 400 and body["code"] == "invalid" and body["detail"] == {"field": "as_of"}
    assert _counts(firm_a, Price, TradeRecord) == before


def test_executions_and_positions_read_on_a_day_after_today_are_refused_naming_as_of(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    before = _counts(firm_a, Execution, Reconciliation)

    fills = client.post(f"{API}/executions/", {"as_of": FAR, "executions": [
        {"external_id": "X-1", "order_id": "P1-1", "quantity": "1", "price": "1", "trade_date": "9999-12-30"}]},
        content_type="application/json")
    fills_file = client.post(f"{API}/executions/", {"as_of": FAR, "file": _upload(
        "external_id,order_id,quantity,price,trade_date\nX-1,P1-1,1,1,9999-12-30\n")})
    positions = client.post(f"{API}/reconciliations/", {"as_of": FAR, "file": _upload(
        "account_number,lot_id,symbol,quantity,cost_basis,acquired\nT-000,L1,VTI,10,100,9999-12-30\n")})

    for answer in (fills, fills_file, positions):
        body = error_of(answer)
        assert answer.status_code == 400 and body["code"] == "invalid" and body["detail"] == {"field": "as_of"}
    assert _counts(firm_a, Execution, Reconciliation) == before
