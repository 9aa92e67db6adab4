"""A run's proposals counted alike on the firm's run page and the provider's: "Approved
automatically" is the policy's approvals (the provider's page counted every proposal approved now,
by people in bulk too), and the buckets add up to the proposals made."""

import re
from datetime import date

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from frontend.selectors import run_proposal_counts
from rebalancing.models import Proposal, ProposalApproval, RebalanceRun, RunOutcome
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_book

pytestmark = pytest.mark.django_db

S = Proposal.Status


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@qa-counts.test", email="op@qa-counts.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def one_run_of_each_kind() -> RebalanceRun:
    """A finished run of six proposals: one approved by the policy, two by their advisor in bulk,
    one still pending, one rejected, one superseded."""
    accounts = make_book(6)["accounts"]
    run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date.today(), total=6, done=6,
                                      status=RebalanceRun.Status.COMPLETED)
    statuses = [S.APPROVED, S.APPROVED, S.RELEASED, S.PENDING, S.REJECTED, S.SUPERSEDED]
    for n, (account, status) in enumerate(zip(accounts, statuses, strict=True)):
        p = Proposal.objects.create(run=run, account=account, status=status, parameters={},
                                    inputs_fingerprint="f" * 64, result={"trades": []})
        RunOutcome.objects.create(run=run, account=account, outcome=RunOutcome.Outcome.PROPOSED)
        if n == 0:
            ProposalApproval.objects.create(proposal=p, capacity=ProposalApproval.Capacity.POLICY,
                                            decision=ProposalApproval.Decision.APPROVE)
    return run


def test_the_buckets_add_up_and_only_the_policys_approvals_are_automatic(firm_a):
    with tenant_context(firm_a):
        run = one_run_of_each_kind()
        counts = run_proposal_counts(Proposal.objects.filter(run=run))

    assert counts == {"made": 6, "auto_approved": 1, "pending": 1, "approved_by_people": 2, "rejected": 1,
                      "superseded": 1, "expired": 0, "draft": 0}
    assert sum(v for k, v in counts.items() if k != "made") == counts["made"]


def test_the_providers_run_page_counts_the_policys_approvals_not_every_approved_proposal(firm_a, operator):
    with tenant_context(firm_a):
        run = one_run_of_each_kind()

    page = re.sub(r"\s+", " ", operator.get(f"/runs/{firm_a.slug}/{run.pk}/").content.decode())

    assert re.search(r"<dt>Approved automatically</dt><dd[^>]*>1</dd>", page)  # it said 2: those approved now
