"""The household page's forms refused: what was typed comes back in the form, the error is said next
to the field it names, and nothing is written. (Before, each came back as stored, the typing lost.)"""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, HouseholdProposal
from tenants.audit.models import AuditEvent

from . import test_household_pages as household_pages

_url = household_pages._url
lees = household_pages.lees  # the Lee household's fixture, with its pending household proposal

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _select(page: str, name: str) -> str:
    return re.search(rf'<select id="[^"]*" name="{re.escape(name)}"[^>]*>.*?</select>', page).group(0)


def test_a_refused_management_form_keeps_the_choices_and_names_the_model_by_its_select(lees, as_user, firm_a):
    # Given a household managed as one, to its model and template
    admin = as_user("admin")
    household = lees["household"]

    # When a firm admin takes its model away (a household managed as one needs one) and its template
    answer = admin.post(_url(household, "management/"), {"managed_as": "household", "model": "", "template": ""})

    # Then nothing changes...
    assert answer.status_code == 302
    with tenant_context(firm_a):
        stored = Household.objects.get(pk=household.pk)
        assert (stored.model_id, stored.template_id) == (lees["model"].pk, lees["template"].pk)
    # ...and the form comes back as chosen (no model, no template), the refusal under the model's select
    page = text(admin.get(_url(household)))
    assert f'value="{lees["model"].pk}" selected' not in _select(page, "model")
    assert f'value="{lees["template"].pk}" selected' not in _select(page, "template")
    assert 'name="model" aria-invalid="true"' in page
    assert re.search(r'name="model".*?</select> <div class="error" id="g-error" role="alert">A household managed as '
                     r"one needs its model.</div>", page)
    # once: the next visit shows what is stored
    assert f'value="{lees["model"].pk}" selected' in _select(text(admin.get(_url(household))), "model")


def test_a_management_form_naming_no_number_is_refused_on_the_page_not_an_error_page(lees, as_user):
    answer = as_user("admin").post(_url(lees["household"], "management/"),
                                   {"managed_as": "household", "model": "abc", "template": ""}, follow=True)

    assert answer.status_code == 200 and "Choose a model from the list: “abc” is not the number of one." in text(answer)


def test_a_refused_advisors_form_keeps_the_ticks_and_says_why_by_them(lees, as_user, firm_a, people):
    # Given the Lees advised by one advisor; a firm admin ticks the colleague and someone who is no advisor
    admin = as_user("admin")
    household = lees["household"]

    answer = admin.post(_url(household, "advisors/"), {"advisors": [people["colleague"].pk, people["pm"].pk]})

    # Then the advisors stay as they were...
    assert answer.status_code == 302
    with tenant_context(firm_a):
        assert [u.pk for u in Household.objects.get(pk=household.pk).advisors] == [people["advisor"].pk]
        assert not AuditEvent.objects.filter(action="household.advisors").exists()
    # ...and the ticks come back as made, with the refusal inside the advisors' box
    page = text(admin.get(_url(household)))
    assert f'name="advisors" value="{people["colleague"].pk}" checked' in page
    assert f'name="advisors" value="{people["advisor"].pk}" >' in page
    assert re.search(r'<div class="error" role="alert">Choose advisors from the list[^<]*</div> </fieldset>', page)


def test_a_refused_settings_form_keeps_every_value_typed_and_names_the_budget_by_its_field(lees, as_user, firm_a):
    advisor = as_user("advisor")
    household, roth = lees["household"], lees["roth"]
    with tenant_context(firm_a):
        before = Household.objects.get(pk=household.pk).household_overrides

    # When the tax budget is not a number, beside a location and a class typed
    answer = advisor.post(_url(household, "settings/"), {
        "tax_budget": "lots", "inside_bands": "cash_flows", "location_class": ["bonds"],
        "location:bonds": ["roth", "traditional", ""], f"classes_shown:{roth.pk}": "1", f"classes:{roth.pk}": ["bonds"]})

    # Then nothing is saved...
    assert answer.status_code == 302
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).household_overrides == before
        assert Account.objects.get(pk=roth.pk).asset_classes != ["bonds"]
    # ...and the form shows what was typed, the refusal by the budget
    page = text(advisor.get(_url(household)))
    assert re.search(r'name="tax_budget" inputmode="decimal" value="lots" aria-invalid="true" '
                     r'aria-describedby="s-budget-error"', page)
    assert '<div class="error" id="s-budget-error" role="alert">The tax budget must be a number, not “lots”.</div>' in page
    assert '<option value="cash_flows" selected>' in page
    location = re.findall(r'<select id="loc-\d+-\d+" name="location:bonds">.*?</select>', page)
    assert ['<option value="roth" selected>' in s for s in location][:2] == [True, False]
    assert '<option value="traditional" selected>' in location[1]
    assert f'name="classes:{roth.pk}" value="bonds" checked' in page


