"""Two people deciding on one proposal at the same moment, each on their own database connection."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Household, ModelPortfolio, ParameterTemplate, Proposal, RebalanceRun, Security
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import proposal_approve, proposal_submit
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..rebalancing.book import make_book
from ..rebalancing.workflow import make_proposal, policy
from .conftest import at_once

pytestmark = pytest.mark.integration


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            people = {name: user_ensure(username=f"{name}@race.example", email=f"{name}@race.example", roles=[role])
                      for name, role in [("advisor", FirmRole.ADVISOR), ("compliance", FirmRole.COMPLIANCE),
                                         ("pm1", FirmRole.PORTFOLIO_MANAGER), ("pm2", FirmRole.PORTFOLIO_MANAGER)]}
            book = make_book(2)
        yield firm, people, book
        with tenant_context(firm):
            RebalanceRun.objects.all().delete()
            for account in book["accounts"]:
                account.delete()
            Household.objects.all().delete()
            ModelPortfolio.objects.all().delete()
            ParameterTemplate.objects.all().delete()
            Security.objects.all().delete()


def test_advisor_and_compliance_approving_together_both_count(committed, django_db_blocker):
    firm, people, book = committed
    with django_db_blocker.unblock():
        with tenant_context(firm):
            household = book["accounts"][0].household
            advisor_assign(household=household, advisor=people["advisor"], by=None)
            policy(compliance_min_estimated_tax=10_000)
            proposal = proposal_submit(proposal=make_proposal(book["accounts"][0], estimated_tax="20000"))

        outcomes = at_once(firm, [
            lambda: proposal_approve(proposal=proposal, user=people["advisor"]),
            lambda: proposal_approve(proposal=proposal, user=people["compliance"]),
        ])

        assert not any(isinstance(o, Exception) for o in outcomes), outcomes
        with tenant_context(firm):
            final = Proposal.objects.get(pk=proposal.pk)
            assert final.status == Proposal.Status.APPROVED
            assert sorted(final.approvals.values_list("capacity", flat=True)) == ["advisor", "compliance"]
            policy(compliance_min_estimated_tax=25_000)


def test_two_managers_approving_together_yield_one_approval(committed, django_db_blocker):
    firm, people, book = committed
    with django_db_blocker.unblock():
        with tenant_context(firm):
            proposal = proposal_submit(proposal=make_proposal(book["accounts"][1], estimated_tax="5000"))

        outcomes = at_once(firm, [
            lambda: proposal_approve(proposal=proposal, user=people["pm1"]),
            lambda: proposal_approve(proposal=proposal, user=people["pm2"]),
        ])

        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(errors) == 1 and errors[0].code in ("illegal_transition", "concurrent_decision")
        with tenant_context(firm):
            final = Proposal.objects.get(pk=proposal.pk)
            assert final.status == Proposal.Status.APPROVED
            assert final.approvals.count() == 1
