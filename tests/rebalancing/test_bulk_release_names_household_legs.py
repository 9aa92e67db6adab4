"""Ticking one leg of a household proposal on the release page releases its approved legs with it (a
household's legs go together); the outcome names each and counts them (it said "1 proposal released"
while three went out, the other two unnamed)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.services.proposals import proposals_release_bulk
from tests.rebalancing.test_qa_workflow_household_release import household_legs
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


def test_releasing_one_ticked_leg_names_and_counts_the_legs_released_with_it(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})

        outcomes = proposals_release_bulk(proposal_ids=[legs["ira"].pk], user=pm)

        assert Proposal.objects.filter(status__in=(S.RELEASED, S.EXECUTED)).count() == 3
        assert [o.ok for o in outcomes] == [True, True, True]
        by_id = {o.proposal_id: o.message for o in outcomes}
        assert by_id[legs["ira"].pk] == "released: its orders may go out"
        for other in (legs["joint"], legs["roth"]):
            assert by_id[other.pk] == f"released with its household's #{legs['ira'].pk}"


def test_ticking_every_leg_names_each_once(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@legs2.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})
        ids = [legs[k].pk for k in ("joint", "ira", "roth")]

        outcomes = proposals_release_bulk(proposal_ids=ids, user=pm)

        assert sorted(o.proposal_id for o in outcomes) == sorted(ids) and all(o.ok for o in outcomes)