def test_a_settings_form_over_the_templates_limit_keeps_the_amount_typed(lees, as_user):
    advisor = as_user("advisor")

    advisor.post(_url(lees["household"], "settings/"), {"tax_budget": "90000"})

    page = text(advisor.get(_url(lees["household"])))
    assert 'name="tax_budget" inputmode="decimal" value="90000"' in page
    assert "household.tax_budget = $90,000 is above the template" in page


def test_a_refused_household_proposal_edit_keeps_its_rows_and_drops(lees, as_user, firm_a):
    old = lees["proposal"]
    with tenant_context(firm_a):
        dropped = old.proposals.get(account=lees["ira"]).result["trades"][0]["symbol"]
    advisor = as_user("advisor")

    # When an instruction's amount is not a number of dollars
    answer = advisor.post(_url(lees["household"], f"proposals/{old.pk}/resolve/"), {
        "drop": [f"LEE-IRA:{dropped}"],
        "ins_account": ["LEE-JT", ""], "ins_action": ["raise_cash", ""], "ins_symbol": ["", ""],
        "ins_buy": ["", ""], "ins_amount": ["five grand", ""]})

    # Then nothing is solved again...
    assert answer.status_code == 302
    with tenant_context(firm_a):
        assert not HouseholdProposal.objects.filter(revised_from=old).exists()
    # ...and the rows and the drop come back as entered, the refusal under them
    page = text(advisor.get(_url(lees["household"])))
    assert f'value="LEE-IRA:{dropped}" checked' in page
    assert '<option value="LEE-JT" selected>' in _select(page, "ins_account")
    assert '<option value="raise_cash" selected>' in _select(page, "ins_action")
    assert 'name="ins_amount" inputmode="decimal" placeholder="e.g. 5,000" value="five grand"' in page
    assert re.search(r"<div class=\"error\" role=\"alert\">The amount of instruction 1 must be a number, not “five grand”."
                     r"</div>", page)


def test_a_tax_budget_in_arabic_indic_digits_is_refused_by_its_field_not_read_as_3000(lees, as_user, firm_a):
    # Decimal("٣٠٠٠") is 3000: before, the budget was saved as $3,000 from digits nobody checked
    advisor = as_user("advisor")
    with tenant_context(firm_a):
        before = Household.objects.get(pk=lees["household"].pk).household_overrides

    advisor.post(_url(lees["household"], "settings/"), {"tax_budget": "٣٠٠٠"})

    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).household_overrides == before
    page = text(advisor.get(_url(lees["household"])))
    assert 'value="٣٠٠٠" aria-invalid="true"' in page and "“٣” (U+0663) is a digit outside 0-9" in page


def test_refused_rmd_facts_come_back_as_typed_in_that_iras_form_with_the_field_marked(lees, as_user, firm_a):
    from django.utils import timezone

    advisor, year = as_user("advisor"), timezone.localdate().year

    # When the 31 December value is not a number, beside a date of birth and a name typed
    advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_name": "Ann Lee", "owner_birth_date": "1950-06-01",
        "year_end_value": "lots", "year_end_year": str(year - 1)})

    # Then nothing is saved, and the IRA's form is open with what was typed and the value marked
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["ira"].pk).owner_birth_date is None
    page = text(advisor.get(_url(lees["household"])))
    form = re.search(r"<details open><summary>What LEE-IRA's RMD is computed from</summary>.*?</form>", page).group(0)
    assert 'name="owner_name" maxlength="200" value="Ann Lee"' in form
    assert 'name="owner_birth_date" value="1950-06-01"' in form
    assert 'name="year_end_value" inputmode="decimal" value="lots"' in form and 'aria-invalid="true"' in form
    assert '<div class="error" role="alert">The 31 December value must be a number, not “lots”.</div>' in form
