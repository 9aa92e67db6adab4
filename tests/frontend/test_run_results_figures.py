"""A finished run's results (the firm's run page and the provider's alike) write a count of trades
with thousands separators, and a negative estimated tax as a saving ("saves $2,500"), as a
proposal's page does."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _dd(page: str, term: str) -> str:
    """The figure shown beside ``term`` in the run's results."""
    found = re.search(rf"<dt>{term}</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert found, term
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.fixture
def finished_run(firm_a, book, django_capture_on_commit_callbacks) -> RebalanceRun:
    with tenant_context(firm_a):
        with django_capture_on_commit_callbacks():
            run = run_start(scope=RunScope(firm=True), label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        proposals = Proposal.objects.filter(run=run)
        assert proposals.exists()
        # Given many trades and a net saving of tax (losses realised above the gains)
        proposals.update(trade_count=0, estimated_tax=0)
        first = proposals.order_by("pk").first()
        Proposal.objects.filter(pk=first.pk).update(trade_count=12345, estimated_tax=-2500)
        run.refresh_from_db()
    return run


def test_the_provider_run_page_writes_trades_with_separators_and_a_saving_as_one(firm_a, finished_run):
    with schema_context("public"):
        user = user_ensure(username="op@figures.test", email="op@figures.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        operator = Client(HTTP_HOST="localhost")
        operator.force_login(user)

    page = operator.get(f"/runs/{firm_a.slug}/{finished_run.pk}/").content.decode()

    assert _dd(page, "Trades") == "12,345"
    assert _dd(page, "Estimated tax") == "saves $2,500"  # as a proposal's page says it


def test_the_firm_run_page_says_the_same(finished_run, as_user):
    page = as_user("pm").get(f"/runs/{finished_run.pk}/").content.decode()

    assert _dd(page, "Trades") == "12,345"
    assert _dd(page, "Estimated tax") == "saves $2,500"



def _harvested(run, amount) -> None:
    Proposal.objects.filter(run=run).update(harvested_losses=0)
    first = Proposal.objects.filter(run=run).order_by("pk").first()
    Proposal.objects.filter(pk=first.pk).update(harvested_losses=amount)


def test_a_run_that_harvests_says_its_estimated_tax_is_the_years_and_the_rest_carries_forward(
        firm_a, finished_run, as_user):
    # Given losses harvested far beyond what a year's estimate can count
    with tenant_context(firm_a):
        _harvested(finished_run, 250_000)

    page = re.sub(r"\s+", " ", as_user("pm").get(f"/runs/{finished_run.pk}/").content.decode())

    assert _dd(page, "Losses harvested") == "$250,000"
    assert ("The estimated tax is what the proposals change in each account's tax for "
            f"{finished_run.as_of.year}") in page
    assert "carries forward to later years (IRC §1211(b), §1212(b)) and is not in that figure" in page


def test_a_run_that_harvests_nothing_does_not_explain_carryover(firm_a, finished_run, as_user):
    with tenant_context(firm_a):
        _harvested(finished_run, 0)

    page = as_user("pm").get(f"/runs/{finished_run.pk}/").content.decode()

    assert _dd(page, "Losses harvested") == "$0"
    assert 'data-testid="run-tax-year"' not in page
