"""An id filter takes a whole number only: ``?household=1.5``, ``?advisor=4.7`` and ``?household=1e0`` were
read as 1 and 4 (Django's IntegerField truncates), answering another household's or advisor's rows."""

import pytest

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "name", "value"), [
    ("accounts/", "household", "1.5"),
    ("accounts/", "household", "1e0"),
    ("accounts/", "household", "1.0"),
    ("accounts/", "advisor", "4.7"),
    ("proposals/", "run", "1.5"),
    ("proposals/", "account", "-1.5"),
    ("alerts/", "account", "298.2"),
    ("orders/", "proposal", "0x1"),
])
def test_an_id_filter_that_is_not_a_whole_number_is_refused_naming_it(firm_a, people, book, client_for,
                                                                      path, name, value):
    answer = client_for(firm_a, people["pm"]).get(f"{API}/{path}", {name: value})

    assert answer.status_code == 400, answer.content
    body = error_of(answer)
    assert body["code"] == "invalid" and list(body["detail"]["fields"]) == [name]
    assert f"is not an id: write it as a whole number (e.g. 42), not {value!r}." in body["detail"]["fields"][name]


def test_a_whole_id_still_filters(firm_a, people, book, client_for):
    household = book["own"].household_id
    answer = client_for(firm_a, people["pm"]).get(f"{API}/accounts/", {"household": str(household)})

    assert answer.status_code == 200
    assert {a["household"] for a in answer.json()["results"]} == {household}
