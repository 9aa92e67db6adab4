"""h2 audit: the run page polls only its progress card; when a run ends while the page is open,
the polled fragment shows "Failed N" but the "Failed accounts" card (rendered at load) keeps saying
"No account failed so far." with no "Run the failed accounts again" button, and "Cancel the run"
stays on a finished run, until the user reloads. The last poll must bring the failures (or make
the page reload: HX-Refresh)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun, RunOutcome

pytestmark = pytest.mark.django_db


def test_the_poll_that_sees_the_run_end_brings_its_failures(book, as_user, firm_a):
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=book["run"].as_of, total=1,
                                          status=RebalanceRun.Status.RUNNING)
    client = as_user("pm")
    assert "No account failed so far." in client.get(f"/runs/{run.pk}/").content.decode()

    with tenant_context(firm_a):
        RunOutcome.objects.create(run=run, account=book["mine"][0], outcome=RunOutcome.Outcome.FAILED,
                                  code="missing_price", message="No price for VTI.")
        RebalanceRun.objects.filter(pk=run.pk).update(status=RebalanceRun.Status.COMPLETED, failed=1)

    poll = client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    assert poll.get("HX-Refresh") == "true" or "No price for VTI." in body


def _operator():
    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.roles import ProviderRole
    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with schema_context("public"):
        operator = user_ensure(username="op@polling.test", email="op@polling.test",
                               roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        console = Client(HTTP_HOST="localhost")
        console.force_login(operator)
    return console


def test_a_poll_of_a_run_still_going_only_updates_its_progress(book, as_user, firm_a):
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=book["run"].as_of, total=1,
                                          status=RebalanceRun.Status.RUNNING)
    poll = as_user("pm").get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and poll.get("HX-Refresh") is None
    assert 'hx-trigger="every 2s"' in poll.content.decode()


def test_the_provider_run_page_reloads_when_the_run_ends(book, firm_a):
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=book["run"].as_of, total=1,
                                          status=RebalanceRun.Status.RUNNING)
    console = _operator()
    url = f"/runs/{firm_a.slug}/{run.pk}/"
    assert console.get(url, HTTP_HX_REQUEST="true").get("HX-Refresh") is None

    with tenant_context(firm_a):
        RunOutcome.objects.create(run=run, account=book["mine"][0], outcome=RunOutcome.Outcome.FAILED,
                                  code="missing_price", message="No price for VTI.")
        RebalanceRun.objects.filter(pk=run.pk).update(status=RebalanceRun.Status.COMPLETED, failed=1)

    assert console.get(url, HTTP_HX_REQUEST="true").get("HX-Refresh") == "true"
    page = console.get(url).content.decode()  # the reload: the failures and their button
    assert "No price for VTI." in page and f'action="/runs/{firm_a.slug}/{run.pk}/retry/"' in page
