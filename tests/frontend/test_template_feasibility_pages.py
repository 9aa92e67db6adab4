"""A firm admin's template page refuses settings no account could meet, saying why and naming the
settings; saves those allowed but almost surely not meant with a warning kept on the template's
page; never drops a typed override range without a word; says a refusal once."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

pytestmark = pytest.mark.django_db

NEW = {"code": "t-new", "name": "New one"}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _made() -> bool:
    return ParameterTemplate.objects.filter(code="t-new").exists()


def test_a_100_percent_cash_target_is_saved_with_a_warning_on_the_templates_page(book, as_user, firm_a):
    # A 100% target liquidates every account the template governs: allowed (a minimum trade does not
    # stop a position being closed), but almost surely not meant for a template.
    page = text(as_user("admin").post("/templates/new/", {**NEW, "p__cash__target": "100",
                                                          "p__trading__min_trade_value": "5000"}, follow=True))

    assert "Template “New one” created" in page
    assert "This template's settings are saved, but check them:" in page
    assert "“Cash: target” is 100%: every account it governs will sell every security" in page
    with tenant_context(firm_a):
        template = ParameterTemplate.objects.get(code="t-new")
    assert "“Cash: target” is 100%" in text(as_user("admin").get(f"/templates/{template.pk}/"))
    assert "but check them" not in text(as_user("admin").get(f"/templates/{book['template'].pk}/"))


def test_a_template_removing_every_asset_class_of_the_firm_is_refused(book, as_user, firm_a):
    form = {**NEW, "p__removed_asset_classes__present": "1",
            "p__removed_asset_classes": ["us_equity", "bonds", "real_estate"]}

    refused = as_user("admin").post("/templates/new/", form)

    page = text(refused)
    assert refused.status_code == 400
    assert "“Removed asset classes” removes every asset class of the firm (bonds, real_estate, us_equity): " \
           "every account it governed would sell everything it holds" in page
    with tenant_context(firm_a):
        assert not _made()


def test_an_override_range_without_the_templates_own_value_is_refused_naming_both(book, as_user, firm_a):
    form = {**NEW, "p__cash__target": "1", "ov__p__cash__target": "yes", "ov_min__p__cash__target": "5",
            "ov_max__p__cash__target": "10"}

    refused = as_user("admin").post("/templates/new/", form)

    assert refused.status_code == 400
    assert "the template&#x27;s own “Cash: target” is 1%, outside the range households and accounts may override " \
           "it within (from 5% to 10%)" in text(refused)
    with tenant_context(firm_a):
        assert not _made()


def test_an_override_range_typed_without_may_override_ticked_is_refused_not_dropped(book, as_user, firm_a):
    form = {**NEW, "ov_min__p__cash__target": "5", "ov_max__p__cash__target": "10"}

    refused = as_user("admin").post("/templates/new/", form)

    page = text(refused)
    assert refused.status_code == 400
    assert "Target: a range is typed but “may override” is not ticked; tick it to let households and accounts " \
           "change the setting within the range, or clear the range" in page
    assert 'name="ov_min__p__cash__target" value="5"' in page  # kept as typed
    with tenant_context(firm_a):
        assert not _made()


def test_unticking_a_stored_range_withdraws_the_permission(book, as_user, firm_a):
    # Given the standard template letting accounts set their cash target from 0% to 5%, as the page fills it in
    template = book["template"]
    form = {"name": template.name, "ov_min__p__cash__target": "0", "ov_max__p__cash__target": "5"}

    # When the firm admin unticks "may override" and saves
    page = text(as_user("admin").post(f"/templates/{template.pk}/", form, follow=True))

    # Then the range goes with the permission: nothing was typed
    assert "Template “Standard” saved" in page
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert "cash.target" not in template.overridable


def test_a_refusal_beside_a_setting_is_said_there_and_pointed_to_above_the_form(book, as_user):
    refused = as_user("admin").post("/templates/new/", {**NEW, "p__cash__target": "2", "p__cash__floor": "5"})

    page = text(refused)
    assert refused.status_code == 400
    assert page.count("must not be above “Cash: target”") == 1
    assert "The template was not saved: see “Cash: floor” below." in page
