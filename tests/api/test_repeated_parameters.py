"""A query parameter given twice where the API takes one value is refused naming it: Django's
QueryDict reads the last value, so ``accounts/?advisor=4&advisor=5`` answered advisor 5's accounts
only, as if the first had not been sent."""

import pytest

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", [
    "accounts/?advisor={advisor}&advisor={colleague}",  # a filter
    "accounts/?taxable=false&taxable=true",
    "proposals/?page_size=2&page_size=3",  # the pagination's
    "households/?page=1&page=1",  # a list without filters, the same value twice
    "proposals/?format=json&format=json",  # DRF's own
    "order-files/?day=2026-11-20&day=2026-11-21",  # a view reading a query serializer
    "reports/rmds/?as_of=2026-11-20&as_of=2026-11-20",
    "accounts/{own}/rmd/?year=2026&year=2025",  # an object's route
])
def test_a_parameter_given_twice_is_a_400_naming_it(firm_a, people, book, client_for, query):
    query = query.format(advisor=people["advisor"].pk, colleague=people["colleague"].pk, own=book["own"].pk)
    name = query.split("?")[1].split("=")[0]

    answer = client_for(firm_a, people["admin"]).get(f"{API}/{query}")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert body["detail"]["fields"] == {name: ["is given 2 times; give it once."]}
    assert f"{name}: is given 2 times; give it once." in body["message"]


def test_every_parameter_given_more_than_once_is_named_at_once(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).get(f"{API}/accounts/?taxable=true&taxable=true&taxable=false"
                                                     "&search=T&page=1&page=2")

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"taxable": ["is given 3 times; give it once."],
                                                    "page": ["is given 2 times; give it once."]}


def test_each_parameter_given_once_still_filters(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    mine = client.get(f"{API}/accounts/", {"advisor": people["advisor"].pk, "taxable": "true", "page_size": 2})
    theirs = client.get(f"{API}/accounts/", {"advisor": people["colleague"].pk})

    assert mine.status_code == 200 and mine.json()["count"] == 2 and len(mine.json()["results"]) == 2
    assert [a["custodian_number"] for a in theirs.json()["results"]] == ["T-COL"]
