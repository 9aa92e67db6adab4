"""A household proposal approved twice by the same person is a conflict, 409 already_decided, as one
proposal approved twice is: not a want of permission (403)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_for_compliance(firm_a, people):
    """The Lees' household proposal, pending, each account's needing compliance after its advisor."""
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10,
               compliance_min_estimated_tax=10**9)
        household = make_unit_household(advisor=people["advisor"])["household"]
        run = run_start(scope=RunScope(household_id=household.pk), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        together = HouseholdProposal.objects.get(run=run)
        Proposal.objects.filter(household_proposal=together).update(requires_compliance=True)
        return together


def test_a_household_proposal_approved_twice_is_already_decided(firm_a, people, api_key, waiting_for_compliance):
    advisor = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=("read", "approve")))
    url = f"{API}/household-proposals/{waiting_for_compliance.pk}/approve/"
    first = advisor.post(url, {"comment": "ok"}, content_type="application/json")
    with tenant_context(firm_a):
        after_first = sorted(Proposal.objects.filter(household_proposal=waiting_for_compliance)
                             .values_list("pk", "status", "approvals__user"))

    again = advisor.post(url, {"comment": "ok"}, content_type="application/json")

    assert first.status_code == 200, first.json()
    body = error_of(again)
    assert again.status_code == 409 and body["code"] == "already_decided", body
    assert body["message"] == ("You have already decided on this household's proposals; the approvals they still "
                               "wait for must come from someone else.")
    with tenant_context(firm_a):  # nothing changed
        assert sorted(Proposal.objects.filter(household_proposal=waiting_for_compliance)
                      .values_list("pk", "status", "approvals__user")) == after_first
    also_rejecting = advisor.post(f"{API}/household-proposals/{waiting_for_compliance.pk}/reject/",
                                  {"comment": "changed my mind"}, content_type="application/json")
    assert also_rejecting.status_code == 409 and error_of(also_rejecting)["code"] == "already_decided"


def test_someone_whose_decision_it_is_not_is_still_refused_permission(firm_a, people, api_key,
                                                                      waiting_for_compliance):
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=waiting_for_compliance).update(requires_compliance=False)
    compliance = key_client(firm_a, api_key(firm_a, people["compliance"], scopes=("read", "approve")))

    answer = compliance.post(f"{API}/household-proposals/{waiting_for_compliance.pk}/approve/", {"comment": "ok"},
                             content_type="application/json")

    body = error_of(answer)
    assert answer.status_code == 403 and body["code"] == "permission_denied", body
    assert "the firm's policy asks no compliance approval of it" in body["message"]
