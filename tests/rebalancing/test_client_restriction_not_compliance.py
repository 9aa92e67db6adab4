"""An account's own restriction (a client's "do not sell my BND", an advisor's "do not trade
it" instruction on a proposal) sends the proposal to compliance as "restricted securities traded":
`_trades_restricted` counts every restriction of the account's parameters and every trade the engine
labels "restriction", not the firm's restricted list. The approval policy's rule and the docs
(frontend.md, /restricted/: "a proposal trading a listed security counts as restricted securities
traded for the approval policy") are about the firm's list; the firm's list is empty here."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal, RestrictedSecurity
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def test_a_client_hold_on_an_account_does_not_need_compliance(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]  # overweight VTI: the run sells VTI, buys BND/VNQ
        account.overrides = {"restrictions": {"hold": ["BND"]}}
        account.save(update_fields=["overrides"])
        ApprovalPolicy.objects.update_or_create(pk=1, defaults={"compliance_min_turnover": 0.99,
                                                                "compliance_on_restricted": True})
        assert not RestrictedSecurity.objects.exists()
        run = run_start(scope=RunScope(account_ids=(account.pk,), replace_approved=True), as_of=AS_OF, label="t")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        proposal = Proposal.objects.filter(run=run).first()
        assert proposal is not None and proposal.result["trades"]
        assert not proposal.restricted_traded, [(t["symbol"], t["reasons"]) for t in proposal.result["trades"]]
