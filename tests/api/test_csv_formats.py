"""CSV as a negotiated format: the tax reports answer the report pages' CSV with ``?format=csv`` or
``Accept: text/csv`` (docs/api.md said so while they answered 406 and 400); order files and a backtest's
CSV are CSV only, so ``?format=json`` is a 400 naming csv and ``Accept: application/json`` a 406 (they
answered CSV whatever was asked). Errors stay the JSON error body."""

import pytest

from .conftest import API, error_of, key_client
from .test_backtests_api import BODY
from .test_report_filters_by_id import PERIOD, okafors  # noqa: F401 - the reports' fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "header"), [
    (f"reports/realised-gains/?{PERIOD}", "symbol"),
    (f"reports/harvest/?{PERIOD}", None),
    ("reports/transition/?as_of=2026-11-20", None),
])
def test_a_report_answers_csv_when_asked_and_json_otherwise(okafors, people, firm_a, client_for,  # noqa: F811
                                                            path, header):
    client = client_for(firm_a, people["pm"])

    by_format = client.get(f"{API}/{path}&format=csv")
    by_accept = client.get(f"{API}/{path}", HTTP_ACCEPT="text/csv")
    as_json = client.get(f"{API}/{path}", HTTP_ACCEPT="application/json")

    assert by_format.status_code == 200, by_format.content
    assert by_format["Content-Type"].startswith("text/csv") and by_format.content == by_accept.content
    assert by_accept["Content-Type"].startswith("text/csv")
    assert as_json.status_code == 200 and as_json["Content-Type"].startswith("application/json")
    lines = by_format.content.decode().splitlines()
    assert lines and "," in lines[0]
    if header:
        assert header in lines[0].split(",")
        assert len(lines) > 1  # the loss and the gain sold


def test_a_report_refused_as_csv_answers_the_json_error(okafors, people, firm_a, client_for):  # noqa: F811
    answer = client_for(firm_a, people["pm"]).get(f"{API}/reports/harvest/?start=2026-12-31&end=2026-01-01",
                                                  HTTP_ACCEPT="text/csv")

    assert answer.status_code == 400 and answer["Content-Type"].startswith("application/json")
    assert error_of(answer)["detail"]["fields"] == {"start": ["is after end"]}


def test_order_files_are_csv_only(book, people, firm_a, client_for):
    client = client_for(firm_a, people["pm"])

    plain = client.get(f"{API}/order-files/")
    as_csv = client.get(f"{API}/order-files/?format=csv")
    json_asked = client.get(f"{API}/order-files/?format=json")
    json_accepted = client.get(f"{API}/order-files/", HTTP_ACCEPT="application/json")

    assert plain.status_code == 200 and plain["Content-Type"].startswith("text/csv")
    assert as_csv.status_code == 200 and as_csv.content == plain.content
    assert json_asked.status_code == 400 and json_asked["Content-Type"].startswith("application/json")
    assert error_of(json_asked)["detail"]["fields"] == {
        "format": ["'json' is not a format of this endpoint; the formats are csv."]}
    assert json_accepted.status_code == 406 and error_of(json_accepted)["code"] == "not_acceptable"


def test_a_backtests_csv_is_csv_only(people, firm_a, api_key):
    client = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    started = client.post(f"{API}/backtests/", BODY, content_type="application/json")
    assert started.status_code == 201, started.content
    path = f"{API}/backtests/{started.json()['id']}/csv/"

    json_asked = client.get(f"{path}?format=json")
    json_accepted = client.get(path, HTTP_ACCEPT="application/json")
    waiting = client.get(path)

    assert json_asked.status_code == 400
    assert error_of(json_asked)["detail"]["fields"] == {
        "format": ["'json' is not a format of this endpoint; the formats are csv."]}
    assert json_accepted.status_code == 406 and error_of(json_accepted)["code"] == "not_acceptable"
    assert waiting.status_code == 409 and waiting["Content-Type"].startswith("application/json")
    assert error_of(waiting)["detail"]["status"] == "queued"
