"""POST executions/ as JSON: a record's text field given a list or an object is stored as
Python's text of it (``execution_file._text`` is ``str(value)``) and answered 201 - an execution
whose id is "['X-L']" or "{'a': 1}" - where docs/api.md ("Bodies the API refuses rather than
ignores") says a text field takes a JSON string only and anything else is 400 ``invalid`` naming the
field (as ``imports/`` does for its JSON rows: "is a list, not a single value"). And a fill's ``fees``
has no bound: $1,000,000,000,000,000 of fees on a one-share $100 sale is applied, booking a realised
loss of a quadrillion dollars on the ledger (Schedule D, Form 8949), where every other amount of the
ledger's files is held to the plausibility bound ($100,000,000,000, docs/csv-formats.md
"Plausibility") as a column mix-up."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rebalancing.models import Execution, RealisedLot, TaxLot, TradeRecord

from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
API = "/api/v1"
DAY = date(2026, 11, 18)


@pytest.fixture
def sale(book, pm):
    [order] = release(book["account"], [sell("VTI", 120, 100.0, [("A-1-L2", 50), ("A-1-L1", 70)])], pm=pm, as_of=DAY)
    return order


def _counts():
    return [m.objects.count() for m in (Execution, TaxLot, TradeRecord, RealisedLot)]


@pytest.mark.parametrize("value", [["X-L"], {"id": "X-D"}])
def test_an_execution_id_that_is_not_text_is_refused_naming_it(firm_a, client_for, pm, sale, value):
    client = client_for(firm_a, pm)
    before = _counts()

    answer = client.post(f"{API}/executions/", {"executions": [{**fill("X-1", sale, "10", "100", DAY),
                                                                "external_id": value}], "as_of": "2026-11-20"},
                         content_type="application/json")

    assert answer.status_code == 400, answer.content[:300]
    assert "external_id" in answer.content.decode()
    assert _counts() == before
    assert not Execution.objects.filter(external_id__startswith="[").exists()


@pytest.mark.parametrize("how", ["json", "csv"])
def test_fees_beyond_any_plausible_amount_are_refused_naming_the_cell(firm_a, client_for, pm, sale, how):
    client = client_for(firm_a, pm)
    before = _counts()
    record = fill("X-1", sale, "1", "100", DAY, fees="1000000000000000")

    if how == "json":
        answer = client.post(f"{API}/executions/", {"executions": [record], "as_of": "2026-11-20"},
                             content_type="application/json")
    else:
        data = execution_csv(record, columns=("external_id", "order_id", "kind", "quantity", "price", "trade_date",
                                              "fees"))
        answer = client.post(f"{API}/executions/", {"file": SimpleUploadedFile("fills.csv", data, "text/csv"),
                                                    "as_of": "2026-11-20"})

    assert answer.status_code == 400, answer.content[:300]
    body = answer.json()
    assert body["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in body["detail"]["problems"]] == [(2, "fees")]
    assert _counts() == before
    assert not RealisedLot.objects.filter(gain__lt=-10**11).exists()


@pytest.mark.parametrize(("quantity", "price", "fees", "refused"), [
    ("1", "100", "500", True),  # five times the fill's gross value, above any minimum ticket charge
    ("1", "100", "100.01", True),
    ("1", "100", "100", False),  # as much as the fill's gross value
    ("1", "1", "49.95", False),  # a broker-assisted minimum commission on a one-dollar sale
    ("10", "100", "12.50", False),
])
def test_fees_beyond_the_fills_gross_value_and_a_ticket_charge_are_refused(firm_a, client_for, pm, sale,
                                                                            quantity, price, fees, refused):
    client = client_for(firm_a, pm)
    before = _counts()

    answer = client.post(f"{API}/executions/", {"executions": [fill("X-1", sale, quantity, price, DAY, fees=fees)],
                                                "as_of": "2026-11-20"}, content_type="application/json")

    if refused:
        assert answer.status_code == 400, answer.content[:300]
        [problem] = answer.json()["detail"]["problems"]
        assert (problem["row"], problem["column"]) == (2, "fees")
        assert "gross value" in problem["problem"] and "ticket charge" in problem["problem"], problem
        assert _counts() == before
    else:
        assert answer.status_code == 201, answer.content[:300]
        assert Execution.objects.get(external_id="X-1").fees == Decimal(fees)
