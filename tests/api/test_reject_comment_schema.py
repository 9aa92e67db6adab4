"""A rejection must say why, and the schema says so: ``comment`` is required (not blank) in the body
of proposals/{id}/reject/ and household-proposals/{id}/reject/, and the server refuses one without it
in the service's own words, whichever endpoint and however it is left out."""

import pytest
import yaml
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

REJECTS = ("/api/v1/proposals/{id}/reject/", "/api/v1/household-proposals/{id}/reject/")
WITHOUT_A_REASON = [{}, {"comment": ""}, {"comment": "  \n "}, {"comment": None}]


def test_the_schema_says_a_rejection_needs_a_comment(firm_a, client_for, firm_user):
    served = client_for(firm_a, firm_user(firm_a, "reader@a.example")).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    schema = yaml.safe_load(served.content)
    components = schema["components"]["schemas"]
    for path in REJECTS:
        body = schema["paths"][path]["post"]["requestBody"]
        assert body.get("required") is True, path
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert components[ref]["required"] == ["comment"], path
        assert components[ref]["properties"]["comment"]["minLength"] == 1, path
    approve = schema["paths"]["/api/v1/proposals/{id}/approve/"]["post"]["requestBody"]
    assert "required" not in components[approve["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("body", WITHOUT_A_REASON)
def test_a_proposal_rejected_without_a_reason_is_refused_in_the_same_words(firm_a, people, book, client_for, body):
    proposal = book["own_proposal"]
    answer = client_for(firm_a, people["advisor"]).post(f"{API}/proposals/{proposal.pk}/reject/", body,
                                                        content_type="application/json")
    refused = error_of(answer)
    assert answer.status_code == 400 and refused == {"code": "invalid", "message": "Say why the proposal is rejected.",
                                                     "detail": {"field": "comment"}}
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


@pytest.fixture
def lees_pending(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        household = make_unit_household(advisor=people["advisor"])["household"]
        run = run_start(scope=RunScope(household_id=household.pk), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        return HouseholdProposal.objects.get(run=run)


@pytest.mark.parametrize("body", WITHOUT_A_REASON)
def test_a_household_proposal_rejected_without_a_reason_is_refused_in_the_same_words(firm_a, people, client_for,
                                                                                     lees_pending, body):
    advisor = client_for(firm_a, people["advisor"])
    answer = advisor.post(f"{API}/household-proposals/{lees_pending.pk}/reject/", body,
                          content_type="application/json")
    refused = error_of(answer)
    assert answer.status_code == 400 and refused == {"code": "invalid", "message": "Say why the proposal is rejected.",
                                                     "detail": {"field": "comment"}}
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(household_proposal=lees_pending).values_list("status", flat=True)) \
            == {Proposal.Status.PENDING}
    rejected = advisor.post(f"{API}/household-proposals/{lees_pending.pk}/reject/", {"comment": "client moves money"},
                            content_type="application/json")
    assert rejected.status_code == 200


def test_someone_elses_household_proposal_is_not_found_whatever_the_body(firm_a, people, client_for, lees_pending):
    answer = client_for(firm_a, people["colleague"]).post(f"{API}/household-proposals/{lees_pending.pk}/reject/", {},
                                                          content_type="application/json")
    assert answer.status_code == 404
