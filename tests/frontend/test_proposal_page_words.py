"""What the proposal page says about its own figures: when its prices are from (older than its run's
day), what a tax-deferred account's estimated tax is, why a withdrawal's proposal has no trades."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db


def test_a_proposal_priced_with_older_closes_says_so(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).select_related("run").get()
        older = proposal.run.as_of - timedelta(days=12)
        Proposal.objects.filter(pk=proposal.pk).update(priced_on=older)

    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()

    assert f'<span data-testid="priced-on">priced with closes of {older:%b} {older.day}, {older.year}</span>' in page


def test_an_ira_proposals_tax_is_explained_as_income_on_a_distribution_not_capital_gains(book, as_user, firm_a):
    from rebalancing.models import Account

    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        Account.objects.filter(pk=proposal.account_id).update(tax_status=Account.TaxStatus.TRADITIONAL)
        result = proposal.result
        result["summary"]["estimated_tax"] = 16000.0
        Proposal.objects.filter(pk=proposal.pk).update(result=result)

    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()

    assert "a distribution is ordinary income, not a capital gain (IRC §408(d)(1), §408A(d))" in page
    assert "after netting with gains already realised" not in page


def test_a_withdrawals_proposal_without_trades_says_why_not_within_bands(book, as_user, firm_a):
    from rebalancing.models import RebalanceRun

    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        RebalanceRun.objects.filter(pk=proposal.run_id).update(kind=RebalanceRun.Kind.CASH_FLOW)
        result = proposal.result
        result["trades"] = []
        Proposal.objects.filter(pk=proposal.pk).update(result=result)

    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()

    assert "paid from its cash (or it pays no part); nothing needs selling" in page
    assert "the account is within its bands" not in page
