"""Two requests creating a template (or a model) of the same code at the same moment: each found the code
free (``full_clean``'s unique check, ``_code_free``), then both inserted, and the loser's insert failed on
the code's unique key - an IntegrityError, a 500 (six parallel POSTs: one 201, the rest 500s and 400s).
The loser now gets the answer a code already taken gets (400 naming ``code``), and nothing of it is
written. The race is played out in one request: the other one's row is committed, as far as this
request's insert can tell, between its check and its insert."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, ParameterTemplate
from tenants.audit.models import AuditEvent

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

SLEEVES = [{"asset_class": "us_equity", "weight": "0.6", "holdings": {"VTI": "1"}},
           {"asset_class": "bonds", "weight": "0.4", "holdings": {"BND": "1"}}]
KINDS = {  # url, model class, body of a code, the rival's row
    "templates": (ParameterTemplate, lambda code: {"code": code, "name": "Race", "parameters": {}, "overridable": {}},
                  lambda code: ParameterTemplate.objects.create(code=code, name="Rival")),
    "models": (ModelPortfolio, lambda code: {"code": code, "name": "Race", "sleeves": SLEEVES},
               lambda code: ModelPortfolio.objects.create(code=code, name="Rival")),
}


def _rival_between_check_and_insert(monkeypatch, record_class, rival):
    """The first ``full_clean`` of a new record passes, and then the rival's row of its code is written."""
    original = record_class.full_clean
    raced = []

    def check_then_rival(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.pk is None and not raced:
            raced.append(rival(self.code))

    monkeypatch.setattr(record_class, "full_clean", check_then_rival)
    return raced


@pytest.mark.parametrize("kind", KINDS)
def test_the_loser_of_a_race_for_a_code_is_told_the_code_is_taken(firm_a, people, book, client_for, monkeypatch,
                                                                   kind):
    record_class, body, rival = KINDS[kind]
    client = client_for(firm_a, people["admin"])
    # what a code already taken is answered, one request after the other
    assert client.post(f"{API}/{kind}/", body("seq-x"), content_type="application/json").status_code == 201
    taken = client.post(f"{API}/{kind}/", body("seq-x"), content_type="application/json")
    assert taken.status_code == 400
    with tenant_context(firm_a):
        audited = AuditEvent.objects.count()

    # when another request's record of the code is written between this one's check and its insert
    raced = _rival_between_check_and_insert(monkeypatch, record_class, rival)
    answer = client.post(f"{API}/{kind}/", body("race-x"), content_type="application/json")

    # then it is answered as the code taken, and nothing of it is written (the rival, written here inside
    # this request's transaction, goes with it: in the race it is the other request's, committed)
    assert raced, "the race was not played"
    assert answer.status_code == 400, answer.content[:300]
    refused, expected = error_of(answer), error_of(taken)
    assert (refused["code"], refused["detail"]) == (expected["code"], expected["detail"])
    assert refused["message"] == expected["message"]
    with tenant_context(firm_a):
        assert not record_class.objects.filter(code="race-x", name="Race").exists()
        assert AuditEvent.objects.count() == audited
        assert not ModelVersion.objects.filter(model__code="race-x").exists()
