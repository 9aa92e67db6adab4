"""A multipart field given twice is read as its last value: ``kind=securities`` then ``kind=prices``
imports the file as prices (201), whichever kind the caller meant. docs/api.md: "No parameter of the API
takes several values: one given twice ... is 400 invalid naming it (`advisor: is given 2 times; give
it once.`), on every endpoint, rather than read as its last value" - checked for the query string
(``FirmAPIMixin.initial``) but not for a form body's fields."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Price, Security

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _body(first: str, second: str) -> str:
    return ("--B\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n" + first + "\r\n"
            "--B\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n" + second + "\r\n"
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\nContent-Type: text/csv\r\n\r\n"
            "symbol,date,close\nVTI,2026-11-19,101\n\r\n--B--\r\n")


def test_kind_given_twice_in_a_form_upload_is_refused_naming_it(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    with tenant_context(firm_a):
        before = (Price.objects.count(), Security.objects.count())

    answer = client.post(f"{API}/imports/", _body("securities", "prices"), content_type="multipart/form-data; boundary=B")

    assert answer.status_code == 400, answer.content[:300]
    body = error_of(answer)
    assert body["code"] == "invalid" and "kind" in str(body["detail"]) and "2 times" in body["message"]
    with tenant_context(firm_a):
        assert (Price.objects.count(), Security.objects.count()) == before
