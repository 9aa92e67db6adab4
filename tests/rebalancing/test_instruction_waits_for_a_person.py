"""Separation of duties: a proposal whose trades a person chose (a one-off instruction, "sell X buy
Y", "bring back to the model") never takes the firm's auto-approval, however far within its limits:
as an edit (``services.revisions``), a person chose it, so a person approves it - the household's
advisor, not the portfolio manager who chose it, and never the policy."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal, ProposalApproval
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.revisions import InstructionAdded
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError, PermissionDenied
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .test_household_unit import _run, lees  # noqa: F401
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
C = ProposalApproval.Capacity

# Every proposal a run makes here is within the limits: the policy alone would approve it.
GENEROUS = {"auto_approve": True, "auto_max_estimated_tax": 10**9, "auto_max_turnover": 1, "auto_max_trades": 1000,
            "compliance_min_estimated_tax": 10**9, "compliance_min_turnover": 10, "max_price_age_days": 3650}


@pytest.mark.parametrize("instruction", [InstructionAdded("sell", "VTI"), InstructionAdded("bring_to_model")],
                         ids=["sell", "back_to_model"])
def test_an_instruction_within_the_auto_approval_limits_waits_for_the_households_advisor(
        firm_a, firm_user, instruction):
    pm = firm_user(firm_a, "pm-sod@ins.example", FirmRole.PORTFOLIO_MANAGER)
    advisor = firm_user(firm_a, "adv-sod@ins.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        # Given a policy that approves alone whatever these accounts trade, and an advised household
        policy(**GENEROUS)
        account = make_book(1)["accounts"][0]
        advisor_assign(household=account.household, advisor=advisor, by=None)

        # When a portfolio manager chooses the account's trades with an instruction
        chosen = account_instruct(account=account, instructions=[instruction], by=pm, as_of=AS_OF)

        # Then it waits for a person: no policy approval, the submission audited saying why
        assert chosen.status == S.PENDING and chosen.chosen_by == [pm.pk]
        assert not chosen.approvals.exists()
        submitted = AuditEvent.objects.get(action="proposal.submit", object_id=str(chosen.pk))
        assert "a person chose its trades" in submitted.comment
        # ...the one who chose it neither approves (the household has its advisor) nor releases it
        with pytest.raises(PermissionDenied):
            proposal_approve(proposal=chosen, user=pm)
        with pytest.raises(DomainError):
            proposal_release(proposal=chosen, user=pm, today=AS_OF)
        chosen.refresh_from_db()
        assert chosen.status == S.PENDING and not chosen.approvals.exists()
        # ...and the household's advisor's approval settles it
        assert proposal_approve(proposal=chosen, user=advisor).status == S.APPROVED
        assert list(chosen.approvals.values_list("capacity", "user_id")) == [(C.ADVISOR, advisor.pk)]


def test_a_runs_proposal_under_the_same_policy_is_still_approved_by_it(firm_a):
    with tenant_context(firm_a):
        # Given the same policy: a run's proposal (nobody chose its trades) is approved alone, as before
        policy(**GENEROUS)
        make_book(1)
        run = _run(RunScope(firm=True))
        proposal = Proposal.objects.get(run=run)
        assert proposal.status == S.APPROVED
        assert list(proposal.approvals.values_list("capacity", flat=True)) == [C.POLICY]


def test_an_instruction_in_a_household_managed_as_one_waits_for_its_advisor_on_every_leg(
        firm_a, firm_user, lees):  # noqa: F811
    pm = firm_user(firm_a, "pm-unit@ins.example", FirmRole.PORTFOLIO_MANAGER)
    # Given the Lees (advised, managed as one) under a policy that would approve their proposals alone
    policy(**GENEROUS)

    # When a portfolio manager instructs a sale in the joint account, solved with the household
    mine = account_instruct(account=lees["joint"], instructions=[InstructionAdded("sell", "VTI")], by=pm, as_of=AS_OF)

    # Then every leg of the household proposal waits for the advisor, none approved by the policy
    legs = Proposal.objects.filter(household_proposal=HouseholdProposal.objects.get(pk=mine.household_proposal_id))
    assert legs.count() == 3
    assert set(legs.values_list("status", flat=True)) == {S.PENDING}
    assert not ProposalApproval.objects.filter(proposal__in=legs).exists()
