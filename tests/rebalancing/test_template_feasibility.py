"""A template's settings taken together (``template_save``, by the pages and the API alike): what
no account could meet is refused naming the settings, and nothing is written; what is allowed but
almost surely not meant is saved and listed in ``template.warnings``."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate
from rebalancing.services.book import template_save
from tenants.errors import ValidationFailed

from .book import make_book

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@feasible.example", "firm_admin")


@pytest.fixture
def book(firm_a):
    with tenant_context(firm_a):
        yield make_book(1)


@pytest.mark.parametrize(("parameters", "overridable", "household", "words"), [
    ({"cash": {"target": 0.01}}, {"cash.target": {"min": 0.05, "max": 0.1}}, None,
     "the template's own “Cash: target” is 1%, outside the range households and accounts may override it within "
     "(from 5% to 10%)"),
    ({}, {"trading.min_trade_value": {"min": 1000}}, None,
     "the template's own “Trading: minimum trade” is $0, outside the range households and accounts may override "
     "it within (at least $1,000)"),
    ({"trading": {"lot_selection": "fifo"}}, {"trading.lot_selection": {"choices": ["tax_optimal"]}}, None,
     "the template's own “Trading: lot selection” is 'fifo', not one of the choices"),
    ({}, {"household.tax_budget": {"max": 1000}}, {"tax_budget": 5000},
     "the template's own “Household: tax budget” is $5,000, outside the range"),
], ids=["percent", "money", "choices", "household"])
def test_an_override_range_without_the_templates_own_value_is_refused(firm_a, book, admin, parameters, overridable,
                                                                     household, words):
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed) as refused:
            template_save(user=admin, code="t-range", name="Range", parameters=parameters, overridable=overridable,
                          household_parameters=household)
        assert not ParameterTemplate.objects.filter(code="t-range").exists()
    assert words in refused.value.message and refused.value.message.startswith("Template refused: ")
    assert refused.value.detail["field"] == "overridable"


def test_removing_every_asset_class_of_the_firm_is_refused_but_some_are_allowed(firm_a, book, admin):
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed, match="removes every asset class of the firm "
                                                   r"\(bonds, real_estate, us_equity\)"):
            template_save(user=admin, code="t-none", name="None", overridable={},
                          parameters={"removed_asset_classes": ["us_equity", "bonds", "real_estate"]})
        kept = template_save(user=admin, code="t-some", name="Some", overridable={},
                             parameters={"removed_asset_classes": ["real_estate"]})
    assert kept.pk and kept.warnings == []


def test_a_100_percent_cash_target_is_saved_with_a_warning(firm_a, book, admin):
    with tenant_context(firm_a):
        saved = template_save(user=admin, code="t-cash", name="All cash", overridable={},
                              parameters={"cash": {"target": 1.0}, "trading": {"min_trade_value": 5000}})
    assert saved.pk and len(saved.warnings) == 1
    assert saved.warnings[0].startswith("“Cash: target” is 100%: every account it governs will sell every security")


def test_the_api_creates_and_changes_templates_under_the_same_rules(firm_a, book, admin, client_for):
    client = client_for(firm_a, admin)
    created = client.post(f"{API}/templates/", {"code": "t-api", "name": "API", "parameters": {"cash": {"target": 0.01}},
                                                "overridable": {"cash.target": {"min": 0.05, "max": 0.1}}},
                          content_type="application/json")
    changed = client.put(f"{API}/templates/{book['template'].pk}/",
                         {"name": "Standard", "description": "", "household_parameters": {},
                          "parameters": {"removed_asset_classes": ["us_equity", "bonds", "real_estate"]},
                          "overridable": {}}, content_type="application/json")

    assert created.status_code == 400, created.content
    assert "outside the range households and accounts may override it within" in created.json()["message"]
    assert changed.status_code == 400, changed.content
    assert changed.json()["detail"]["parameter"] == "removed_asset_classes"
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="t-api").exists()
        book["template"].refresh_from_db()
        assert "removed_asset_classes" not in book["template"].parameters
