"""Separation of duties where a household has no advisor: a portfolio manager approves its proposals,
but not one whose trades they chose (an instruction, an edit) - else one person chose, approved and
released the trades. Another portfolio manager approves it; the chooser may still reject it. The
household's own advisor approving what they chose stays allowed (docs/security.md).

And nobody gives themselves a role that approves or releases trades: a firm admin who made themselves
a portfolio manager could trade alone the same way; another admin gives it."""

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ProposalApproval
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.people import FIRM_PEOPLE, advisor_assign
from rebalancing.services.proposals import (
    proposal_approve,
    proposal_reject,
    proposal_release,
    proposals_approve_bulk,
)
from rebalancing.services.revisions import InstructionAdded, proposal_resolve
from tenants import people
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .test_household_unit import _run
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status

# Nothing here needs compliance and the policy would approve a run's proposal alone.
GENEROUS = {"auto_approve": True, "auto_max_estimated_tax": 10**9, "auto_max_turnover": 1, "auto_max_trades": 1000,
            "compliance_min_estimated_tax": 10**9, "compliance_min_turnover": 10, "max_price_age_days": 3650}


def _chosen(pm, advisor=None):
    account = make_book(1)["accounts"][0]
    if advisor is not None:
        advisor_assign(household=account.household, advisor=advisor, by=None)
    return account_instruct(account=account, instructions=[InstructionAdded("sell", "VTI")], by=pm, as_of=AS_OF)


