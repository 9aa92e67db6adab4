"""QA round (demo): a template's household settings are rows of its override table, in words, and
are ticked, limited and saved like the rest; the household block names them in the same words."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

from .test_firm_admin_pages import _template_form

pytestmark = pytest.mark.django_db

HOUSEHOLD = {"household.tax_budget": {"min": 0, "max": 250000}, "household.location": {},
             "household.inside_bands": {"choices": ["tax_free", "cash_flows"]}}


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_the_household_settings_a_template_lets_change_are_shown_in_words_and_saved(firm_a, book, as_user):
    # given a template whose stored overridable list names the three household settings
    template = book["template"]
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, **HOUSEHOLD}
        template.save()
    client = as_user("admin")
    url = f"/templates/{template.pk}/"

    # when the firm admin opens its page
    response = client.get(url)
    page = text(response)

    # then the override table has a ticked row for each, in words, and no raw name is shown
    table = page[page.index('data-testid="override-limits"'):]
    table = table[:table.index("</table>")]
    for words in ("Household · Tax budget ($)", "Household · Asset location", "Household · Trades inside the bands"):
        assert words in table, words
    assert "household.tax_budget" not in page and "household.location" not in page
    assert "household.inside_bands" not in page
    sentence = page[page.index('data-testid="household-changeable"'):]
    assert "here its tax budget, asset location and trades inside the bands." in sentence[:400]
    form = _template_form(response)
    assert form["ov__p__household__tax_budget"] == ["yes"] and form["ov_max__p__household__tax_budget"] == ["250000"]
    assert form["ov__p__household__location"] == ["yes"]
    assert form["ov_choices__p__household__inside_bands"] == ["tax_free", "cash_flows"]

    # when the admin unticks the asset location, lowers the budget's limit and allows one way inside the bands
    form.pop("ov__p__household__location")
    form.update({"ov_max__p__household__tax_budget": ["$50,000"], "ov_choices__p__household__inside_bands": ["tax_free"]})
    assert client.post(url, form).status_code == 302

    # then the template's overridable list says so, through the same save as the other limits
    with tenant_context(firm_a):
        saved = ParameterTemplate.objects.get(pk=template.pk).overridable
    assert "household.location" not in saved
    assert saved["household.tax_budget"] == {"min": 0, "max": 50000}
    assert saved["household.inside_bands"] == {"choices": ["tax_free"]}
    assert saved["cash.target"] == {"min": 0, "max": 0.05}  # the others kept
    again = text(client.get(url))
    assert "here its tax budget and trades inside the bands." in again


def test_a_household_limit_out_of_range_is_named_and_nothing_is_saved(firm_a, book, as_user):
    template = book["template"]
    with tenant_context(firm_a):
        before = ParameterTemplate.objects.get(pk=template.pk).overridable
    client = as_user("admin")
    url = f"/templates/{template.pk}/"
    form = {**_template_form(client.get(url)), "ov__p__household__tax_budget": ["yes"],
            "ov_max__p__household__tax_budget": ["1e16"]}

    refused = client.post(url, form)

    assert refused.status_code == 400 and "Tax budget, maximum: at most $1 quadrillion" in text(refused)
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).overridable == before


def test_a_template_no_household_setting_may_change_says_so(firm_a, book, as_user):
    page = text(as_user("admin").get(f"/templates/{book['template'].pk}/"))
    assert "here none of them." in page and "household.tax_budget" not in page
