"""A cash flow's ``reference`` sent again: the same content answers the first (200), other content is a 409
naming the reference and what differs. It answered the first with 200 and dropped a corrected amount."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import CashFlow
from tests.rebalancing.book import AS_OF

from .conftest import API, error_of
from .test_households_api import _json, lees  # noqa: F401 - the household's fixture

pytestmark = pytest.mark.django_db


def test_a_reference_sent_again_with_another_amount_is_a_conflict_naming_what_differs(lees, people, firm_a,  # noqa: F811
                                                                                       client_for):
    advisor = client_for(firm_a, people["advisor"])
    body = {"household": lees["household"].pk, "kind": "withdrawal", "amount": "4000", "reference": "API-7",
            "as_of": str(AS_OF)}
    first = _json(advisor, "post", "cash-flows/", body)
    assert first.status_code == 201, first.content

    same = _json(advisor, "post", "cash-flows/", body | {"amount": "4000.00"})  # the same dollars
    changed = _json(advisor, "post", "cash-flows/", body | {"amount": "4500"})
    other_kind = _json(advisor, "post", "cash-flows/", body | {"kind": "deposit", "account": lees["ira"].pk})

    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    error = error_of(changed)
    assert changed.status_code == 409 and error["code"] == "conflict"
    assert "API-7" in error["message"] and "amount 4000.00 then, 4500.00 now" in error["message"]
    assert error["detail"]["reference"] == "API-7" and error["detail"]["cash_flow"] == first.json()["id"]
    assert error["detail"]["differs"] == {"amount": {"entered": "4000.00", "sent": "4500.00"}}
    assert other_kind.status_code == 409
    assert set(error_of(other_kind)["detail"]["differs"]) == {"kind", "account"}
    with tenant_context(firm_a):
        assert list(CashFlow.objects.values_list("reference", "amount")) == [("API-7", 4000)]


def test_a_csv_row_repeating_an_entered_reference_with_another_amount_is_refused_naming_its_line(
        lees, people, firm_a, client_for):  # noqa: F811
    advisor = client_for(firm_a, people["advisor"])
    entered = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "withdrawal",
                                                     "amount": "4000", "reference": "W-9", "as_of": str(AS_OF)})
    assert entered.status_code == 201, entered.content
    text = ("household_id,kind,amount,reference,as_of\n"
            f"HH-LEE,deposit,100,D-1,{AS_OF}\n"         # refused too: no account to receive it
            f"HH-LEE,withdrawal,5000,W-9,{AS_OF}\n")    # another amount under the entered reference

    answer = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})

    assert answer.status_code == 400 and error_of(answer)["code"] == "import_rejected"
    problems = error_of(answer)["detail"]["problems"]
    assert [(p["row"], p["column"]) for p in problems] == [(2, "account_number"), (3, "reference")]
    assert "W-9" in problems[1]["problem"] and "amount 4000.00 then, 5000.00 now" in problems[1]["problem"]
    with tenant_context(firm_a):
        assert list(CashFlow.objects.values_list("reference", "amount")) == [("W-9", 4000)]
