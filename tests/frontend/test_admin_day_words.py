"""Words on the provider's pages: a run's day well written but before 1900 is said to be out of
range (not "not a day"), and the console's failed-account count is a proper plural."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from rebalancing.models import RebalanceRun
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_run_day_before_1900_is_said_to_be_out_of_range(firm_a):
    with schema_context("public"):
        user = user_ensure(username="op@words.test", email="op@words.test", roles=[ProviderRole.PROVIDER_OPERATOR],
                           password=PASSWORD)
    operator = Client(HTTP_HOST="localhost")
    operator.force_login(user)

    said = operator.post("/runs/start/", {"firm": firm_a.slug, "as_of": "1800-01-01"}, follow=True).content.decode()

    assert "is not a day" not in said
    assert re.search(r"The run&#x27;s day must be from 1900-01-01 to today \(.*\), not 1800-01-01\. No run was started\.",
                     said)
    assert "“5/1/2026” is not a day" in operator.post(
        "/runs/start/", {"firm": firm_a.slug, "as_of": "5/1/2026"}, follow=True).content.decode()


def test_one_failed_account_is_said_in_the_singular():
    from rebalancing.firm_health import _failed_text

    one = RebalanceRun(failed=1, total=100, status=RebalanceRun.Status.COMPLETED)
    assert _failed_text(one, 1, of_total=False) == "1 account failed in the last run"
    two = RebalanceRun(failed=2, total=100, status=RebalanceRun.Status.COMPLETED)
    assert _failed_text(two, 2, of_total=False) == "2 accounts failed in the last run"
