"""The provider's "Run every active firm" is a button of its own that asks first (app.js's
data-confirm), saying how many firms and accounts it runs; a firm's own run stays one click."""

import html
import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from rebalancing.models import Account
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@confirm.test", email="op@confirm.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)  # the user lives in the public schema
    return client


def _form(page: str, testid: str) -> str:
    found = re.search(rf'<form [^>]*data-testid="{testid}"[^>]*>(.*?)</form>', page, re.S)
    assert found, f"no form {testid}"
    return found.group(0)


def test_run_every_firm_asks_first_with_the_firms_and_accounts_it_runs(firm_a, firm_b, book, operator):
    # Given firm A with its book's managed accounts and firm B with none
    with schema_context(firm_a.schema_name):
        managed = Account.objects.managed().count()
    assert managed > 0

    # When the operator opens the runs page
    page = operator.get("/runs/").content.decode()

    # Then "every firm" is its own form, posting the all-firms choice, asking first with the counts
    form = _form(page, "run-every-firm")
    assert 'name="firm" value="*"' in form
    question = html.unescape(re.search(r'data-confirm="([^"]*)"', form).group(1))
    assert question.startswith(f"Start a run in every active firm: 2 firms, {managed} accounts in all?")
    # And the firm choice no longer hides "every firm" among single firms, where nothing asks
    select = re.search(r'<select id="p-firm".*?</select>', page, re.S).group(0)
    assert 'value="*"' not in select


def test_a_viewer_who_may_not_run_sees_no_run_buttons(firm_a, book):
    with schema_context("public"):
        user = user_ensure(username="admin@confirm.test", email="admin@confirm.test",
                           roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    page = client.get("/runs/").content.decode()
    assert 'data-testid="run-every-firm"' not in page and "Start the run" not in page
