""""Run every active firm" starts a run in each active firm, also where there is no account yet (a
scheduled run over an empty book is one too); its message says how many firms had accounts and
names those that had none, whose runs are empty. It said "Runs started in 3 firms" of them all."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import RebalanceRun
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

from .test_run_start_words import _emptied

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@every.test", email="op@every.test", roles=[ProviderRole.PROVIDER_OPERATOR],
                           password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_every_firm_says_which_firms_had_accounts_and_which_had_none(firm_a, firm_b, book, operator,
                                                                      django_capture_on_commit_callbacks):
    _emptied(firm_b)  # (tests of other files that commit may have left accounts and runs there)
    form = _text(operator.get("/runs/"))
    assert f"1 of the firms has no account yet ({firm_b.name}): its run is empty." in form

    with django_capture_on_commit_callbacks():
        page = _text(operator.post("/runs/start/", {"firm": "*"}, follow=True))

    with tenant_context(firm_b):
        empty = RebalanceRun.objects.get()  # still started there, as the scheduled all-firm run does
    assert empty.total == 0
    message = page.split("Runs started in")[1].split("</li>")[0]
    assert re.match(rf" 2 firms, 1 with accounts: {firm_a.name} \(run \d+, 4 accounts\); 1 has no account yet, so its "
                    rf"run is empty: {firm_b.name} \(run {empty.pk}\)\.$", message)


def test_every_firm_as_of_a_day_runs_each_as_of_it_and_a_day_ahead_starts_none(firm_a, firm_b, book, operator,
                                                                               django_capture_on_commit_callbacks):
    _emptied(firm_b)
    with tenant_context(firm_a):
        before = RebalanceRun.objects.count()
    ahead = _text(operator.post("/runs/start/", {"firm": "*", "as_of": "2099-01-01"}, follow=True))
    assert "The run's day must be from 1900-01-01 to today" in ahead.replace("&#x27;", "'")
    assert "No run was started." in ahead
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == before

    with django_capture_on_commit_callbacks():
        page = _text(operator.post("/runs/start/", {"firm": "*", "as_of": "2026-01-05"}, follow=True))

    assert "Runs started in 2 firms as of 2026-01-05, 1 with accounts" in page
    for firm in (firm_a, firm_b):
        with tenant_context(firm):
            assert str(RebalanceRun.objects.filter(started_by_label__startswith="op@every.test").get().as_of) == \
                "2026-01-05"
