"""A model holding a security without a price makes every run of its accounts fail ("no price for
HTHRX"): the assignment is refused before anything is written, naming the securities and what to do;
the model page warns when a saved version holds one; the provider's retry of such failures says
the fix is the firm's (import the price), not another run."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import Account, RebalanceRun, RunOutcome, Security
from tenants.audit.models import AuditEvent
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_model

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _unpriced_model():
    Security.objects.create(symbol="HTHRX", name="Hartford fund", asset_class="bonds", is_fund=True)
    return make_model("unpriced", sleeves=(("us_equity", "0.6", {"VTI": "1"}),
                                           ("bonds", "0.4", {"BND": "0.5", "HTHRX": "0.5"})))


def test_assigning_a_model_holding_a_security_without_a_price_is_refused_naming_it(book, as_user, firm_a):
    with tenant_context(firm_a):
        model = _unpriced_model()
        account = book["mine"][0]

    response = as_user("admin").post("/accounts/assign/", {"q": account.custodian_number, "set_model": model.pk},
                                     follow=True)

    page = text(response)
    assert "Assigned to 1 account" not in page
    assert ("Nothing assigned: model “Unpriced” holds HTHRX, which has no price: every run of an account on the model "
            "would fail (“no price for HTHRX”); import a price for it on the Import page (“Closing prices by day”), "
            "then assign it to the 1 account again.") in page
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).model_id == book["model"].pk
        assert not AuditEvent.objects.filter(action="account.assign").exists()


def test_saving_a_model_version_holding_a_security_without_a_price_warns(book, as_user, firm_a):
    with tenant_context(firm_a):
        Security.objects.create(symbol="HTHRX", name="Hartford fund", asset_class="bonds", is_fund=True)
    form = {"rows": "3", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 50, HTHRX 50",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100"}

    response = as_user("admin").post(f"/models/{book['model'].pk}/", form, follow=True)

    page = text(response)
    assert "Version 2 of" in page
    assert "holds HTHRX, which has no price: every run of an account on the model would fail" in page
    # a model whose securities all have a price says nothing of the kind
    form["s1-holdings"] = "BND 100"
    assert "which has no price" not in text(as_user("admin").post(f"/models/{book['model'].pk}/", form, follow=True))


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@unpriced.test", email="op@unpriced.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def test_the_provider_retry_of_missing_price_failures_says_the_fix_is_the_firms(firm_a, book, operator):
    run = book["run"]
    with tenant_context(firm_a):
        RebalanceRun.objects.filter(pk=run.pk).update(status=RebalanceRun.Status.COMPLETED)
        for account in book["mine"]:
            RunOutcome.objects.update_or_create(run=run, account=account, defaults={
                "outcome": RunOutcome.Outcome.FAILED, "code": "missing_price",
                "message": "no price for HTHRX on or before the run's date", "detail": {"symbol": "HTHRX"}})

    page = text(operator.get(f"/runs/{firm_a.slug}/{run.pk}/"))

    assert "Run the 2 failed accounts again" in page
    assert (f"2 of the 2 failed for a missing price (HTHRX): the fix is {firm_a.name}'s, which must import the price "
            "(Import page, “Closing prices by day”). Running those accounts again before it does fails the same way."
            ) in page
