"""The trades file's ``realised_gain`` has no plausibility bound: $100,000,000,000,000 of gain on the
sale of one share at $1 is imported (201) and read by the engine's inputs (``engine_inputs``: the
household's recent sales and their gains or losses), where every other amount of the book's files -
a lot's cost, an account's cash and realised year-to-date gains, a cash flow - is refused above
$100,000,000,000 as a column mix-up (docs/csv-formats.md "Plausibility", ``MAX_AMOUNT``)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import TradeRecord

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("gain", ["100000000000000", "-100000000000000"])
def test_a_realised_gain_no_account_could_have_is_refused_naming_the_cell(firm_a, people, book, client_for, gain):
    client = client_for(firm_a, people["pm"])
    text = ("account_number,symbol,side,quantity,price,trade_date,external_id,realised_gain\n"
            f"T-000,VTI,sell,1,1,2026-11-19,Q1,{gain}\n")
    with tenant_context(firm_a):
        before = TradeRecord.objects.count()

    answer = client.post(f"{API}/imports/", {"kind": "trades", "as_of": "2026-11-20",
                                             "file": SimpleUploadedFile("trades.csv", text.encode(), "text/csv")})

    assert answer.status_code == 400, answer.content[:300]
    body = error_of(answer)
    assert body["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in body["detail"]["problems"]] == [(2, "realised_gain")]
    with tenant_context(firm_a):
        assert TradeRecord.objects.count() == before
