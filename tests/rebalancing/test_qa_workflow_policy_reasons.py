"""Compliance is told which security is restricted: the policy's reason names the securities of the
firm's restricted list a proposal trades (in force on its run's day), and only those: a client's own
restriction on the account (do not sell, hold) is not the firm's list and is not named."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal, RestrictedSecurity, Security
from rebalancing.services.proposals import bulk_approvable, policy_decide
from tests.rebalancing.book import AS_OF, make_book
from tests.rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db


def restricted_proposal(account, *, restrictions: dict, listed: dict | None = None) -> Proposal:
    """A pending proposal selling VTI and buying BND, the account's ``restrictions`` in its
    parameters and the firm's list ``listed`` (symbol -> restriction) in force on its run's day."""
    for symbol, restriction in (listed or {}).items():
        RestrictedSecurity.objects.create(security=Security.objects.get(symbol=symbol), restriction=restriction,
                                          reason="Deal team on the issuer", starts_on=AS_OF)
    proposal = make_proposal(account, status=Proposal.Status.PENDING, restricted_traded=True, requires_compliance=True)
    proposal.parameters = {"restrictions": restrictions}
    proposal.result = {"trades": [
        {"symbol": "VTI", "side": "sell", "quantity": 10, "reasons": ["drift", "restriction"]},
        {"symbol": "BND", "side": "buy", "quantity": 20, "reasons": ["drift", "restriction"]}]}
    proposal.save()
    return proposal


def test_the_reason_names_the_security_of_the_firms_list_traded(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        proposal = restricted_proposal(account, restrictions={"do_not_buy": ["VTI"], "hold": ["BND"]},
                                       listed={"VTI": "do_not_buy"})
        policy = ApprovalPolicy.current()

        decision = policy_decide(policy, proposal, discretionary=True)
        ok, why = bulk_approvable(policy, Proposal.objects.get(pk=proposal.pk))

    assert decision.requires_compliance
    assert "a restricted security is traded: VTI (do not buy)" in decision.reasons
    assert not ok and why.endswith("a restricted security is traded: VTI (do not buy)")


def test_a_client_restriction_is_not_named_as_the_firms(firm_a):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        proposal = restricted_proposal(account, restrictions={"do_not_sell": ["VTI"], "hold": ["BND"]})

        decision = policy_decide(ApprovalPolicy.current(), proposal, discretionary=True)

    assert not any("make room" in r or "VTI" in r or "BND" in r for r in decision.reasons), decision.reasons


def test_a_runs_bulk_submission_records_why_each_proposal_waits_for_compliance(firm_a):
    # A run's proposals were submitted with an empty audit comment, so compliance could not read why one
    # was sent to it once the policy's thresholds had changed; a single submission recorded them.
    from rebalancing.services.proposals import proposals_submit_new
    from tenants.audit.models import AuditEvent
    from tests.rebalancing.workflow import policy

    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        policy(auto_approve=False, compliance_min_estimated_tax=1000, compliance_min_turnover=0.5)
        drafts = [make_proposal(a, estimated_tax=tax) for a, tax in zip(accounts, ("5000", "2500", "10"), strict=True)]
        Proposal.objects.filter(pk__in=[d.pk for d in drafts]).update(run=drafts[0].run)
        proposals_submit_new(run_id=drafts[0].run_id, account_ids=[a.pk for a in accounts])
        comments = dict(AuditEvent.objects.filter(action="proposal.submit", object_id__in=[str(d.pk) for d in drafts])
                        .values_list("object_id", "comment"))

    assert comments == {str(drafts[0].pk): "estimated tax $5,000.00 ≥ $1,000.00",
                        str(drafts[1].pk): "estimated tax $2,500.00 ≥ $1,000.00", str(drafts[2].pk): ""}
