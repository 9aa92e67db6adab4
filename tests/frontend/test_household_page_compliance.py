"""The household page's proposal rows say why compliance must approve (the policy's reason, as the
Approvals list gives it) and who has approved so far. Before, a row the advisor had approved read
"Pending approval needs compliance" alone: no reason, no sign of the advisor's approval."""

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_for_compliance(firm_a, people):
    """The Lees' withdrawal of $5,000 from the joint account: it sells, its turnover is above the
    policy's 1% threshold for compliance, and the advisor has approved it."""
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=Decimal("0.01"),
               compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=people["advisor"])
        flow = cash_flow_enter(user=people["advisor"], household=made["household"], kind="withdrawal",
                               amount=Decimal("5000"), account=made["joint"]).cash_flow
        together = HouseholdProposal.objects.get(run=flow.run)
        household_proposal_decide(household_proposal=together, user=people["advisor"], approve=True, comment="ok")
        [leg] = Proposal.objects.filter(household_proposal=together)
        assert leg.status == Proposal.Status.PENDING and leg.requires_compliance
        yield {**made, "leg": leg}


def test_a_row_waiting_for_compliance_says_why_and_who_approved(waiting_for_compliance, as_user):
    made = waiting_for_compliance
    leg = made["leg"]

    page = as_user("advisor").get(f"/households/{made['household'].pk}/").content.decode()

    row = re.search(r"<tr><td>LEE-JT .*?</tr>", page, re.S).group(0)
    assert 'data-testid="compliance-state">needs compliance' in row
    assert (f'data-testid="compliance-why">Compliance reviews it: turnover {leg.turnover:.1%} ≥ 1.0%</span>'
            in row)
    assert re.search(r'data-testid="approved-by">Approved so far by Advisor \(advisor\), \w{3} \d{1,2}</span>', row)


def test_a_row_no_one_approved_yet_says_so(firm_a, people, as_user):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=Decimal("0.01"),
               compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=people["advisor"])
        cash_flow_enter(user=people["advisor"], household=made["household"], kind="withdrawal",
                        amount=Decimal("5000"), account=made["joint"])

    page = as_user("advisor").get(f"/households/{made['household'].pk}/").content.decode()

    row = re.search(r"<tr><td>LEE-JT .*?</tr>", page, re.S).group(0)
    assert 'data-testid="compliance-why">Compliance reviews it: turnover' in row
    assert 'data-testid="approved-by">No approval yet</span>' in row
