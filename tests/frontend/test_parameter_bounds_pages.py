"""The template form: a setting out of its range, or a cash floor above the cash target, is refused by
the engine's rule (one home) and said beside the setting it names, the values typed kept."""

import re

import pytest
from django_tenants.utils import tenant_context

pytestmark = pytest.mark.django_db


def _unchanged(firm, template, before):
    with tenant_context(firm):
        template.refresh_from_db()
        assert (template.parameters, template.overridable) == before


@pytest.mark.parametrize(("form", "field", "says"), [
    ({"p__cash__target": "1", "p__cash__floor": "5"}, "p__cash__floor",
     "setting “Cash: floor” (5% = 0.05) must not be above “Cash: target” (1% = 0.01)"),
    ({"p__screen__enabled": "yes", "p__screen__min_esg_score": "-5"}, "p__screen__min_esg_score",
     "must be at least 0"),
])
def test_a_setting_the_engine_refuses_is_named_beside_it_and_nothing_saved(book, as_user, firm_a, form, field, says):
    template = book["template"]
    with tenant_context(firm_a):
        template.refresh_from_db()
        before = (template.parameters, template.overridable)

    page = as_user("admin").post(f"/templates/{template.pk}/", {**form, "name": template.name})

    assert page.status_code == 400
    html = page.content.decode().replace("&#x27;", "'")
    error = re.search(rf'<div class="error" id="err_{field}" role="alert">([^<]*)</div>', html)
    assert error and says in error.group(1)
    for name, typed in form.items():
        if name.startswith("p__") and not name.endswith("enabled"):
            assert re.search(rf'name="{name}" id="id_{name}" value="{re.escape(typed)}"', html)
    _unchanged(firm_a, template, before)


def test_an_account_floor_above_its_templates_target_is_named_beside_the_floor(book, as_user, firm_a):
    # Given an account whose template lets it set its floor (the template's target: 1%)
    from rebalancing.models import Account

    template = book["template"]
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, "cash.floor": {"min": 0, "max": 0.5}}
        template.save()
        account = Account.objects.governed_by(template).order_by("pk").first()
        before = account.overrides

    page = as_user("admin").post(f"/accounts/{account.pk}/", {"p__cash__floor": "3"})

    assert page.status_code == 400
    html = page.content.decode()
    assert re.search(r'<div class="error" id="err_p__cash__floor" role="alert">[^<]*“Cash: floor” \(3% = 0.03\) must not '
                     r"be above “Cash: target” \(1% = 0.01\)", html)
    assert 'name="p__cash__floor" id="id_p__cash__floor" value="3"' in html
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert account.overrides == before


@pytest.mark.parametrize(("typed", "says"), [
    ("lots", "The tax budget must be a number, not “lots”."),  # before: a 400 error page
    ("-5", "The tax budget must be an amount of at least 0, not -$5"),
])
def test_a_templates_household_tax_budget_refused_comes_back_as_typed_beside_its_field(book, as_user, firm_a,
                                                                                      typed, says):
    template = book["template"]
    with tenant_context(firm_a):
        template.refresh_from_db()
        before = template.household_parameters
    admin = as_user("admin")

    answer = admin.post(f"/templates/{template.pk}/household/", {"tax_budget": typed, "inside_bands": "cash_flows"})

    assert answer.status_code == 302
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.household_parameters == before
    html = admin.get(f"/templates/{template.pk}/").content.decode()
    assert f'name="tax_budget" inputmode="decimal" value="{typed}" placeholder="no budget" aria-invalid="true"' in html
    assert f'<div class="error" id="th-budget-error" role="alert">{says}</div>' in html
    assert '<option value="cash_flows" selected>' in html
