"""A JSON body is read as typed: a number where text is asked, text where a boolean or an id is asked, are
refused naming the field (400). DRF coerced them: ``{"comment": 123}`` approved with the comment "123",
``{"scope": {"firm": "yes"}}`` started a run of the whole firm, ``"household_id": "9"`` and ``9.0`` were 9."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _post(client, path, body):
    return client.post(f"{API}/{path}", body, content_type="application/json")


def test_an_approval_comment_that_is_not_text_is_refused_and_nothing_is_decided(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(account=book["own"]).get()
    answer = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/", {"comment": 123})

    assert answer.status_code == 400, answer.content
    assert error_of(answer)["detail"]["fields"] == {"comment": ["must be text, not a number (123)."]}
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


@pytest.mark.parametrize(("scope", "field", "problem"), [
    ({"firm": "yes"}, "firm", "must be true or false, not text ('yes')."),
    ({"firm": 1}, "firm", "must be true or false, not a number (1)."),
    ({"household_id": "9"}, "household_id", "must be a whole number, not text ('9')."),
    ({"household_id": 9.0}, "household_id", "must be a whole number, not a number (9.0)."),
    ({"household_id": True}, "household_id", "must be a whole number, not a boolean (True)."),
    ({"account_ids": [1, "2"]}, "account_ids", "[1] must be a whole number, not text ('2')."),
    ({"model_code": 5}, "model_code", "must be text, not a number (5)."),
    ({"firm": True, "replace_approved": "false"}, "replace_approved", "must be true or false, not text ('false')."),
])
def test_a_run_scope_of_the_wrong_json_types_is_refused_and_nothing_is_queued(firm_a, people, book, client_for,
                                                                              scope, field, problem):
    with tenant_context(firm_a):
        runs = RebalanceRun.objects.count()
    answer = _post(client_for(firm_a, people["pm"]), "runs/", {"scope": scope})

    assert answer.status_code == 400, answer.content
    assert error_of(answer)["detail"]["fields"] == {"scope": {field: [problem]}}
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs


def test_typed_values_are_still_taken(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(account=book["own"]).get()
    approved = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/", {"comment": "ok"})
    started = _post(client_for(firm_a, people["pm"]), "runs/",
                    {"scope": {"household_id": book["own"].household_id, "replace_approved": True}})

    assert approved.status_code == 200, approved.content
    assert started.status_code in (201, 202), started.content
