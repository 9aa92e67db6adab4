"""The accounts a run failed are rebalanced again from the run's page, in a run of their own."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun, RunOutcome

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _fail(run, accounts):
    for account in accounts:
        RunOutcome.objects.update_or_create(run=run, account=account, defaults={
            "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price", "message": "No price for VTI."})


def test_a_portfolio_manager_runs_the_failed_accounts_again_from_the_run_page(book, as_user, firm_a):
    run = book["run"]
    failed = [book["mine"][0], book["theirs"][0]]
    with tenant_context(firm_a):
        _fail(run, failed)
        runs_before = RebalanceRun.objects.count()
    client = as_user("pm")

    page = text(client.get(f"/runs/{run.pk}/"))
    assert f'action="/runs/{run.pk}/retry/"' in page and "Run the 2 failed accounts again" in page

    response = client.post(f"/runs/{run.pk}/retry/", follow=True)

    with tenant_context(firm_a):
        retry = RebalanceRun.objects.exclude(pk=run.pk).order_by("-pk").first()
        assert RebalanceRun.objects.count() == runs_before + 1
        assert sorted(retry.scope["account_ids"]) == sorted(a.pk for a in failed) and retry.total == 2
    assert response.redirect_chain[-1][0] == f"/runs/{retry.pk}/"
    assert (f"Run {retry.pk} started over the 2 accounts that failed in run {run.pk}, as of {run.as_of:%Y-%m-%d} "
            f"(run {run.pk}&#x27;s day).") in text(response)


def test_a_run_without_failures_offers_nothing_and_a_retry_starts_nothing(book, as_user, firm_a):
    run = book["run"]
    with tenant_context(firm_a):
        RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED).delete()
        runs_before = RebalanceRun.objects.count()
    client = as_user("pm")

    assert "/retry/" not in text(client.get(f"/runs/{run.pk}/"))
    response = client.post(f"/runs/{run.pk}/retry/", follow=True)

    assert f"No account failed in run {run.pk}" in text(response)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before


def test_a_run_still_going_is_not_retried(book, as_user, firm_a):
    with tenant_context(firm_a):
        running = RebalanceRun.objects.create(scope={"firm": True}, as_of=book["run"].as_of, total=1,
                                              status=RebalanceRun.Status.RUNNING)
        _fail(running, [book["mine"][0]])
        runs_before = RebalanceRun.objects.count()

    response = as_user("pm").post(f"/runs/{running.pk}/retry/", follow=True)

    assert f"Run {running.pk} is still running" in text(response)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before


def test_compliance_sees_failures_but_cannot_run_them_again(book, as_user, firm_a):
    with tenant_context(firm_a):
        _fail(book["run"], [book["mine"][0]])
    client = as_user("compliance")

    assert "/retry/" not in text(client.get(f"/runs/{book['run'].pk}/"))
    assert client.post(f"/runs/{book['run'].pk}/retry/").status_code == 403


def _provider_client(role):
    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with schema_context("public"):
        user = user_ensure(username=f"{role}@provider.test", email=f"{role}@provider.test", roles=[role],
                           password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)  # the user lives in the public schema
    return client


def test_a_provider_operator_sees_a_firms_failures_and_runs_them_again(book, firm_a):
    from tenants.roles import ProviderRole

    run = book["run"]
    with tenant_context(firm_a):
        _fail(run, [book["mine"][0]])
        runs_before = RebalanceRun.objects.count()
    client = _provider_client(ProviderRole.PROVIDER_OPERATOR)

    page = text(client.get(f"/runs/{firm_a.slug}/{run.pk}/"))
    assert book["mine"][0].custodian_number in page and "No price for VTI." in page
    assert f'action="/runs/{firm_a.slug}/{run.pk}/retry/"' in page

    response = client.post(f"/runs/{firm_a.slug}/{run.pk}/retry/", follow=True)

    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before + 1
        retry = RebalanceRun.objects.order_by("-pk").first()
        assert retry.scope == {"account_ids": [book["mine"][0].pk], "retry_of": run.pk}
    assert response.redirect_chain[-1][0] == f"/runs/{firm_a.slug}/{retry.pk}/"
    assert (f"Run {retry.pk} started in {firm_a.name} over the 1 account that failed in run {run.pk}, as of "
            f"{run.as_of:%Y-%m-%d} (run {run.pk}&#x27;s day).") in text(response)


def test_a_provider_admin_reads_failures_but_does_not_run_them_again(book, firm_a):
    from tenants.roles import ProviderRole

    with tenant_context(firm_a):
        _fail(book["run"], [book["mine"][0]])
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)

    page = text(client.get(f"/runs/{firm_a.slug}/{book['run'].pk}/"))
    assert "No price for VTI." in page and "/retry/" not in page
    assert client.post(f"/runs/{firm_a.slug}/{book['run'].pk}/retry/").status_code == 403


def test_a_second_retry_of_one_run_starts_nothing_and_names_the_first(book, as_user, firm_a):
    """A page left open (or the back button) offered the retry again: a second click started another
    run over the same accounts and day, whose proposals superseded the first retry's."""
    run = book["run"]
    with tenant_context(firm_a):
        _fail(run, [book["mine"][0]])
    client = as_user("pm")
    client.post(f"/runs/{run.pk}/retry/")
    with tenant_context(firm_a):
        retry = RebalanceRun.objects.exclude(pk=run.pk).order_by("-pk").first()
        assert retry.scope["retry_of"] == run.pk
        runs_before = RebalanceRun.objects.count()

    # When the retry is posted again from the stale page - then refused naming the first, nothing started
    response = client.post(f"/runs/{run.pk}/retry/", follow=True)
    assert f"Run {run.pk}&#x27;s failed accounts were run again in run {retry.pk}" in text(response)
    assert "No run was started." in text(response)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before
    # ...and the run's page links the retry in place of the button
    page = text(client.get(f"/runs/{run.pk}/"))
    assert f'action="/runs/{run.pk}/retry/"' not in page and f'href="/runs/{retry.pk}/"' in page
    assert 'data-testid="retried-in"' in page


def test_the_provider_console_refuses_a_second_retry_too(book, firm_a):
    from tests.frontend.test_run_page_failures_after_polling import _operator

    run = book["run"]
    with tenant_context(firm_a):
        _fail(run, [book["mine"][0]])
    console = _operator()
    console.post(f"/runs/{firm_a.slug}/{run.pk}/retry/")
    with tenant_context(firm_a):
        retry = RebalanceRun.objects.exclude(pk=run.pk).order_by("-pk").first()
        runs_before = RebalanceRun.objects.count()
    response = console.post(f"/runs/{firm_a.slug}/{run.pk}/retry/", follow=True)
    assert f"were run again in run {retry.pk}" in text(response)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before
    page = text(console.get(f"/runs/{firm_a.slug}/{run.pk}/"))
    assert f'action="/runs/{firm_a.slug}/{run.pk}/retry/"' not in page and 'data-testid="retried-in"' in page
