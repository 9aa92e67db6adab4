"""A tax report is drawn for a year up to the current one and read as of a day up to today, in the
API, the pages and the tax_report command alike (``reports.report_year_check``, ``report_day_check``):
a Schedule D is built from every year before the one asked, so year 9999 used to tie the server up
for seconds (minutes and gigabytes on a real book) with sheets of years that have no sales."""

from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import latest_book_day
from rebalancing.ledger.carryover import household_years
from rebalancing.models import Household
from tenants.errors import ValidationFailed

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(firm_a, people, api_key):
    return key_client(firm_a, api_key(firm_a, people["advisor"], scopes=("read",)))


def test_schedule_d_of_a_year_after_the_current_one_is_refused_by_name(book, reader):
    this_year = latest_book_day().year  # the current tax year, where it has begun anywhere
    assert reader.get(f"{API}/reports/schedule-d/?year={this_year}").status_code == 200
    for year in (this_year + 1, 9999):
        answer = reader.get(f"{API}/reports/schedule-d/?year={year}")
        body = error_of(answer)
        assert answer.status_code == 400 and body["code"] == "invalid", body
        assert body["detail"]["fields"] == {
            "year": [f"The tax year must be from 1900 to {this_year} (the current one), not {year}."]}


def test_schedule_d_of_a_year_before_1900_is_refused_by_name(reader):
    answer = reader.get(f"{API}/reports/schedule-d/?year=1899")
    assert answer.status_code == 400 and list(error_of(answer)["detail"]["fields"]) == ["year"]


def test_the_transition_report_as_of_a_day_after_today_is_refused_by_name(book, reader):
    today = latest_book_day()
    assert reader.get(f"{API}/reports/transition/?as_of={today}").status_code == 200
    for day in (today + timedelta(days=1), date(9999, 12, 31)):
        answer = reader.get(f"{API}/reports/transition/?as_of={day}")
        body = error_of(answer)
        assert answer.status_code == 400 and body["code"] == "invalid", body
        [said] = body["detail"]["fields"]["as_of"]
        assert said.startswith("The day the report is read as of (as_of) must be from 1900-01-01 to today") \
            and said.endswith(f"not {day}.")


def test_no_caller_builds_schedule_d_sheets_beyond_the_year_after_the_current_one(firm_a, book):
    this_year = latest_book_day().year  # the current tax year, where it has begun anywhere
    with tenant_context(firm_a):
        households = list(Household.objects.all())
        assert this_year + 1 in next(iter(household_years(households, this_year + 1).values()))
        with pytest.raises(ValidationFailed) as refused:
            household_years(households, 9999)
    assert refused.value.message == (f"Schedule D is drawn up to {this_year + 1} at the latest (the year after the "
                                     "current one), not for 9999.")


def test_the_report_pages_refuse_a_year_after_the_current_one(firm_a, people, book, client_for):
    this_year = latest_book_day().year  # the current tax year, where it has begun anywhere
    admin = client_for(firm_a, people["admin"])
    refused = admin.get("/reports/realised/?year=9999")
    assert refused.status_code == 400
    assert f"The tax year must be from 1900 to {this_year} (the current one), not 9999." in refused.content.decode()
    shown = admin.get(f"/reports/realised/?end={this_year + 5}-06-30")
    assert shown.status_code == 200
    assert (f"The period ends in {this_year + 5}: the tax year must be from 1900 to {this_year} (the current one), "
            f"not {this_year + 5}; the whole year is shown.") in shown.content.decode()
    download = admin.get(f"/reports/realised/?end={this_year + 5}-06-30&download=schedule-d")
    assert download.status_code == 400
    late = admin.get("/reports/transition/?as_of=9999-12-31")
    assert late.status_code == 400 and "not 9999-12-31." in late.content.decode()


def test_the_tax_report_command_refuses_a_year_after_the_current_one(firm_a, book):
    this_year = latest_book_day().year  # the current tax year, where it has begun anywhere
    with pytest.raises(CommandError, match=rf"--to: The tax year must be from 1900 to {this_year} \(the current one\), "
                                           r"not 9999\."):
        call_command("tax_report", "schedule-d", "--firm", firm_a.slug, "--to", "9999-12-31")
    with pytest.raises(CommandError, match=r"--to: The day the report is read as of \(as_of\) must be from 1900-01-01 "
                                           r"to today .* not 9999-12-31\."):
        call_command("tax_report", "transition", "--firm", firm_a.slug, "--to", "9999-12-31")


@pytest.mark.parametrize("typed", ["1800", "1899", "-1", "0", "99999999999999999999", "abc", "2026.5", "２０２６"])
def test_a_report_year_out_of_range_gets_the_reports_own_bounds_on_the_pages_and_the_api(
        firm_a, people, book, client_for, reader, typed):
    """One refusal, with the real bounds (1900 to the current tax year), whatever was typed: not the
    pages' old "1900 to 9999" nor DRF's "greater than or equal to 1900" / "A valid integer"."""
    this_year = latest_book_day().year
    digits = typed.removeprefix("-")
    given = int(typed) if digits.isascii() and digits.isdigit() else f"“{typed}”"
    said = f"The tax year must be from 1900 to {this_year} (the current one), not {given}."
    admin = client_for(firm_a, people["admin"])
    for url in ("/reports/realised/", "/reports/harvest/", f"/accounts/{book['own'].pk}/ledger/"):
        page = admin.get(url, {"year": typed})
        assert page.status_code == 400 and said in page.content.decode(), (url, page.content.decode()[-2000:])
    answer = reader.get(f"{API}/reports/schedule-d/", {"year": typed})
    # Digits other than 0-9 the API refuses in every number field first, by its one rule (strict.py).
    said_by_api = said if typed.isascii() else "is not a number: “２” (U+FF12) is a digit outside 0-9; write numbers " \
        "with the digits 0-9."
    assert answer.status_code == 400 and error_of(answer)["detail"]["fields"] == {"year": [said_by_api]}, (
        error_of(answer))


def test_a_report_year_in_range_is_read_on_the_pages_and_the_api(firm_a, people, book, client_for, reader):
    this_year = latest_book_day().year
    admin = client_for(firm_a, people["admin"])
    for year in (1900, this_year):
        assert admin.get("/reports/realised/", {"year": year}).status_code == 200
        assert reader.get(f"{API}/reports/schedule-d/", {"year": year}).status_code == 200
