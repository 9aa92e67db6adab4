""""Rebalance now" on an account whose withdrawal or RMD sales wait for a decision says at once
that the run would leave it as it is, in the run's words and naming the waiting proposal; no run
starts (it said "Run 9 started" and the reason appeared only on the run page)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun

pytestmark = pytest.mark.django_db


def test_rebalance_now_names_the_waiting_withdrawal(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        cash = RebalanceRun.objects.create(kind=RebalanceRun.Kind.CASH_FLOW, scope={"account_ids": [account.pk]},
                                           as_of=book["run"].as_of, status=RebalanceRun.Status.COMPLETED)
        proposal = Proposal.objects.filter(account=account).order_by("-pk").first()
        Proposal.objects.filter(pk=proposal.pk).update(run=cash, status=Proposal.Status.PENDING)
        before = RebalanceRun.objects.count()

    response = as_user("pm").post(f"/accounts/{account.pk}/rebalance/", follow=True)

    page = re.sub(r"\s+", " ", response.content.decode())
    assert (f"Account {account.custodian_number} is not rebalanced: the sales of a withdrawal or RMD wait for a "
            f"decision on this account; decide them first (proposal #{proposal.pk}). No run was started.") in page
    assert response.redirect_chain[-1][0] == f"/accounts/{account.pk}/"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == before


def test_rebalance_now_starts_a_run_otherwise(book, as_user, firm_a):
    account = book["mine"][0]
    response = as_user("pm").post(f"/accounts/{account.pk}/rebalance/", follow=True)
    with tenant_context(firm_a):
        run = RebalanceRun.objects.order_by("-pk").first()
    assert f"Run {run.pk} started for account {account.custodian_number}." in response.content.decode()
