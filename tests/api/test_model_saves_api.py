"""Models and templates through the API, under the same rules as the pages: a version with the
current sleeves makes none (200, nothing superseded), a sleeve's asset class is one of the firm's,
a code differing from another only in capitals is refused naming it, and a transition's per-run gain
cap may not exceed its per-year one."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, ParameterTemplate, Proposal

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

CURRENT = [{"asset_class": "us_equity", "weight": "0.60", "holdings": {"VTI": "1"}},
           {"asset_class": "bonds", "weight": "0.3", "holdings": {"BND": "1.0"}},
           {"asset_class": "real_estate", "weight": "0.1", "holdings": {"VNQ": "1"}}]


def test_a_version_with_the_current_sleeves_makes_none_and_supersedes_nothing(firm_a, people, book, client_for):
    model, client = book["model"], client_for(firm_a, people["admin"])
    with tenant_context(firm_a):
        pending = Proposal.objects.filter(status=Proposal.Status.PENDING).count()
    assert pending

    same = client.post(f"{API}/models/{model.pk}/versions/", {"note": "again", "sleeves": CURRENT},
                       content_type="application/json")

    assert same.status_code == 200 and same.json()["number"] == 1
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 1
        assert Proposal.objects.filter(status=Proposal.Status.PENDING).count() == pending

    changed = client.post(f"{API}/models/{model.pk}/versions/", {"sleeves": [
        {**CURRENT[0], "weight": "0.5"}, {**CURRENT[1], "weight": "0.4"}, CURRENT[2]]}, content_type="application/json")

    assert changed.status_code == 201 and changed.json()["number"] == 2
    with tenant_context(firm_a):
        assert Proposal.objects.filter(status=Proposal.Status.PENDING).count() == 0


def test_an_unknown_asset_class_is_refused_naming_it(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).post(f"{API}/models/{book['model'].pk}/versions/", {"sleeves": [
        {**CURRENT[0], "asset_class": "US equity"}, *CURRENT[1:]]}, content_type="application/json")

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["problems"][0] == "unknown asset class “US equity” (did you mean us_equity?)"
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=book["model"]).count() == 1


def test_codes_differing_only_in_capitals_are_refused(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    model = client.post(f"{API}/models/", {"code": "BALANCED", "name": "Shouting", "sleeves": CURRENT},
                        content_type="application/json")
    template = client.post(f"{API}/templates/", {"code": "Standard", "name": "Standard 2", "parameters": {},
                                                 "overridable": {}}, content_type="application/json")

    assert model.status_code == 400 and error_of(model)["detail"] == {"field": "code", "existing": "balanced"}
    assert "differs only in capitals from the code “balanced”" in error_of(model)["message"]
    assert template.status_code == 400 and error_of(template)["detail"]["existing"] == "standard"
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="BALANCED").exists()
        assert not ParameterTemplate.objects.filter(code="Standard").exists()


def test_a_per_run_gain_cap_above_the_per_year_one_is_refused(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["admin"]).post(f"{API}/templates/", {
        "code": "transition", "name": "Transition", "overridable": {},
        "parameters": {"transition": {"enabled": True, "max_net_gain_per_run": 50000, "max_net_gain_per_year": 10000}}},
        content_type="application/json")

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["conflicts"] == ["transition.max_net_gain_per_run",
                                                       "transition.max_net_gain_per_year"]
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="transition").exists()
