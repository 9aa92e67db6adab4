"""The prospect view in the browser: start a backtest, watch it, read it, download it."""

import csv
import io
import json
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Backtest
from rebalancing.services.backtests import backtest_execute

pytestmark = pytest.mark.django_db

FORM = {"name": "Smith family", "template": "", "basket": "sample", "prices": "sample", "amount": "500000",
        "start": "2008-06-30", "years": "1", "cohorts": "1", "short_term_rate": "40.8", "long_term_rate": "23.8",
        "losses": "offset"}


def test_an_advisor_starts_a_backtest_watches_it_and_reads_what_harvesting_would_have_saved(
        firm_a, as_user, django_capture_on_commit_callbacks):
    client = as_user("advisor")
    page = client.get("/backtests/")
    assert page.status_code == 200 and b"What harvesting would have saved" in page.content
    with django_capture_on_commit_callbacks() as queued:
        started = client.post("/backtests/", FORM)
    assert started.status_code == 302 and len(queued) == 1
    detail_url = started["Location"]
    with tenant_context(firm_a):
        backtest = Backtest.objects.get()
    assert backtest.name == "Smith family" and float(backtest.short_term_rate) == pytest.approx(0.408)

    waiting = client.get(detail_url, HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200 and b'hx-trigger="every 2s"' in waiting.content

    with tenant_context(firm_a):
        backtest_execute(backtest_id=backtest.pk)
    done = client.get(detail_url, HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"  # the poll reloads the page with the results
    page = client.get(detail_url)
    html = page.content.decode()
    assert 'data-testid="tax-saved"' in html and "Naive harvester" in html and "Buy and hold" in html
    assert 'id="chart-value"' in html and 'id="chart-alpha"' in html
    value_chart = json.loads(re.search(r'id="chart-value" type="application/json">(.*?)</script>', html).group(1))
    assert value_chart["money"] is True  # the axis reads $1,000,000, not 1000000
    # a year's harvests over one start date are a whole number, not "3.0"
    harvests = [row.split('<td class="num">')[6] for row in re.findall(r'<tr><th scope="row">20\d\d</th>(.*?)</tr>', html)]
    assert harvests and not any(re.match(r"\d+\.0<", h) for h in harvests)
    # the month-end values are also a table (for screen readers and keyboards)
    assert re.search(r"<td>2008-0[67]-\d\d</td>", html)

    # the subtitle keeps the data set's capitals (before: "20 s&p 500 stocks")
    assert "bundled real prices (20 S&amp;P 500 stocks, 1990-2022)" in html

    download = client.get(detail_url + "?download=csv")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert download.content.decode().startswith("level,cohort_start,period_start")
    # money to the cent, fractions to six places, never -0 (before: 1000000.0000000001, -0.0)
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert rows and all(re.fullmatch(r"-?\d+\.\d\d", r["end_value"]) and re.fullmatch(r"-?\d+\.\d{6}", r["tax_alpha"])
                        for r in rows)
    assert not any(v.startswith("-") and float(v) == 0 for r in rows for v in r.values() if re.fullmatch(r"-[\d.]+", v))


def test_bad_input_is_explained_and_nothing_is_started(firm_a, as_user):
    client = as_user("pm")
    bad = client.post("/backtests/", {**FORM, "years": "0", "basket": "model"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "Choose the model" in html and "The horizon (years) must be at least 1." in html
    rates = client.post("/backtests/", {**FORM, "amount": "10", "short_term_rate": "140"}).content.decode()
    assert "The amount invested must be at least 1,000." in rates and "The short-term rate (in percent) must be at most 100." in rates
    beyond = client.post("/backtests/", {**FORM, "start": "2021-06-30", "years": "5"}, follow=True)
    assert "Prices cover 1990-01-02 to 2022-12-28" in beyond.content.decode()
    off_the_calendar = client.post("/backtests/", {**FORM, "start": "0001-01-01"}, follow=True)
    assert off_the_calendar.status_code == 200 and "runs outside the calendar" in off_the_calendar.content.decode()
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()


def test_a_colleagues_backtest_is_not_found(firm_a, as_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        started = as_user("advisor").post("/backtests/", FORM)
    assert as_user("colleague").get(started["Location"]).status_code == 404
    assert as_user("admin").get(started["Location"]).status_code == 200


def test_the_csv_of_a_backtest_not_completed_is_refused_saying_why(firm_a, as_user, django_capture_on_commit_callbacks):
    client = as_user("pm")
    with django_capture_on_commit_callbacks():
        started = client.post("/backtests/", FORM)
    # before: the page itself came back (200, HTML) where a CSV was asked for, saying nothing
    queued = client.get(started["Location"] + "?download=csv")
    assert queued.status_code == 302 and queued["Location"] == started["Location"]
    assert "is queued: its CSV comes when it completes" in client.get(queued["Location"]).content.decode()
    with tenant_context(firm_a):
        Backtest.objects.update(status=Backtest.Status.FAILED, error="no prices")
    failed = client.get(started["Location"] + "?download=csv", follow=True)
    assert "failed (no prices): it has no figures to download" in failed.content.decode()
    assert not failed.get("Content-Disposition")


def test_a_user_with_no_role_is_refused_the_backtests(firm_a, client_for):
    from tenants.services import user_ensure

    with tenant_context(firm_a):
        nobody = user_ensure(username="none@pages.example", email="none@pages.example", roles=[],
                             password="x-pass-12345")
    client = client_for(firm_a, nobody)
    assert client.get("/backtests/").status_code == 403
    assert client.post("/backtests/", FORM).status_code == 403
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()
