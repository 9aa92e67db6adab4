"""Compliance is told which security is restricted: the policy's reason names the restricted
securities a proposal trades, and says so when a trade only carries the engine's "restriction"
label (a sleeve rescaled to make room for a restricted holding) without being restricted itself."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal
from rebalancing.services.proposals import bulk_approvable, policy_decide
from tests.rebalancing.book import make_book
from tests.rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db


def restricted_proposal(account, *, restrictions: dict) -> Proposal:
    proposal = make_proposal(account, status=Proposal.Status.PENDING, restricted_traded=True, requires_compliance=True)
    proposal.parameters = {"restrictions": restrictions}
    proposal.result = {"trades": [
        {"symbol": "VTI", "side": "sell", "reasons": ["drift", "restriction"]},
        {"symbol": "BND", "side": "buy", "reasons": ["drift", "restriction"]}]}
    proposal.save()
    return proposal


def test_the_reason_names_the_restricted_security_traded(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        proposal = restricted_proposal(account, restrictions={"do_not_sell": ["VTI"], "hold": ["VTI"]})
        policy = ApprovalPolicy.current()

        decision = policy_decide(policy, proposal, discretionary=True)
        ok, why = bulk_approvable(policy, Proposal.objects.get(pk=proposal.pk))

    assert decision.requires_compliance
    assert "a restricted security is traded: VTI (do not sell, hold)" in decision.reasons
    assert not ok and why.endswith("a restricted security is traded: VTI (do not sell, hold)")


def test_trades_labelled_restriction_but_not_restricted_are_named_as_such(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        proposal = restricted_proposal(account, restrictions={"do_not_buy": ["IBM"]})

        decision = policy_decide(ApprovalPolicy.current(), proposal, discretionary=True)

    assert decision.reasons[-1] == ("no restricted security is traded, but VTI, BND are traded to make room for a "
                                    "restricted holding")
