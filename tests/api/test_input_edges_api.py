"""Edges of the API's inputs: a restricted-list entry's from date within the product's bounds (from
1900-01-01, the book's first day, to five years ahead), a template save answering its warnings, and
a model weight in percent named as such."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import ModelVersion, ParameterTemplate, RestrictedSecurity

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

URL = f"{API}/restricted-list/"


def _entry(client, **values):
    return client.post(URL, {"symbol": "VTI", "restriction": "do_not_buy", "reason": "Deal team",
                             "starts_on": timezone.localdate().isoformat(), **values}, content_type="application/json")


@pytest.mark.parametrize(("starts_on", "words"), [
    ("0001-01-01", "The from date 0001-01-01 is before 1900-01-01, the book's first day: check the year."),
    ("1899-12-31", "The from date 1899-12-31 is before 1900-01-01, the book's first day: check the year."),
    ("9999-12-31", "The from date 9999-12-31 is more than 5 years ahead (after "),
])
def test_a_from_date_outside_the_products_bounds_is_refused_and_nothing_written(firm_a, people, book, client_for,
                                                                                starts_on, words):
    refused = _entry(client_for(firm_a, people["compliance"]), starts_on=starts_on)

    assert refused.status_code == 400, refused.content
    assert error_of(refused)["message"].startswith(words) and error_of(refused)["detail"]["field"] == "starts_on"
    with tenant_context(firm_a):
        assert not RestrictedSecurity.objects.exists()


def test_the_bounds_days_themselves_are_taken_and_a_far_until_is_open(firm_a, people, book, client_for):
    client = client_for(firm_a, people["compliance"])
    today = timezone.localdate()
    first = _entry(client, starts_on="1900-01-01", until=(today - timedelta(days=1)).isoformat())
    last = _entry(client, starts_on=today.replace(year=today.year + 5).isoformat(), until="9999-12-31")

    assert (first.status_code, last.status_code) == (201, 201), (first.content, last.content)
    moved = client.patch(f"{URL}{last.json()['id']}/", {"starts_on": "9999-01-01"}, content_type="application/json")
    assert moved.status_code == 400 and "more than 5 years ahead" in error_of(moved)["message"]


def test_a_template_save_answers_its_warnings(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    created = client.post(f"{API}/templates/", {"code": "t-never", "name": "Never trades", "overridable": {},
                                                "parameters": {"trading": {"min_trade_value": 1e12}}},
                          content_type="application/json")
    calm = client.post(f"{API}/templates/", {"code": "t-calm", "name": "Calm", "overridable": {},
                                             "parameters": {"trading": {"min_trade_value": 500}}},
                       content_type="application/json")
    changed = client.patch(f"{API}/templates/{calm.json()['id']}/", {"parameters": {"trading": {"max_turnover": 0}}},
                           content_type="application/json")

    assert created.status_code == 201, created.content
    assert [w.split(":", 2)[:2] for w in created.json()["warnings"]] == [
        ["“Trading", " minimum trade” is $1 trillion, more than any client account holds ($100,000,000,000)"]]
    assert calm.status_code == 201 and calm.json()["warnings"] == []
    assert changed.status_code == 200 and changed.json()["warnings"][0].startswith("“Trading: turnover")
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.filter(code="t-never").exists()


SLEEVES = [{"asset_class": "us_equity", "weight": "0.6", "holdings": {"VTI": "1"}},
           {"asset_class": "bonds", "weight": "0.3", "holdings": {"BND": "1"}},
           {"asset_class": "real_estate", "weight": "0.1", "holdings": {"VNQ": "1"}}]


@pytest.mark.parametrize(("sleeves", "path", "words"), [
    ([{**SLEEVES[0], "weight": "100"}], ("sleeves", 0, "weight"), "100 is more than 1: weights are fractions (0.6 for 60%)."),
    ([{**SLEEVES[0], "weight": 60}, *SLEEVES[1:]], ("sleeves", 0, "weight"),
     "60 is more than 1: weights are fractions (0.6 for 60%)."),
    ([{**SLEEVES[0], "weight": "60%"}, *SLEEVES[1:]], ("sleeves", 0, "weight"),
     "60% is in percent: weights are fractions (0.6 for 60%)."),
    ([{**SLEEVES[0], "holdings": {"VTI": "100"}}, *SLEEVES[1:]], ("sleeves", 0, "holdings", "VTI"),
     "100 is more than 1: weights are fractions (0.6 for 60%)."),
    ([{**SLEEVES[0], "weight": "-10"}, *SLEEVES[1:]], ("sleeves", 0, "weight"),
     "-10 is negative: a model holds, it does not short."),
], ids=["percent-text", "percent-number", "percent-sign", "holding-percent", "negative"])
def test_a_model_weight_in_percent_is_named_as_such(firm_a, people, book, client_for, sleeves, path, words):
    answer = client_for(firm_a, people["admin"]).post(f"{API}/models/{book['model'].pk}/versions/",
                                                      {"sleeves": sleeves}, content_type="application/json")

    assert answer.status_code == 400, answer.content
    assert words in str(error_of(answer)), error_of(answer)
    assert "digits before the decimal point" not in str(error_of(answer))
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=book["model"]).count() == 1


def test_a_fraction_weight_is_still_taken(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).post(
        f"{API}/models/{book['model'].pk}/versions/",
        {"sleeves": [{**SLEEVES[0], "weight": "0.5"}, {**SLEEVES[1], "weight": "0.4"}, SLEEVES[2]]},
        content_type="application/json")

    assert answer.status_code == 201, answer.content


def test_a_header_only_upload_is_refused_naming_it(firm_a, people, client_for):
    answer = client_for(firm_a, people["admin"]).post(
        f"{API}/imports/", {"kind": "prices", "file": SimpleUploadedFile("p.csv", b"symbol,date,close\n", "text/csv")})

    assert answer.status_code == 400 and error_of(answer)["code"] == "import_rejected"
    assert error_of(answer)["detail"]["problems"] == [
        {"row": 1, "column": None, "problem": "the file has a header and no rows: nothing to import; put the rows "
                                              "under the header"}]
