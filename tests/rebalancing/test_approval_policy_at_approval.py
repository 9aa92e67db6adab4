"""A single approval reads the firm's approval policy as it stands when it is given, as bulk approval
does (``bulk_approvable``) and a restated tax does (``tax_estimates._approvals_lapse``): a compliance
threshold lowered below a pending proposal's figures makes it wait for compliance too. A threshold
raised since does not take back a review asked for at submission (bulk approval refuses it too)."""

import random
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal, ProposalApproval
from rebalancing.services.people import advisor_assign
from rebalancing.services.policy import approval_policy_set
from rebalancing.services.proposals import bulk_approvable, policy_decide, proposal_approve
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .book import make_book
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
C = ProposalApproval.Capacity


@pytest.fixture
def people(firm_a, firm_user):
    return {"admin": firm_user(firm_a, "admin-pol@firm-a.example", FirmRole.FIRM_ADMIN),
            "advisor": firm_user(firm_a, "adv-pol@firm-a.example", FirmRole.ADVISOR),
            "compliance": firm_user(firm_a, "comp-pol@firm-a.example", FirmRole.COMPLIANCE)}


@pytest.fixture
def account(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, auto_max_estimated_tax=0, compliance_min_estimated_tax=100000,
               compliance_min_turnover=1, max_price_age_days=3650)
        account = make_book(1)["accounts"][0]
        advisor_assign(household=account.household, advisor=people["advisor"], by=None)
        yield account


def _submitted(account, *, estimated_tax: str, turnover: float = 0.02) -> Proposal:
    """A proposal pending approval, flagged for compliance as its submission under the policy then would."""
    proposal = make_proposal(account, status=S.PENDING, estimated_tax=estimated_tax, turnover=turnover)
    proposal.requires_compliance = policy_decide(ApprovalPolicy.current(), proposal, discretionary=True).requires_compliance
    proposal.save(update_fields=["requires_compliance"])
    return proposal


def test_a_threshold_lowered_below_a_pending_proposals_tax_makes_it_wait_for_compliance(firm_a, people, account):
    with tenant_context(firm_a):
        # Given a proposal submitted below the compliance threshold (tax 25,000 < 100,000)
        proposal = _submitted(account, estimated_tax="25000")
        assert not proposal.requires_compliance

        # When the firm lowers the threshold to 1,000 and the advisor approves
        approval_policy_set(by=people["admin"], compliance_min_estimated_tax=1000)
        bulk_ok, _ = bulk_approvable(ApprovalPolicy.current(), proposal)
        after = proposal_approve(proposal=proposal, user=people["advisor"], comment="fine")

        # Then it waits for compliance (as bulk approval says), its flag set by the policy's change (whose
        # audit row names it) so compliance may decide, the approval's audit row saying what it waits for
        assert not bulk_ok
        assert after.status == S.PENDING
        assert Proposal.objects.get(pk=proposal.pk).requires_compliance
        assert AuditEvent.objects.filter(action="policy.change").latest("pk").after[
            "proposals_now_asking_compliance"] == [proposal.pk]
        event = AuditEvent.objects.get(action="proposal.approve.advisor", object_id=str(proposal.pk))
        assert event.after["waiting_for"] == [C.COMPLIANCE]
        # ...and compliance's approval settles it
        assert proposal_approve(proposal=after, user=people["compliance"]).status == S.APPROVED


def test_a_threshold_raised_since_keeps_the_review_asked_at_submission(firm_a, people, account):
    with tenant_context(firm_a):
        # Given a proposal that needed compliance when submitted (tax 150,000 >= 100,000)
        proposal = _submitted(account, estimated_tax="150000")
        assert proposal.requires_compliance

        # When the firm raises the threshold above it and the advisor approves
        approval_policy_set(by=people["admin"], compliance_min_estimated_tax=10**7)
        bulk_ok, _ = bulk_approvable(ApprovalPolicy.current(), proposal)
        after = proposal_approve(proposal=proposal, user=people["advisor"])

        # Then it still waits for compliance, as bulk approval refuses it
        assert not bulk_ok
        assert after.status == S.PENDING


def test_single_and_bulk_approval_agree_on_random_policies_and_figures(firm_a, people, account):
    """Property: for a proposal submitted under one policy and approved by its advisor under another,
    bulk approval lets it through exactly when the advisor's single approval settles it, and both
    agree with the rule written plainly: compliance is needed when either policy's threshold (tax or
    turnover) is reached."""
    rng = random.Random(20261207)
    seen = set()
    with tenant_context(firm_a):
        for case in range(40):
            tax = Decimal(rng.choice([0, 999, 1000, 1001, rng.randint(0, 200000)]))
            turnover = rng.choice([0.0, 0.05, 0.1, rng.random()])
            submitted_under = (Decimal(rng.choice([500, 1000, rng.randint(0, 200000)])), rng.choice([0.05, 0.2, 1]))
            approved_under = (Decimal(rng.choice([500, 1000, rng.randint(0, 200000)])), rng.choice([0.05, 0.2, 1]))
            expected_compliance = any(tax >= tax_min or turnover >= turnover_min
                                      for tax_min, turnover_min in (submitted_under, approved_under))
            with transaction.atomic():
                policy(compliance_min_estimated_tax=submitted_under[0], compliance_min_turnover=submitted_under[1])
                proposal = _submitted(account, estimated_tax=str(tax), turnover=turnover)
                policy(compliance_min_estimated_tax=approved_under[0], compliance_min_turnover=approved_under[1])

                bulk_ok, why = bulk_approvable(ApprovalPolicy.current(), proposal)
                after = proposal_approve(proposal=proposal, user=people["advisor"])

                context = (case, tax, turnover, submitted_under, approved_under, after.status, why)
                assert bulk_ok == (after.status == S.APPROVED), context
                assert bulk_ok == (not expected_compliance), context
                seen.add(bulk_ok)
                transaction.set_rollback(True)
    assert seen == {True, False}  # both outcomes drawn


def test_a_tightened_policy_flags_pending_proposals_at_once_so_compliance_may_decide_first(firm_a, people, account):
    from rebalancing.access import decision_capacity

    with tenant_context(firm_a):
        # Given two pending proposals submitted below the compliance threshold (100,000)
        above, below = _submitted(account, estimated_tax="25000"), _submitted(account, estimated_tax="500")
        assert decision_capacity(people["compliance"], above) is None  # not compliance's to decide yet

        # When the firm lowers the threshold to 1,000
        approval_policy_set(by=people["admin"], compliance_min_estimated_tax=1000)

        # Then the one now past it asks compliance at once (before its advisor decides), the other not,
        # and the policy's audit row names which proposals it flagged
        above.refresh_from_db()
        below.refresh_from_db()
        assert above.requires_compliance and not below.requires_compliance
        assert decision_capacity(people["compliance"], above) == C.COMPLIANCE
        event = AuditEvent.objects.filter(action="policy.change").latest("pk")
        assert event.after["proposals_now_asking_compliance"] == [above.pk]
        assert proposal_approve(proposal=above, user=people["compliance"]).status == S.PENDING  # the advisor's next
