"""The approval workflow: the policy, who may decide, the state machine, and the audit rows."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ProposalApproval
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import (
    IllegalTransition,
    proposal_approve,
    proposal_reject,
    proposal_release,
    proposal_submit,
    proposals_expire_stale,
    proposals_supersede,
)
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def people(firm_a, firm_user):
    return {
        "admin": firm_user(firm_a, "admin@wf.example", FirmRole.FIRM_ADMIN),
        "advisor": firm_user(firm_a, "advisor@wf.example", FirmRole.ADVISOR),
        "colleague": firm_user(firm_a, "colleague@wf.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "compliance@wf.example", FirmRole.COMPLIANCE),
        "pm": firm_user(firm_a, "pm@wf.example", FirmRole.PORTFOLIO_MANAGER),
    }


@pytest.fixture
def account(firm_a, people):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        advisor_assign(household=account.household, advisor=people["advisor"], by=people["admin"])
        account.refresh_from_db()
        return account


def test_small_discretionary_proposal_is_auto_approved(firm_a, account):
    with tenant_context(firm_a):
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="50", trade_count=2))
        assert proposal.status == S.APPROVED
        assert proposal.approvals.get().capacity == ProposalApproval.Capacity.POLICY
        assert AuditEvent.objects.filter(action="proposal.auto_approve", object_id=str(proposal.pk)).exists()


def test_above_the_limits_the_advisor_approves(firm_a, account, people):
    with tenant_context(firm_a):
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="5000"))
        assert proposal.status == S.PENDING and not proposal.requires_compliance

        approved = proposal_approve(proposal=proposal, user=people["advisor"], comment="fine")

        assert approved.status == S.APPROVED
        event = AuditEvent.objects.get(action="proposal.approve.advisor", object_id=str(proposal.pk))
        assert (event.actor, event.before, event.after, event.comment) == (
            "advisor@wf.example", {"status": "pending_approval"}, {"status": "approved"}, "fine")


def test_above_the_compliance_threshold_a_second_person_approves(firm_a, account, people):
    with tenant_context(firm_a):
        policy(compliance_min_estimated_tax=10_000)
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="20000"))
        assert proposal.requires_compliance

        after_advisor = proposal_approve(proposal=proposal, user=people["advisor"])
        assert after_advisor.status == S.PENDING  # still waiting for compliance
        after_compliance = proposal_approve(proposal=proposal, user=people["compliance"])
        assert after_compliance.status == S.APPROVED
        assert set(proposal.approvals.values_list("capacity", flat=True)) == {"advisor", "compliance"}


def test_restricted_securities_need_compliance(firm_a, account):
    with tenant_context(firm_a):
        proposal = proposal_submit(proposal=make_proposal(account, restricted_traded=True))
        assert proposal.status == S.PENDING and proposal.requires_compliance


def test_nobody_decides_twice_even_holding_two_roles(firm_a, account, people, firm_user):
    with tenant_context(firm_a):
        policy(compliance_min_estimated_tax=10_000)
        both = firm_user(firm_a, "both@wf.example", FirmRole.ADVISOR)
        both.groups.add(*people["compliance"].groups.all())
        advisor_assign(household=account.household, advisor=both, by=people["admin"])
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="20000"))

        proposal_approve(proposal=proposal, user=both)
        with pytest.raises(Conflict, match="already decided"):
            proposal_approve(proposal=proposal, user=both)
        assert Proposal.objects.get(pk=proposal.pk).status == S.PENDING


# Each refusal names whose decision it is (rebalancing.access.decision_refusal).
REFUSED_WHY = {
    "colleague": "You may not approve or reject this proposal: its household's advisor (advisor@wf.example) approves it.",
    "compliance": "You may not approve or reject this proposal: the firm's policy asks no compliance approval of it.",
    "admin": "Your role does not allow this (approve): the household's advisor approves proposals, and compliance "
             "where the firm's policy asks for it.",
    "pm": "You may not approve or reject this proposal: its household's advisor (advisor@wf.example) approves it.",
}


@pytest.mark.parametrize("who", ["colleague", "compliance", "admin", "pm"])
def test_only_the_households_advisor_gives_the_advisor_approval(firm_a, account, people, who):
    with tenant_context(firm_a):
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="5000"))
        with pytest.raises(PermissionDenied) as refused:
            proposal_approve(proposal=proposal, user=people[who])
        assert refused.value.message == REFUSED_WHY[who]
        assert not proposal.approvals.exists()


def test_a_refusal_names_the_approval_already_given(firm_a, account, people, firm_user):
    with tenant_context(firm_a):
        policy(compliance_min_estimated_tax=10_000)
        second_compliance = firm_user(firm_a, "compliance2@wf.example", FirmRole.COMPLIANCE)
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="20000"))
        proposal_approve(proposal=proposal, user=people["compliance"])
        with pytest.raises(PermissionDenied) as refused:
            proposal_approve(proposal=proposal, user=second_compliance)
        assert refused.value.message == ("You may not approve or reject this proposal: compliance has approved "
                                         "it already.")

        proposal_approve(proposal=proposal, user=people["advisor"])
        assert Proposal.objects.get(pk=proposal.pk).status == S.APPROVED
        other = proposal_submit(proposal=make_proposal(account, estimated_tax="20000"))
        proposal_approve(proposal=other, user=people["advisor"])
        advisor_assign(household=account.household, advisor=None, by=people["admin"])
        with pytest.raises(PermissionDenied) as refused:
            proposal_approve(proposal=other, user=people["pm"])
        assert refused.value.message == ("You may not approve or reject this proposal: its advisor's approval is "
                                         "given already.")
        assert list(other.approvals.values_list("capacity", flat=True)) == ["advisor"]


def test_a_portfolio_manager_approves_for_a_household_without_advisor(firm_a, account, people):
    with tenant_context(firm_a):
        advisor_assign(household=account.household, advisor=None, by=people["admin"])
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="5000"))
        assert proposal_approve(proposal=proposal, user=people["pm"]).status == S.APPROVED


def test_rejection_needs_a_reason_and_ends_the_proposal(firm_a, account, people):
    with tenant_context(firm_a):
        proposal = proposal_submit(proposal=make_proposal(account, estimated_tax="5000"))
        with pytest.raises(ValidationFailed, match="why"):
            proposal_reject(proposal=proposal, user=people["advisor"], comment=" ")
        rejected = proposal_reject(proposal=proposal, user=people["advisor"], comment="client is travelling")
        assert rejected.status == S.REJECTED
        with pytest.raises(IllegalTransition):
            proposal_release(proposal=rejected, user=people["pm"])


@pytest.mark.parametrize(
    ("status", "action"),
    [(S.DRAFT, "approve"), (S.APPROVED, "approve"), (S.RELEASED, "reject"), (S.EXPIRED, "release"),
     (S.PENDING, "release"), (S.SUPERSEDED, "approve")],
)
def test_illegal_moves_are_refused(firm_a, account, people, status, action):
    with tenant_context(firm_a):
        proposal = make_proposal(account, status=status)
        with pytest.raises(IllegalTransition):
            if action == "approve":
                proposal_approve(proposal=proposal, user=people["advisor"])
            elif action == "reject":
                proposal_reject(proposal=proposal, user=people["advisor"], comment="no")
            else:
                proposal_release(proposal=proposal, user=people["pm"], today=AS_OF)
        assert Proposal.objects.get(pk=proposal.pk).status == status


def test_only_a_portfolio_manager_releases_and_stale_prices_expire(firm_a, account, people):
    with tenant_context(firm_a):
        fresh = make_proposal(account, estimated_tax="0")
        fresh.result = {"trades": [{"symbol": "VTI", "side": "buy", "quantity": 3, "price": 100, "value": 300,
                                    "reasons": ["drift"], "lots": []}]}
        fresh.save(update_fields=["result"])
        fresh = proposal_submit(proposal=fresh)
        with pytest.raises(PermissionDenied):
            proposal_release(proposal=fresh, user=people["advisor"], today=AS_OF)
        released = proposal_release(proposal=fresh, user=people["pm"], today=AS_OF)
        assert released.status == S.RELEASED and released.orders.count() == 1  # it waits for its order's fills

        stale = proposal_submit(proposal=make_proposal(account, estimated_tax="0"))
        with pytest.raises(Conflict, match="has expired"):
            proposal_release(proposal=stale, user=people["pm"], today=AS_OF + timedelta(days=10))
        assert Proposal.objects.get(pk=stale.pk).status == S.EXPIRED


def test_nightly_expiry_and_superseding_close_open_proposals_with_audit_rows(firm_a, account):
    with tenant_context(firm_a):
        old = proposal_submit(proposal=make_proposal(account, estimated_tax="5000", as_of=AS_OF - timedelta(days=9)))
        newer = proposal_submit(proposal=make_proposal(account, estimated_tax="5000"))
        assert proposals_expire_stale(today=AS_OF) == 1
        assert Proposal.objects.get(pk=old.pk).status == S.EXPIRED

        latest = make_proposal(account)
        assert proposals_supersede(account_ids=[account.pk], by_run_id=latest.run_id) == 1
        assert Proposal.objects.get(pk=newer.pk).status == S.SUPERSEDED
        assert AuditEvent.objects.filter(action="proposal.supersede", object_id=str(newer.pk)).exists()


def test_the_nightly_expiry_task_runs_in_the_firm(firm_a, account):
    from django.utils import timezone

    from rebalancing.tasks import proposals_expire

    with tenant_context(firm_a):
        old = proposal_submit(proposal=make_proposal(account, estimated_tax="5000",
                                                     as_of=timezone.localdate() - timedelta(days=30)))
        assert proposals_expire() == 1
        assert Proposal.objects.get(pk=old.pk).status == S.EXPIRED
    with pytest.raises(ValueError, match="inside a firm"):
        proposals_expire()