def test_a_portfolio_manager_does_not_approve_what_they_chose_in_a_household_without_an_advisor(
        firm_a, firm_user, client_for):
    pm = firm_user(firm_a, "pm-own@sod.example", FirmRole.PORTFOLIO_MANAGER)
    other = firm_user(firm_a, "pm-other@sod.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        # Given a household with no advisor and a sale its portfolio manager instructed
        policy(**GENEROUS)
        chosen = _chosen(pm)
        assert chosen.status == S.PENDING and chosen.chosen_by == [pm.pk]

        # When they approve it (alone, or in bulk) - then refused, saying who approves, nothing written
        with pytest.raises(PermissionDenied) as refused:
            proposal_approve(proposal=chosen, user=pm)
        assert "another portfolio manager approves it" in refused.value.message
        [outcome] = proposals_approve_bulk(proposal_ids=[chosen.pk], user=pm, comment="")
        assert not outcome.ok and "another portfolio manager approves it" in outcome.message
        chosen.refresh_from_db()
        assert chosen.status == S.PENDING and not chosen.approvals.exists()
        with pytest.raises(DomainError):  # (not approved: nothing to release)
            proposal_release(proposal=chosen, user=pm, today=AS_OF)

    # ...and their page offers no Approve, says why, and still lets them reject
    page = client_for(firm_a, pm).get(f"/proposals/{chosen.pk}/").content.decode()
    assert 'data-testid="approve-refused"' in page and 'value="approve"' not in page and 'value="reject"' in page
    page = client_for(firm_a, other).get(f"/proposals/{chosen.pk}/").content.decode()
    assert 'data-testid="approve-refused"' not in page and 'value="approve"' in page

    with tenant_context(firm_a):
        # ...another portfolio manager approves it, and the one who chose it may release it then
        assert proposal_approve(proposal=chosen, user=other).status == S.APPROVED
        assert list(chosen.approvals.values_list("user_id", flat=True)) == [other.pk]
        assert proposal_release(proposal=chosen, user=pm, today=AS_OF).status == S.RELEASED


def test_the_chooser_may_reject_what_they_chose(firm_a, firm_user):
    pm = firm_user(firm_a, "pm-rej@sod.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        policy(**GENEROUS)
        chosen = _chosen(pm)
        assert proposal_reject(proposal=chosen, user=pm, comment="typed the wrong fund").status == S.REJECTED


@pytest.mark.parametrize("advised", [False, True], ids=["no_advisor", "advised"])
@pytest.mark.parametrize("chooser", [False, True], ids=["run_made", "chosen"])
def test_who_approves_matches_the_rule(firm_a, firm_user, advised, chooser):
    """Every case against the rule written plainly: the approver in the advisor's capacity may approve
    unless they chose the trades and the household has no advisor (its advisor answers for the client)."""
    pm = firm_user(firm_a, f"pm-{advised}-{chooser}@sod.example", FirmRole.PORTFOLIO_MANAGER)
    advisor = firm_user(firm_a, f"adv-{advised}-{chooser}@sod.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(**{**GENEROUS, "auto_approve": False})
        account = make_book(1)["accounts"][0]
        approver = advisor if advised else pm
        if advised:
            advisor_assign(household=account.household, advisor=advisor, by=None)
        _run(RunScope(firm=True))
        proposal = Proposal.objects.get(account=account, status=S.PENDING)
        if chooser:  # the approver edits it: a sale of theirs added, so they chose its trades
            proposal = proposal_resolve(proposal=proposal, instructions=[InstructionAdded("sell", "VTI")], by=approver)
            assert approver.pk in proposal.chosen_by
        allowed = not (chooser and not advised)
        if allowed:
            assert proposal_approve(proposal=proposal, user=approver).status == S.APPROVED
        else:
            with pytest.raises(PermissionDenied):
                proposal_approve(proposal=proposal, user=approver)
            assert not ProposalApproval.objects.filter(proposal=proposal).exists()


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_an_admin_does_not_give_themselves_a_role_that_approves_or_releases(firm_a, firm_user, client_for, role):
    admin = firm_user(firm_a, f"admin-{role}@sod.example", FirmRole.FIRM_ADMIN)
    second = firm_user(firm_a, f"admin2-{role}@sod.example", FirmRole.FIRM_ADMIN)
    with tenant_context(firm_a):
        before = AuditEvent.objects.filter(action="user.role.grant", object_id=str(admin.pk)).count()
        # When an admin gives themselves the role - refused by name, nothing written
        with pytest.raises(PermissionDenied) as refused:
            people.roles_set(FIRM_PEOPLE, user=admin, roles=[FirmRole.FIRM_ADMIN, role], by=admin)
        assert f"You cannot give yourself the {role.label.lower()} role" in refused.value.message
        assert set(admin.groups.values_list("name", flat=True)) == {FirmRole.FIRM_ADMIN}
        assert AuditEvent.objects.filter(action="user.role.grant", object_id=str(admin.pk)).count() == before
    # ...the people page says so on their row
    page = client_for(firm_a, admin).post("/people/", {"action": "roles", "user": admin.pk,
                                                       "role": [FirmRole.FIRM_ADMIN.value, role.value]})
    assert page.status_code == 400 and "You cannot give yourself the" in page.content.decode()
    with tenant_context(firm_a):
        # ...another admin gives it, and then they keep it while their own roles change otherwise
        people.roles_set(FIRM_PEOPLE, user=admin, roles=[FirmRole.FIRM_ADMIN, role], by=second)
        people.roles_set(FIRM_PEOPLE, user=admin, roles=[role], by=admin)
        assert set(get_user_model().objects.get(pk=admin.pk).groups.values_list("name", flat=True)) == {role}


def test_the_last_admins_refusal_comes_first(firm_a, firm_user):
    with tenant_context(firm_a):
        for user in get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN):
            user.groups.remove(*user.groups.filter(name=FirmRole.FIRM_ADMIN))
    admin = firm_user(firm_a, "last-admin@sod.example", FirmRole.FIRM_ADMIN)
    with tenant_context(firm_a), pytest.raises(ValidationFailed) as refused:
        people.roles_set(FIRM_PEOPLE, user=admin, roles=[FirmRole.ADVISOR], by=admin)
    assert "last active admin" in refused.value.message
