"""The Release page, the proposal page and the API keep a household solved as one together: a leg
approved while the others wait is listed as waiting for them (naming which), is not counted in
"Release all", and a release of it alone is refused saying which legs are still pending."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from tests.rebalancing.test_qa_workflow_household_release import household_legs
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db

S = Proposal.Status


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_release_page_lists_a_waiting_leg_and_counts_only_what_may_go(firm_a, as_user, people):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        lees, legs = household_legs({"joint": S.APPROVED, "ira": S.PENDING, "roth": S.PENDING})
        alone = make_proposal(lees["joint"], status=S.APPROVED)  # no household proposal: free to go
        Proposal.objects.filter(pk=alone.pk).update(household_proposal=None)
    pm = as_user("pm")
    page = text(pm.get("/proposals/?status=approved"))
    joint, ira, roth = legs["joint"].pk, legs["ira"].pk, legs["roth"].pk

    assert "Release all 1 approved proposal</button>" in page
    assert "Waiting for the household's other accounts (1)" in page
    assert (f'#{joint} LEE-JT</a>: waiting for the household\'s other accounts, #{ira} LEE-IRA (pending approval), '
            f"#{roth} LEE-ROTH (pending approval)") in page
    assert f'name="proposal" value="{joint}"' not in page and f'name="proposal" value="{alone.pk}"' in page

    detail = text(pm.get(f"/proposals/{joint}/"))
    assert 'value="release"' not in detail
    assert f"waiting for the household's other accounts, #{ira} LEE-IRA (pending approval)" in detail

    refused = text(pm.post(f"/proposals/{joint}/decide/", {"action": "release"}, follow=True))
    assert f"still waiting for #{ira} LEE-IRA (pending approval), #{roth} LEE-ROTH (pending approval)" in refused

    api = pm.post(f"/api/v1/proposals/{joint}/release/", {"comment": ""}, content_type="application/json")
    assert api.status_code == 409 and api.json()["code"] == "household_legs_waiting"
    assert [w["account"] for w in api.json()["detail"]["waiting_for"]] == ["LEE-IRA", "LEE-ROTH"]
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=joint).status == S.APPROVED


def test_the_proposal_page_releases_the_households_legs_in_one_step_and_says_so(firm_a, as_user, people):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        _, legs = household_legs({"joint": S.APPROVED, "ira": S.APPROVED, "roth": S.APPROVED})
    pm = as_user("pm")
    joint, ira, roth = legs["joint"].pk, legs["ira"].pk, legs["roth"].pk

    detail = text(pm.get(f"/proposals/{ira}/"))
    assert "Release the household's trades</button>" in detail
    assert "their approved proposals are released with this one, in one step" in detail

    done = html.unescape(text(pm.post(f"/proposals/{ira}/decide/", {"action": "release"}, follow=True)))
    # (these legs trade nothing: released, each is executed at once)
    assert (f"Proposal #{ira} released with its household's #{joint}, #{roth}; it had no order to send, so it is "
            "executed.") in done
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(pk__in=[joint, ira, roth]).values_list("status", flat=True)) <= {
            S.RELEASED, S.EXECUTED}
