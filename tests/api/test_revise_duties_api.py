"""Compliance revises nothing through the API either: where it may approve a proposal (the policy
asks for its second approval), its POST proposals/{id}/revise/ is refused and writes nothing."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def test_compliance_may_approve_but_not_revise(firm_a, people, book, client_for):
    old = book["own_proposal"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=old.pk).update(requires_compliance=True)
        runs = RebalanceRun.objects.count()
    client = client_for(firm_a, people["compliance"])

    refused = client.post(f"{API}/proposals/{old.pk}/revise/", {"drop": [old.result["trades"][0]["symbol"]]},
                          content_type="application/json")

    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    assert error_of(refused)["detail"]["capacity"] == "compliance"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs
        assert Proposal.objects.get(pk=old.pk).status == Proposal.Status.PENDING
    approved = client.post(f"{API}/proposals/{old.pk}/approve/", {}, content_type="application/json")
    assert approved.status_code == 200, approved.content


@pytest.mark.parametrize("body", [{}, {"drop": 5}, {"instructions": [{"action": "fly"}]}, {"unknown": 1}])
def test_compliance_is_refused_a_revision_whatever_the_body(firm_a, people, book, client_for, body):
    # The permission first: a body the edit would refuse answered 400, as if compliance might send a better one.
    old = book["own_proposal"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=old.pk).update(requires_compliance=True)

    refused = client_for(firm_a, people["compliance"]).post(f"{API}/proposals/{old.pk}/revise/", body,
                                                             content_type="application/json")

    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    assert error_of(refused)["detail"]["capacity"] == "compliance"
