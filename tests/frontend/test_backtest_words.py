"""The backtest form's refusals as a demanding reader reads them: sentences that start with a capital,
"1 start date" and "3 start dates" (not "cohort(s)"), the start dates the prices can serve, and bounds
written with thousands separators."""

import html
import re
from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Backtest
from rebalancing.services.backtests import _check_history
from tenants.errors import ValidationFailed

from .test_backtest_pages import FORM

pytestmark = pytest.mark.django_db

SAMPLE = ["AAPL", "MSFT"]


def _refusal(**changes) -> str:
    values = dict(prices=Backtest.Prices.SAMPLE, symbols=SAMPLE, start=date(2008, 6, 30), years=1, cohorts=1) | changes
    with pytest.raises(ValidationFailed) as refused:
        _check_history(**values)
    return refused.value.message


def _valid_range(said: str) -> tuple[date, date]:
    found = re.search(r"start date can be from (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)\.$", said)
    assert found, said
    return date.fromisoformat(found.group(1)), date.fromisoformat(found.group(2))


@pytest.mark.parametrize(("years", "cohorts"), [(5, 1), (1, 3), (10, 2)])
def test_a_start_the_prices_cannot_serve_names_the_start_dates_they_can(years, cohorts):
    said = _refusal(start=date(2021, 6, 30), years=years, cohorts=cohorts)

    assert said.startswith("Prices cover 1990-01-02 to 2022-12-28; ")
    assert "cohort" not in said
    assert f"{cohorts} start date{'s' if cohorts > 1 else ''} of {years} year{'s' if years > 1 else ''} from " \
           f"2021-06-30 need{'s' if cohorts == 1 else ''} prices" in said
    earliest, latest = _valid_range(said)
    # the range stated is exactly the one the check accepts
    for start in (earliest, latest):
        _check_history(prices=Backtest.Prices.SAMPLE, symbols=SAMPLE, start=start, years=years, cohorts=cohorts)
    assert _valid_range(_refusal(start=earliest - timedelta(days=1), years=years, cohorts=cohorts)) == (earliest, latest)
    assert _valid_range(_refusal(start=latest + timedelta(days=1), years=years, cohorts=cohorts)) == (earliest, latest)


def test_a_horizon_longer_than_the_prices_says_so_instead_of_a_range():
    said = _refusal(start=date(2000, 6, 30), years=30, cohorts=4)

    assert said.endswith("These prices are too short for 4 start dates of 30 years: choose fewer years or fewer "
                         "start dates.")


def test_the_page_says_the_refusals_as_sentences_with_bounds_a_reader_reads(firm_a, as_user):
    client = as_user("pm")

    large = html.unescape(client.post("/backtests/", {**FORM, "amount": "1e12", "cohorts": "31"}).content.decode())
    beyond = html.unescape(client.post("/backtests/", {**FORM, "start": "2021-06-30", "years": "5"},
                                       follow=True).content.decode())
    off = html.unescape(client.post("/backtests/", {**FORM, "start": "0001-01-01"}, follow=True).content.decode())

    assert "The amount invested must be at most 100,000,000,000." in large
    assert "The number of start dates must be at most 30." in large
    assert "Prices cover 1990-01-02 to 2022-12-28; 1 start date of 5 years from 2021-06-30 needs prices" in beyond
    assert "With these prices the start date can be from 1990-10-18 to 2017-12-28." in beyond
    assert re.search(r"1 start date of \d+ years? from 0001-01-01 runs outside the calendar; choose a start within "
                     r"the prices' span\.", off)
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()
