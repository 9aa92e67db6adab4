"""The model and template pages refuse settings that contradict each other as the service does (the
API calls the same services): said above the form, beside the setting it names, nothing saved."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, Sleeve

from ..rebalancing.book import make_model

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_holding_a_model_that_holds_this_one_is_refused_on_the_page_naming_the_loop(book, as_user, firm_a):
    # Given Moderate, which holds the book's model (Balanced) as its equity sleeve
    with tenant_context(firm_a):
        moderate = make_model("moderate", sleeves=(("bonds", "0.45", {"BND": "1"}),))
        moderate.name = "Moderate 55/45"
        moderate.save()
        Sleeve.objects.create(version=moderate.current_version, asset_class="core", weight="0.55",
                              kind=Sleeve.Kind.SUBMODEL, submodel=book["model"])
        before = ModelVersion.objects.count()
    model = book["model"]

    # When Balanced's real-estate sleeve is set to be held as Moderate
    page = as_user("admin").post(f"/models/{model.pk}/", {
        "rows": "3", "note": "",
        "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
        "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
        "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "submodel", "s2-submodel": "moderate"})

    # Then the page says which models loop, and no version is saved
    assert page.status_code == 400
    assert "model Balanced contains itself (Balanced → Moderate 55/45 → Balanced)" in text(page)
    with tenant_context(firm_a):
        assert ModelVersion.objects.count() == before
        assert ModelPortfolio.objects.get(pk=model.pk).current_version.number == 1


def test_a_template_direct_indexing_a_sleeve_it_removes_is_refused_beside_the_removal(book, as_user, firm_a):
    template = book["template"]
    with tenant_context(firm_a):
        template.refresh_from_db()
        before = template.parameters

    page = as_user("admin").post(f"/templates/{template.pk}/", {
        "name": template.name, "p__removed_asset_classes__present": "1", "p__removed_asset_classes": "us_equity",
        "p__direct_index__present": "1", "p__direct_index__sleeve": ["us_equity", ""],
        "p__direct_index__max_names": ["", ""], "p__direct_index__min_weight": ["", ""]})

    assert page.status_code == 400
    says = "settings “Direct indexing” and “Removed asset classes” both name us_equity"
    assert re.search(rf'<div class="error" id="err_p__removed_asset_classes" role="alert">[^<]*{says}', text(page))
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.parameters == before


def test_the_account_page_says_what_to_change_for_a_loop_already_in_the_data_not_to_import_a_price(
        book, as_user, firm_a):
    # Given the book's model and another holding each other (data from before the save refused it)
    with tenant_context(firm_a):
        other = make_model("other")
        for holder, held in ((book["model"], other), (other, book["model"])):
            Sleeve.objects.create(version=holder.current_version, asset_class="loop", weight="0.1",
                                  kind=Sleeve.Kind.SUBMODEL, submodel=held)
        account = book["accounts"][0]

    page = text(as_user("pm").get(f"/accounts/{account.pk}/"))

    assert ("This account cannot be rebalanced right now:</strong> model Balanced contains itself (Balanced → Other → "
            "Balanced)") in page
    assert "Change the models as it says, and the next run picks the account up." in page
    assert "missing price" not in page
