"""A household solved as one is released whole: a leg (one account's proposal of a household
proposal) approved by the policy waits for the other legs' approvals before any of them is released,
whether released alone, in a release of every approved proposal, or through the API."""

from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal, RebalanceRun, ReleaseBatch
from rebalancing.services.proposals import (
    HouseholdLegsWaiting,
    household_legs_waiting,
    proposal_release,
    proposals_release_bulk,
    proposals_release_ready,
)
from rebalancing.services.release_batches import release_batch_execute, release_batch_start
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, ValidationFailed
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db

S = Proposal.Status


def household_legs(statuses: dict[str, str]) -> tuple[dict, dict[str, Proposal]]:
    """The Lees' household proposal with one leg per account in the given statuses."""
    lees = make_unit_household()
    run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date.today(), total=3)
    group = HouseholdProposal.objects.create(run=run, household=lees["household"], result={})
    legs = {key: Proposal.objects.create(run=run, account=lees[key], status=status, parameters={},
                                         inputs_fingerprint="f" * 64, result={"trades": []}, trade_count=0,
                                         household_proposal=group)
            for key, status in statuses.items()}
    return lees, legs


def test_a_leg_is_not_released_while_the_households_other_legs_wait_for_approval(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.PENDING, "roth": S.PENDING})

        with pytest.raises(HouseholdLegsWaiting) as refused:
            proposal_release(proposal=legs["joint"], user=pm)
        bulk = proposals_release_bulk(proposal_ids=[legs["joint"].pk], user=pm)

        assert refused.value.code == "household_legs_waiting"
        assert (f"still waiting for #{legs['ira'].pk} LEE-IRA (pending approval), #{legs['roth'].pk} LEE-ROTH "
                "(pending approval)") in refused.value.message
        assert [(o.ok, o.message) for o in bulk] == [(False, refused.value.message)]
        assert Proposal.objects.get(pk=legs["joint"].pk).status == S.APPROVED
        assert not proposals_release_ready(Proposal.objects.all()).exists()
        assert {p.pk for p in household_legs_waiting([legs["joint"]])[legs["joint"].pk]} == {
            legs["ira"].pk, legs["roth"].pk}


def test_release_all_leaves_a_waiting_leg_and_releases_the_household_once_every_leg_is_approved(
        firm_a, firm_user, django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.PENDING, "roth": S.APPROVED})
        with pytest.raises(Exception, match="No approved proposal is waiting to be released"):
            release_batch_start(user=pm)

        Proposal.objects.filter(pk=legs["ira"].pk).update(status=S.APPROVED)  # its approvals came in
        with django_capture_on_commit_callbacks():
            start = release_batch_start(user=pm)
        release_batch_execute(batch_id=start.batch.pk)

        assert sorted(start.batch.proposal_ids) == sorted(p.pk for p in legs.values())
        assert ReleaseBatch.objects.get().released == 3
        assert set(Proposal.objects.filter(household_proposal__isnull=False).values_list("status", flat=True)) <= {
            S.RELEASED, S.EXECUTED}


def test_a_rejected_or_superseded_leg_keeps_the_others_from_going_out_alone(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.SUPERSEDED, "roth": S.APPROVED})

        with pytest.raises(HouseholdLegsWaiting, match=r"LEE-IRA \(superseded\)"):
            proposal_release(proposal=legs["roth"], user=pm)


def test_releasing_one_leg_releases_the_households_other_approved_legs_in_the_same_step(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})

        proposal_release(proposal=legs["ira"], user=pm)

        statuses = dict(Proposal.objects.filter(household_proposal__isnull=False).values_list("pk", "status"))
        assert set(statuses.values()) <= {S.RELEASED, S.EXECUTED} and len(statuses) == 3
        released = AuditEvent.objects.filter(action="proposal.release", object_type="proposal")
        assert sorted(int(e.object_id) for e in released) == sorted(p.pk for p in legs.values())


def test_a_leg_that_cannot_go_out_keeps_every_leg_approved(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})
        Proposal.objects.filter(pk=legs["roth"].pk).update(result={"trades": [
            {"symbol": "GONE", "side": "buy", "quantity": 3, "price": 10.0, "reasons": ["drift"]}]})

        with pytest.raises(ValidationFailed, match="no longer in the master: GONE"):
            proposal_release(proposal=legs["joint"], user=pm)

        assert set(Proposal.objects.filter(household_proposal__isnull=False).values_list("status", flat=True)) == {
            S.APPROVED}
        assert not AuditEvent.objects.filter(action="proposal.release").exists()


def test_one_legs_old_prices_expire_the_whole_household_proposal(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})
        Proposal.objects.filter(pk=legs["roth"].pk).update(priced_on=date.today() - timedelta(days=10))

        with pytest.raises(Conflict, match="has expired with its household's other accounts \\(2 more\\)") as refused:
            proposal_release(proposal=legs["joint"], user=pm)

        assert refused.value.code == "proposal_expired"
        assert str(date.today() - timedelta(days=10)) in refused.value.message
        assert set(Proposal.objects.filter(household_proposal__isnull=False).values_list("status", flat=True)) == {
            S.EXPIRED}


def test_releasing_the_legs_together_in_a_list_says_each_went_with_the_first(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})
        order = [legs["ira"].pk, legs["joint"].pk, legs["roth"].pk]

        outcomes = proposals_release_bulk(proposal_ids=order, user=pm)

        assert [(o.proposal_id, o.ok, o.message) for o in outcomes] == [
            (order[0], True, "released: its orders may go out"),
            (order[1], True, f"released with its household's #{order[0]}"),
            (order[2], True, f"released with its household's #{order[0]}")]
