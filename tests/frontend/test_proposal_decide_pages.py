"""The proposal page's decisions: compliance approves or rejects but is offered no edit, an approval
says whose approval the proposal still waits for, and the tax limit alert names the limits."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from frontend.views.proposals import alert_groups
from rebalancing.models import Proposal, RebalanceRun
from rebalancing.services.people import advisor_assign

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _needing_compliance(firm_a, account) -> Proposal:
    with tenant_context(firm_a):
        Proposal.objects.filter(account=account).update(requires_compliance=True)
        return Proposal.objects.get(account=account)


def test_compliance_is_offered_no_edit_and_its_edit_is_refused(book, as_user, firm_a):
    # Given a proposal waiting for its advisor and for compliance
    proposal = _needing_compliance(firm_a, book["mine"][0])
    client = as_user("compliance")

    # Then compliance may decide on it but is not offered the edit
    page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert 'value="approve"' in page
    assert "Edit and solve again" not in page and "Re-solve" not in page and 'form="resolve-form"' not in page
    assert "Edit and solve again" in text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))

    # When compliance posts an edit anyway, it is refused and nothing is made
    with tenant_context(firm_a):
        runs = RebalanceRun.objects.count()
    response = client.post(f"/proposals/{proposal.pk}/resolve/", {
        "ins_action": ["sell"], "ins_symbol": ["VTI"], "ins_buy": ["ITOT"], "ins_amount": [""]})
    assert response.status_code == 403
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs and not Proposal.objects.filter(revised_from=proposal).exists()
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


def test_an_approval_says_whose_approval_is_still_missing(book, as_user, firm_a):
    first = _needing_compliance(firm_a, book["mine"][0])
    second = _needing_compliance(firm_a, book["mine"][1])

    # Compliance approves first: the proposal waits for its advisor (before: "for compliance")
    page = text(as_user("compliance").post(f"/proposals/{first.pk}/decide/", {"action": "approve"}, follow=True))
    assert f"Your approval of #{first.pk} is recorded; it now waits for its advisor's approval (Advisor)." in page
    assert "waits for compliance" not in page

    # The advisor approves first: it waits for compliance
    page = text(as_user("advisor").post(f"/proposals/{second.pk}/decide/", {"action": "approve"}, follow=True))
    assert f"Your approval of #{second.pk} is recorded; it now waits for compliance's approval." in page

    # The second approval settles it
    page = text(as_user("advisor").post(f"/proposals/{first.pk}/decide/", {"action": "approve"}, follow=True))
    assert f"Proposal #{first.pk} approved." in page


def test_a_household_without_advisor_waits_for_a_portfolio_manager(book, as_user, firm_a):
    proposal = _needing_compliance(firm_a, book["mine"][0])
    with tenant_context(firm_a):
        advisor_assign(household=proposal.account.household, advisor=None, by=None)
    page = text(as_user("compliance").post(f"/proposals/{proposal.pk}/decide/", {"action": "approve"}, follow=True))
    assert "it now waits for a portfolio manager's approval (its household has no advisor)." in page


TAX_LIMITS = [
    {"code": "tax_limit_exceeded", "amount": 5962.0,
     "message": "the proposal realises 6,962.00 of net gains, above the per run limit of 1,000.00"},
    {"code": "tax_limit_exceeded", "amount": 1962.0,
     "message": "the proposal realises 6,962.00 of net gains, above the per year limit of 5,000.00"},
]


def test_the_tax_limit_alert_names_each_limit_and_its_excess():
    [group] = alert_groups(TAX_LIMITS)
    # Before: "2, $7,924 in all" - a count and the two excesses added, though they overlap.
    assert group["summary"] == "the per-run limit by $5,962 and the per-year limit by $1,962"
    [one] = alert_groups(TAX_LIMITS[1:])
    assert one["summary"] == "the per-year limit by $1,962"


def test_the_proposal_page_shows_the_limits_exceeded(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0])
        proposal.result = {**proposal.result, "alerts": TAX_LIMITS}
        proposal.save(update_fields=["result"])
    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))
    assert ("<strong>Tax limit exceeded</strong>: the per-run limit by $5,962 and the per-year limit by $1,962"
            "</summary>") in page
    assert "in all" not in page.split("Tax limit exceeded", 1)[1].split("</summary>", 1)[0]
