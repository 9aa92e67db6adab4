"""A household proposal's legs go together when one account's lots change (a lots file, the
custodian's positions: ``proposals_supersede_lots_changed``), as a settings change and the restricted
list take them: the household was solved as one. And a household proposal one leg of which has gone
(superseded, expired, rejected) is not approved by one decision, nor leg by leg."""

import pytest

from rebalancing.models import HouseholdProposal, Proposal, ProposalApproval
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import (
    household_proposal_decide,
    proposal_approve,
    proposals_supersede_lots_changed,
)
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict

from .test_household_unit import _run, lees  # noqa: F401

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _statuses(run) -> dict[str, str]:
    return dict(Proposal.objects.filter(run=run).values_list("account__custodian_number", "status"))


def test_one_accounts_lots_changed_supersedes_every_leg_of_its_household_proposal(lees):  # noqa: F811
    # Given the Lees' household proposal, its three legs pending
    run = _run(RunScope(household_id=lees["household"].pk))
    legs = dict(Proposal.objects.filter(run=run).values_list("account_id", "pk"))
    assert set(_statuses(run).values()) == {S.PENDING}

    # When the IRA's lots change
    superseded = proposals_supersede_lots_changed(account_ids=[lees["ira"].pk], because="lots file replaced IRA's lots")

    # Then every leg gives way, each audited: the IRA's with the reason, the others with their household's
    assert superseded == 3
    assert set(_statuses(run).values()) == {S.SUPERSEDED}
    why = dict(AuditEvent.objects.filter(  # (its legs: the audit log is append-only, shared with other tests)
        action="proposal.supersede", object_type="proposal", object_id__in=[str(pk) for pk in legs.values()])
        .values_list("object_id", "comment"))
    ira = lees["ira"].custodian_number
    assert why == {str(pk): ("lots file replaced IRA's lots" if account == lees["ira"].pk
                             else f"with its household's proposal: {ira}: lots file replaced IRA's lots")
                   for account, pk in legs.items()}


def test_a_household_proposal_one_leg_of_which_is_gone_is_not_approved(lees):  # noqa: F811
    # Given the Lees' household proposal one leg of which has gone (as a lots change once left it)
    run = _run(RunScope(household_id=lees["household"].pk))
    together = HouseholdProposal.objects.get(run=run)
    ira = Proposal.objects.get(run=run, account=lees["ira"])
    Proposal.objects.filter(pk=ira.pk).update(status=S.SUPERSEDED)

    # When its advisor approves the household's proposal in one decision
    with pytest.raises(Conflict) as refused:
        household_proposal_decide(household_proposal=together, user=lees["advisor"], approve=True, comment="ok")

    # Then it is refused naming the leg, and nothing is approved or recorded
    assert refused.value.code == "household_leg_gone"
    assert f"#{ira.pk} for {lees['ira'].custodian_number} is superseded" in refused.value.message
    assert S.APPROVED not in _statuses(run).values()
    assert not ProposalApproval.objects.filter(proposal__run=run).exists()

    # Nor is a remaining leg approved alone
    joint = Proposal.objects.get(run=run, account=lees["joint"])
    with pytest.raises(Conflict, match=f"proposal #{ira.pk} for {lees['ira'].custodian_number} is superseded"):
        proposal_approve(proposal=joint, user=lees["advisor"], comment="ok")
    assert Proposal.objects.get(pk=joint.pk).status == S.PENDING
    assert not ProposalApproval.objects.filter(proposal__run=run).exists()


def test_a_rejection_of_what_is_left_is_still_taken(lees):  # noqa: F811
    # Given a household proposal one leg of which has gone
    run = _run(RunScope(household_id=lees["household"].pk))
    together = HouseholdProposal.objects.get(run=run)
    Proposal.objects.filter(run=run, account=lees["ira"]).update(status=S.SUPERSEDED)

    # When its advisor rejects it, the rest is rejected (nothing of it can go out anyway)
    household_proposal_decide(household_proposal=together, user=lees["advisor"], approve=False, comment="stale")

    statuses = _statuses(run)
    assert statuses.pop(lees["ira"].custodian_number) == S.SUPERSEDED
    assert set(statuses.values()) == {S.REJECTED}
