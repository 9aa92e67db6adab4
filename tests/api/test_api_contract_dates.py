"""A date the API reads is RFC 3339's full-date, YYYY-MM-DD, as its schema says (format: date).
Python's date.fromisoformat (which DRF read dates with) also takes the ISO basic and week forms:
"20261120" and "2026-W47-5" were 2026-11-20. Anything else is a 400 naming the parameter."""

import pytest
from django_tenants.utils import tenant_context
from rest_framework import serializers

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

NOT_FULL_DATES = ["20261120", "2026-W47-5", "2026W475", "2026-1-5", "2026-11- 5"]


def assert_refused(answer, field: str) -> None:
    body = error_of(answer)
    assert answer.status_code == 400, answer.content
    assert body["code"] == "invalid"
    assert list(body["detail"]["fields"]) == [field]
    assert "YYYY-MM-DD" in str(body["detail"]["fields"][field])


@pytest.mark.parametrize("day", NOT_FULL_DATES)
def test_a_query_date_not_written_yyyy_mm_dd_is_refused_naming_it(firm_a, people, book, client_for, day):
    client = client_for(firm_a, people["pm"])

    assert_refused(client.get(f"{API}/reports/transition/", {"as_of": day}), "as_of")
    assert_refused(client.get(f"{API}/reports/realised-gains/", {"start": day, "end": "2026-11-20"}), "start")
    assert_refused(client.get(f"{API}/reports/rmds/", {"as_of": day}), "as_of")
    assert_refused(client.get(f"{API}/accounts/{book['own'].pk}/rmd/", {"as_of": day}), "as_of")


@pytest.mark.parametrize("day", NOT_FULL_DATES)
def test_a_body_date_not_written_yyyy_mm_dd_is_refused_naming_it_and_starts_nothing(
        firm_a, people, book, client_for, day):
    from rebalancing.models import Backtest, RebalanceRun

    client = client_for(firm_a, people["pm"])
    with tenant_context(firm_a):
        before = RebalanceRun.objects.count(), Backtest.objects.count()

    assert_refused(client.post(f"{API}/runs/", {"scope": {"firm": True}, "as_of": day}, content_type="application/json"),
             "as_of")
    assert_refused(client.post(f"{API}/backtests/", {"start": day}, content_type="application/json"), "start")
    assert_refused(client.post(f"{API}/imports/", {"kind": "prices", "as_of": day, "rows": [
        {"symbol": "VTI", "date": "2026-11-19", "close": "101.5"}]}, content_type="application/json"), "as_of")
    assert_refused(client.post(f"{API}/executions/", {"as_of": day, "executions": [{"external_id": "X-1"}]},
                         content_type="application/json"), "as_of")
    with tenant_context(firm_a):
        assert (RebalanceRun.objects.count(), Backtest.objects.count()) == before


@pytest.mark.parametrize("day", NOT_FULL_DATES)
def test_a_benchmark_weights_date_not_written_yyyy_mm_dd_is_refused_naming_it(firm_a, people, book, client_for,
                                                                               day):
    from rebalancing.models import Benchmark

    with tenant_context(firm_a):
        benchmark = Benchmark.objects.create(code="TOT", name="Total market")
    client = client_for(firm_a, people["pm"])

    assert_refused(client.get(f"{API}/benchmarks/{benchmark.pk}/weights/", {"date": day}), "date")
    assert client.get(f"{API}/benchmarks/{benchmark.pk}/weights/", {"date": "2026-11-20", "page": "1"}).status_code == 200


@pytest.mark.parametrize("day", NOT_FULL_DATES)
def test_a_list_filters_date_not_written_yyyy_mm_dd_is_refused_naming_it(firm_a, people, book, client_for, day):
    client = client_for(firm_a, people["pm"])

    for name in ("date", "date_from", "date_to"):
        answer = client.get(f"{API}/prices/", {name: day})
        assert answer.status_code == 400, answer.content
        assert error_of(answer)["detail"]["fields"][name] == ["is not a date written YYYY-MM-DD (e.g. 2026-11-20)."]
    assert client.get(f"{API}/prices/", {"date_from": "2026-11-01", "date_to": "2026-11-20"}).status_code == 200


def test_a_date_written_yyyy_mm_dd_is_read(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["pm"]).get(f"{API}/reports/realised-gains/",
                                                  {"start": "2026-01-01", "end": "2026-11-20"})

    assert answer.status_code == 200, answer.content
    assert (answer.json()["start"], answer.json()["end"]) == ("2026-01-01", "2026-11-20")


def test_drf_date_fields_read_only_the_full_date_form_outside_the_api_serializers_too():
    # REST_FRAMEWORK["DATE_INPUT_FORMATS"]: a date field of a serializer without the strict mixin.
    field = serializers.DateField()

    assert str(field.to_internal_value("2026-11-20")) == "2026-11-20"
    for day in ("20261120", "2026-W47-5"):
        with pytest.raises(serializers.ValidationError, match="YYYY-MM-DD"):
            field.to_internal_value(day)


def test_a_bad_date_is_named_with_every_other_problem_of_the_body(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["pm"]).post(f"{API}/runs/", {"scope": {"account_ids": ["x"]},
                                                                    "as_of": "20261120"},
                                                   content_type="application/json")

    assert answer.status_code == 400
    assert set(error_of(answer)["detail"]["fields"]) == {"scope", "as_of"}


# Written YYYY-MM-DD, but no day of the calendar: DRF answered its stock "Date has wrong format. Use one
# of these formats instead: YYYY-MM-DD" and the lists' filters Django's "Enter a valid date."
NOT_CALENDAR_DAYS = {"2026-13-01": "month must be in 1..12", "2026-02-30": "day is out of range for month",
                     "0000-01-01": "year 0 is out of range"}


@pytest.mark.parametrize(("day", "why"), NOT_CALENDAR_DAYS.items())
def test_a_date_the_calendar_does_not_have_is_refused_in_the_apis_own_words(firm_a, people, book, client_for, day,
                                                                           why):
    client = client_for(firm_a, people["pm"])
    problem = [f"is not a date: {why} (YYYY-MM-DD, e.g. 2026-11-20)."]

    for path, name, query in [("order-files/", "day", {}), ("reports/rmds/", "as_of", {}),
                              ("prices/", "date_from", {}), ("reports/realised-gains/", "start", {"end": "2026-11-20"})]:
        answer = client.get(f"{API}/{path}", {name: day, **query})
        assert answer.status_code == 400, (path, answer.content)
        assert error_of(answer)["detail"]["fields"] == {name: problem}, path
    body = client.post(f"{API}/runs/", {"scope": {"firm": True}, "as_of": day}, content_type="application/json")
    assert error_of(body)["detail"]["fields"] == {"as_of": problem}
