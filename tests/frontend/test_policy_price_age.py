"""The age of prices a release accepts: at least a day (a run prices with the last close), and a
change says how many open proposals it now expires - it applies to them too, not only to new ones."""

import re
from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal
from tests.rebalancing.book import make_account, make_model, make_securities
from tests.rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db

POLICY = {"auto_approve": "on", "auto_max_estimated_tax": "1,000", "auto_max_turnover": "5", "auto_max_trades": "20",
          "compliance_min_estimated_tax": "25,000", "compliance_min_turnover": "25"}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_prices_may_not_be_required_younger_than_a_day(firm_a, people, as_user):
    with tenant_context(firm_a):
        before = ApprovalPolicy.current().max_price_age_days

    response = as_user("admin").post("/policy/", {**POLICY, "max_price_age_days": "0"})

    assert response.status_code == 400
    assert "The age of prices (days) must be a whole number from 1 to 365, not “0”" in text(response)
    with tenant_context(firm_a):
        assert ApprovalPolicy.current().max_price_age_days == before


def test_the_service_refuses_zero_days_naming_why(firm_a, people):
    from rebalancing.services.policy import approval_policy_set
    from tenants.errors import ValidationFailed

    with tenant_context(firm_a), pytest.raises(ValidationFailed, match="at 0 no proposal could be released"):
        approval_policy_set(by=people["admin"], max_price_age_days=0)


def test_a_shorter_price_age_says_how_many_open_proposals_it_now_expires(firm_a, people, as_user):
    with tenant_context(firm_a):
        make_securities()
        account = make_account("AGE-1", model=make_model())
        old = make_proposal(account, status=Proposal.Status.APPROVED)
        Proposal.objects.filter(pk=old.pk).update(priced_on=date.today() - timedelta(days=5))
        fresh = make_proposal(account, status=Proposal.Status.PENDING)
        Proposal.objects.filter(pk=fresh.pk).update(priced_on=date.today() - timedelta(days=1))
        gone = make_proposal(account, status=Proposal.Status.REJECTED)
        Proposal.objects.filter(pk=gone.pk).update(priced_on=date.today() - timedelta(days=9))

    page = text(as_user("admin").post("/policy/", {**POLICY, "max_price_age_days": "2"}, follow=True))

    assert "the age of prices applies at every release and at the nightly expiry, to the proposals open now too" in page
    assert "1 open proposal is priced more than 2 days ago: each expires at its release or tonight" in page
