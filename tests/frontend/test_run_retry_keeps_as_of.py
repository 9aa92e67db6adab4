"""h2 audit: "Run the failed accounts again" of a run priced as of an earlier day starts a run as of
today instead: the accounts are solved on other prices and lots than the run whose failures it
repairs (and the page's own warning, "running those accounts again before [the price is imported]
fails the same way", is then wrong: it succeeds on today's prices)."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun, RunOutcome

pytestmark = pytest.mark.django_db


def test_the_retry_of_a_past_dated_run_is_priced_as_of_that_run(book, as_user, firm_a):
    run = book["run"]
    with tenant_context(firm_a):
        run.as_of = run.as_of - timedelta(days=10)
        run.save(update_fields=["as_of"])
        RunOutcome.objects.update_or_create(run=run, account=book["mine"][0], defaults={
            "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price", "message": "No price for VTI."})

    as_user("pm").post(f"/runs/{run.pk}/retry/")

    with tenant_context(firm_a):
        retry = RebalanceRun.objects.exclude(pk=run.pk).order_by("-pk").first()
        assert retry is not None
        assert retry.as_of == run.as_of


def test_the_button_and_the_message_say_the_day(book, as_user, firm_a):
    import re

    run = book["run"]
    with tenant_context(firm_a):
        RunOutcome.objects.update_or_create(run=run, account=book["mine"][0], defaults={
            "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price", "message": "No price for VTI."})
    client = as_user("pm")
    page = re.sub(r"\s+", " ", client.get(f"/runs/{run.pk}/").content.decode())
    assert f"Run the 1 failed account again, as of {run.as_of:%b} {run.as_of.day}, {run.as_of.year}</button>" in page

    done = re.sub(r"\s+", " ", client.post(f"/runs/{run.pk}/retry/", follow=True).content.decode())
    assert f"that failed in run {run.pk}, as of {run.as_of:%Y-%m-%d} (run {run.pk}&#x27;s day)." in done


def test_the_provider_retry_is_priced_as_of_that_run_too(book, firm_a):
    from tests.frontend.test_run_page_failures_after_polling import _operator

    run = book["run"]
    with tenant_context(firm_a):
        run.as_of = run.as_of - timedelta(days=10)
        run.save(update_fields=["as_of"])
        RunOutcome.objects.update_or_create(run=run, account=book["mine"][0], defaults={
            "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price", "message": "No price for VTI."})
    console = _operator()
    page = console.get(f"/runs/{firm_a.slug}/{run.pk}/").content.decode()
    assert f"again, as of {run.as_of:%b} {run.as_of.day}, {run.as_of.year}</button>" in page

    console.post(f"/runs/{firm_a.slug}/{run.pk}/retry/")

    with tenant_context(firm_a):
        retry = RebalanceRun.objects.exclude(pk=run.pk).order_by("-pk").first()
        assert retry is not None and retry.as_of == run.as_of
