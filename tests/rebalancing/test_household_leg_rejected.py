"""A household proposal's legs go out together or not at all, so rejecting one leg rejects the
household's other open legs with it (audited, with the reason). Before, the others stayed pending or
approved for ever: approvals kept being collected, and their release was refused as "waiting for" a
leg that was rejected and could never change."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal, RebalanceRun
from rebalancing.services.proposals import (
    IllegalTransition,
    household_proposal_decide,
    proposal_approve,
    proposal_reject,
    proposal_release,
)
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db

S = Proposal.Status


@pytest.fixture
def people(firm_a, firm_user):
    return {"advisor": firm_user(firm_a, "adv@legs-rejected.example", FirmRole.ADVISOR),
            "pm": firm_user(firm_a, "pm@legs-rejected.example", FirmRole.PORTFOLIO_MANAGER)}


def _legs(advisor, statuses: dict[str, str], *, prefix="LEE") -> tuple[HouseholdProposal, dict[str, Proposal]]:
    """A household proposal with one leg per account of the household, in the given statuses."""
    made = make_unit_household(advisor=advisor, external_id=f"HH-{prefix}", prefix=prefix)
    run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date.today(), total=3)
    group = HouseholdProposal.objects.create(run=run, household=made["household"], result={})
    legs = {key: Proposal.objects.create(run=run, account=made[key], status=status, parameters={},
                                         inputs_fingerprint="f" * 64, result={"trades": []}, trade_count=0,
                                         household_proposal=group)
            for key, status in statuses.items()}
    return group, legs


def _statuses(legs) -> dict[str, str]:
    return {key: Proposal.objects.get(pk=leg.pk).status for key, leg in legs.items()}


def test_rejecting_one_leg_rejects_the_households_other_open_legs_and_says_why(firm_a, people):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        # Given the joint account's leg approved by policy and the IRA's and Roth's pending
        _, legs = _legs(people["advisor"], {"joint": S.APPROVED, "ira": S.PENDING, "roth": S.PENDING})
        # a second household's proposal, which a rejection here must not touch
        _, other = _legs(people["advisor"], {"joint": S.APPROVED, "ira": S.PENDING}, prefix="KIM")

        # When the advisor rejects the IRA's
        proposal_reject(proposal=legs["ira"], user=people["advisor"], comment="no bonds in the IRA")

        # Then the household's other legs are rejected with it
        assert _statuses(legs) == {"joint": S.REJECTED, "ira": S.REJECTED, "roth": S.REJECTED}
        assert _statuses(other) == {"joint": S.APPROVED, "ira": S.PENDING}
        events = {e.object_id: e for e in AuditEvent.objects.filter(action="proposal.reject.with_household")}
        assert set(events) == {str(legs["joint"].pk), str(legs["roth"].pk)}
        assert events[str(legs["roth"].pk)].comment == (
            f"rejected with #{legs['ira'].pk} (LEE-IRA), rejected by adv@legs-rejected.example: no bonds in the IRA - "
            "the household's accounts were solved as one and go out together or not at all")
        assert events[str(legs["joint"].pk)].before == {"status": S.APPROVED}
        # and nothing is left to collect approvals for, or to wait for
        with pytest.raises(IllegalTransition):
            proposal_approve(proposal=legs["roth"], user=people["advisor"])
        with pytest.raises(IllegalTransition):
            proposal_release(proposal=legs["joint"], user=people["pm"])


def test_a_households_one_decision_to_reject_takes_its_approved_leg_too(firm_a, people):
    with tenant_context(firm_a):
        group, legs = _legs(people["advisor"], {"joint": S.APPROVED, "ira": S.PENDING, "roth": S.PENDING})

        household_proposal_decide(household_proposal=group, user=people["advisor"], approve=False, comment="not now")

        assert _statuses(legs) == {"joint": S.REJECTED, "ira": S.REJECTED, "roth": S.REJECTED}
        # the advisor's own rejection of each pending leg, and the approved one's with the household
        assert set(AuditEvent.objects.filter(action="proposal.reject.advisor").values_list("object_id", flat=True)) \
            == {str(legs["ira"].pk), str(legs["roth"].pk)}
        assert list(AuditEvent.objects.filter(action="proposal.reject.with_household")
                    .values_list("object_id", flat=True)) == [str(legs["joint"].pk)]


def test_legs_already_gone_stay_as_they_are(firm_a, people):
    with tenant_context(firm_a):
        _, legs = _legs(people["advisor"], {"joint": S.EXPIRED, "ira": S.PENDING, "roth": S.SUPERSEDED})

        proposal_reject(proposal=legs["ira"], user=people["advisor"], comment="no")

        assert _statuses(legs) == {"joint": S.EXPIRED, "ira": S.REJECTED, "roth": S.SUPERSEDED}
        assert not AuditEvent.objects.filter(action="proposal.reject.with_household").exists()


def test_the_proposal_page_says_which_legs_were_rejected_with_it(firm_a, people, client_for):
    with tenant_context(firm_a):
        _, legs = _legs(people["advisor"], {"joint": S.APPROVED, "ira": S.PENDING, "roth": S.PENDING})
    client = client_for(firm_a, people["advisor"])

    response = client.post(f"/proposals/{legs['roth'].pk}/decide/", {"action": "reject", "comment": "too much"},
                           follow=True)

    assert (f"Proposal #{legs['roth'].pk} rejected, and with it its household&#x27;s #{legs['joint'].pk}, "
            f"#{legs['ira'].pk}: the household&#x27;s accounts were solved as one and go out together or not at all."
            ) in response.content.decode()
    with tenant_context(firm_a):
        assert set(_statuses(legs).values()) == {S.REJECTED}


def test_the_household_page_gives_a_rejected_proposals_drift_as_not_made(firm_a, people, client_for):
    with tenant_context(firm_a):
        group, legs = _legs(people["advisor"], {"joint": S.PENDING, "ira": S.PENDING})
        HouseholdProposal.objects.filter(pk=group.pk).update(drift_before=0.281, drift_after=0.0)
        proposal_reject(proposal=legs["ira"], user=people["advisor"], comment="not now")
        household = group.household

    page = client_for(firm_a, people["advisor"]).get(f"/households/{household.pk}/").content.decode()

    assert "<dt>Drift (latest proposal)</dt><dd>28.1% →" not in page
    assert 'data-testid="drift-not-made">(its trades, to 0.0%, were not made: rejected)' in page
