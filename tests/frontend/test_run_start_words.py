"""The message after a run starts: "over 1 account" (it said "1 accounts"), and a provider operator's
run in a firm with no account at all is refused, naming the firm (it started a run over 0 accounts,
after which the firm's health read "look at it")."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import Account, CashFlow, RebalanceRun
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_book

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@run-words.test", email="op@run-words.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def _emptied(firm) -> None:
    """The firm's book and runs gone for this test (tests of other files that commit, with a real
    worker, may have left rows in its schema; the test's transaction brings them back after)."""
    with tenant_context(firm):
        CashFlow.objects.all().delete()
        RebalanceRun.objects.all().delete()
        Account.objects.all().delete()


def test_a_run_over_one_account_says_one_account(firm_b, firm_user, client_for, django_capture_on_commit_callbacks):
    pm = firm_user(firm_b, "pm@run-words.example", FirmRole.PORTFOLIO_MANAGER)
    _emptied(firm_b)
    with tenant_context(firm_b):
        make_book(1)

    with django_capture_on_commit_callbacks():
        response = client_for(firm_b, pm).post("/runs/", {"scope": "firm"}, follow=True)

    with tenant_context(firm_b):
        run = RebalanceRun.objects.get()
    assert run.total == 1
    assert f"Run {run.pk} started over 1 account." in _text(response)


def test_a_provider_run_in_a_firm_with_no_account_is_refused_naming_the_firm(firm_a, firm_b, operator):
    _emptied(firm_b)
    with tenant_context(firm_a):
        make_book(2)  # another firm's accounts change nothing

    response = operator.post("/runs/start/", {"firm": firm_b.slug}, follow=True)

    assert response.redirect_chain[-1][0] == "/runs/"
    assert f"{firm_b.name}: it has no accounts to run." in _text(response)
    with tenant_context(firm_b):
        assert not RebalanceRun.objects.exists()

