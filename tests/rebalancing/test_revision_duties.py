"""Segregation of duties around an edit: compliance approves or rejects what others propose and never
edits it (one account's proposal or a household's), and whoever chose a proposal's trades (an edit, a
one-off instruction) does not give its compliance approval."""

import pytest
from django_tenants.utils import schema_context, tenant_context

from rebalancing.access import decision_capacity, proposals_decidable_by
from rebalancing.models import HouseholdProposal, Proposal, ProposalApproval, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.household_revisions import (
    AccountEdit,
    household_proposal_resolve,
    household_proposal_revisable_by,
)
from rebalancing.services.people import advisor_assign, household_advisors_set
from rebalancing.services.proposals import approvals_missing, proposal_approve
from rebalancing.services.revisions import InstructionAdded, proposal_resolve, proposal_revisable_by
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied
from tenants.roles import FirmRole
from tenants.services import user_ensure

from .book import AS_OF, make_book
from .household_book import make_unit_household
from .test_household_unit import _run
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
C = ProposalApproval.Capacity


@pytest.fixture
def people(firm_a, firm_user):
    with schema_context(firm_a.schema_name):
        # One person may hold both roles (a small firm's principal): advisor and compliance.
        both = user_ensure(username="both@duty.example", email="both@duty.example",
                           roles=[FirmRole.ADVISOR, FirmRole.COMPLIANCE], password="x-Duty-2026-pass")
    return {
        "admin": firm_user(firm_a, "admin@duty.example", FirmRole.FIRM_ADMIN),
        "pm": firm_user(firm_a, "pm@duty.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "advisor@duty.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "compliance@duty.example", FirmRole.COMPLIANCE),
        "both": both,
    }


def _run_firm() -> Proposal:
    run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.get(run=run)


@pytest.fixture
def pending(firm_a, people):
    """A run's proposal waiting for its advisor and for compliance (every proposal needs both)."""
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        advisor_assign(household=account.household, advisor=people["advisor"], by=people["admin"])
        policy(auto_approve=False, compliance_min_turnover=0)
        proposal = _run_firm()
        assert proposal.status == S.PENDING and proposal.requires_compliance
        return proposal


def _written() -> tuple[int, int, int]:
    return Proposal.objects.count(), RebalanceRun.objects.count(), AuditEvent.objects.count()


def test_compliance_may_not_edit_a_proposal_it_may_approve(firm_a, pending, people):
    with tenant_context(firm_a):
        # Given a proposal compliance may decide on (its second approval)
        assert not proposal_revisable_by(people["compliance"], pending)
        written = _written()

        # When compliance edits it, then it is refused by name and nothing is written
        with pytest.raises(PermissionDenied, match="Compliance approves or rejects this proposal") as refused:
            proposal_resolve(proposal=pending, instructions=[InstructionAdded("sell", "VTI", buy="ITOT")],
                             by=people["compliance"])
        assert refused.value.detail["capacity"] == C.COMPLIANCE
        assert _written() == written
        pending.refresh_from_db()
        assert pending.status == S.PENDING

        # ...while it still decides on it, and the advisor still edits it
        assert proposal_revisable_by(people["advisor"], pending)
        proposal_approve(proposal=pending, user=people["compliance"])
        assert approvals_missing(pending) == [C.ADVISOR]


def test_who_edited_a_proposal_does_not_give_its_compliance_approval(firm_a, pending, people):
    with tenant_context(firm_a):
        # Given a principal who is advisor and compliance, and a second advisor of the household
        household_advisors_set(household=pending.account.household, advisors=[people["advisor"], people["both"]],
                               by=people["admin"])
        new = proposal_resolve(proposal=pending, drop_symbols=["VNQ"], by=people["both"])
        assert new.requires_compliance and new.revised_by == people["both"]
        proposal_approve(proposal=new, user=people["advisor"])  # the advisor's approval is in

        # The one who edited it is not offered the decision (no Approve button, not in their queue)...
        assert decision_capacity(people["both"], new) is None
        assert not proposals_decidable_by(people["both"]).filter(pk=new.pk).exists()
        assert proposals_decidable_by(people["compliance"]).filter(pk=new.pk).exists()

        # ...and when they approve even so, only compliance's capacity is left: refused by name
        with pytest.raises(PermissionDenied, match="its compliance approval must come from someone else"):
            proposal_approve(proposal=new, user=people["both"])
        new.refresh_from_db()
        assert new.status == S.PENDING and approvals_missing(new) == [C.COMPLIANCE]

        # Then compliance (another person) gives it
        assert proposal_approve(proposal=new, user=people["compliance"]).status == S.APPROVED


def test_who_gave_an_instruction_does_not_give_its_compliance_approval(firm_a, people):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        policy(auto_approve=False, compliance_min_turnover=0)
        with schema_context(firm_a.schema_name):
            principal = user_ensure(username="pmc@duty.example", email="pmc@duty.example",
                                    roles=[FirmRole.PORTFOLIO_MANAGER, FirmRole.COMPLIANCE], password="x-Duty-2026-pass")
        new = account_instruct(account=account, instructions=[InstructionAdded("sell", "BND", buy="AGG")],
                               by=principal, as_of=AS_OF)
        assert new.status == S.PENDING and new.requires_compliance
        proposal_approve(proposal=new, user=people["pm"])  # the household has no advisor: a portfolio manager's
        with pytest.raises(PermissionDenied, match="must come from someone else"):
            proposal_approve(proposal=new, user=principal)


@pytest.fixture
def household(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=0,
               compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=people["advisor"])
        run = _run(RunScope(household_id=made["household"].pk))
        yield {**made, "together": HouseholdProposal.objects.get(run=run)}


def test_compliance_may_not_edit_a_household_proposal(firm_a, household, people):
    together = household["together"]
    assert all(p.requires_compliance for p in together.proposals.all())
    assert not household_proposal_revisable_by(people["compliance"], together)
    assert household_proposal_revisable_by(people["advisor"], together)
    written = _written()
    dropped = together.proposals.get(account=household["ira"]).result["trades"][0]["symbol"]

    with pytest.raises(PermissionDenied, match="Compliance approves or rejects LEE-"):
        household_proposal_resolve(household_proposal=together, by=people["compliance"],
                                   edits={household["ira"].pk: AccountEdit(drop_symbols=[dropped])})
    assert _written() == written
    assert set(together.proposals.values_list("status", flat=True)) == {S.PENDING}
