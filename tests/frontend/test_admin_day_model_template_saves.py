"""A firm admin's day on the model and template pages: a model saved as it is makes no version and
supersedes nothing; a sleeve's asset class is one of the firm's; codes differing only in capitals
are refused; the template list names restrictions and trading limits; a per-run gain cap above the
per-year one and an empty name are refused; and the words of a few refusals."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, ParameterTemplate, Proposal, Sleeve
from tenants.audit.models import AuditEvent

from .test_firm_admin_pages import _template_form

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _form(**changes) -> dict:
    """The book's 60/30/10 model as its page's form holds it, with ``changes``."""
    return {"rows": "3", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100",
            **changes}


def _pending(firm_a) -> int:
    with tenant_context(firm_a):
        return Proposal.objects.filter(status=Proposal.Status.PENDING).count()


# --- 1. a model saved as it is -------------------------------------------------------------------

def test_a_model_saved_as_it_is_makes_no_version_and_supersedes_nothing(book, as_user, firm_a):
    # Given the model's page, with proposals of its accounts waiting for their advisors
    client, model = as_user("admin"), book["model"]
    pending = _pending(firm_a)
    assert pending == 4

    # When the admin saves the form as the page shows it (its rows, in another order, with a note)
    page = client.get(f"/models/{model.pk}/")
    assert 'name="s0-holdings" value="VTI 80, XLE 20"' in page.content.decode()
    saved = client.post(f"/models/{model.pk}/", _form(**{
        "s0-asset_class": "bonds", "s0-weight": "30", "s0-holdings": "BND 100",
        "s1-asset_class": "us_equity", "s1-weight": "60.0", "s1-holdings": "XLE 20, VTI 80", "note": "no change"}),
        follow=True)

    # Then nothing is written: no version, no audit record, no proposal superseded; and it says so
    assert saved.status_code == 200
    assert "Nothing changed: the sleeves are those of version 1 of Balanced, so no new version was saved" in text(saved)
    assert "Version 2" not in text(saved)
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 1
        assert not AuditEvent.objects.filter(action__in=["model.version", "proposal.supersede"]).exists()
    assert _pending(firm_a) == pending


def test_a_model_really_changed_still_makes_a_version_and_supersedes_with_the_sleeves_before_audited(
        book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]

    saved = client.post(f"/models/{model.pk}/", _form(**{"s0-holdings": "VTI 70, XLE 30", "note": "more energy"}),
                        follow=True)

    assert "Version 2 of Balanced saved" in text(saved)
    assert _pending(firm_a) == 0
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 2
        record = AuditEvent.objects.get(action="model.version")
    # before: the previous version's sleeves, not only its number
    assert record.before == {"version": 1, "sleeves": [
        ["us_equity", "0.6", {"VTI": "0.8", "XLE": "0.2"}], ["bonds", "0.3", {"BND": "1"}],
        ["real_estate", "0.1", {"VNQ": "1"}]]}
    assert record.after["version"] == 2
    assert record.after["sleeves"][0] == ["us_equity", "0.6", {"VTI": "0.7", "XLE": "0.3"}]


def test_a_template_saved_as_it_is_says_nothing_changed(book, as_user, firm_a):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"

    first = client.post(url, _template_form(client.get(url)), follow=True)  # (stores what the page shows)
    assert "Template “Standard” saved." in text(first)
    with tenant_context(firm_a):
        changes = AuditEvent.objects.filter(action="template.change").count()

    again = client.post(url, _template_form(client.get(url)), follow=True)

    assert "Nothing changed: template “Standard” is kept as it was." in text(again)
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="template.change").count() == changes


# --- 2. a sleeve's asset class -------------------------------------------------------------------

def test_an_asset_class_the_firm_does_not_have_is_refused_naming_it(book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]

    refused = client.post(f"/models/{model.pk}/", _form(**{"s1-asset_class": "US bonds"}))
    created = client.post("/models/new/", {**_form(**{"s2-asset_class": "Real estate"}), "code": "typed",
                                           "name": "Typed"})

    assert refused.status_code == 400
    assert "unknown asset class “US bonds”" in text(refused)
    assert "the firm's asset classes are bonds, real_estate, us_equity" in text(refused)
    # the words the models list shows lead to the code
    assert created.status_code == 400 and "unknown asset class “Real estate” (did you mean real_estate?)" in text(created)
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 1
        assert not ModelPortfolio.objects.filter(code="typed").exists()
        assert not Sleeve.objects.filter(asset_class__in=["US bonds", "Real estate"]).exists()


def test_the_model_form_offers_the_firms_asset_classes_by_their_readable_names(book, as_user):
    page = as_user("admin").get(f"/models/{book['model'].pk}/").content.decode()

    assert 'list="asset-classes"' in page
    datalist = page[page.index('<datalist id="asset-classes">'):]
    datalist = datalist[:datalist.index("</datalist>")]
    assert '<option value="us_equity" label="US equity"></option>' in datalist
    assert '<option value="real_estate" label="Real estate"></option>' in datalist


# --- 3. codes differing only in capitals -----------------------------------------------------------

def test_a_model_code_differing_only_in_capitals_is_refused_naming_the_existing_one(book, as_user, firm_a):
    form = {**_form(), "code": "Balanced", "name": "Balanced again"}

    refused = as_user("admin").post("/models/new/", form)

    assert refused.status_code == 400
    assert ("The model code “Balanced” differs only in capitals from the code “balanced” of the model “Balanced”"
            in text(refused))
    with tenant_context(firm_a):
        assert ModelPortfolio.objects.filter(code__iexact="balanced").count() == 1


def test_a_template_code_differing_only_in_capitals_is_refused_naming_the_existing_one(book, as_user, firm_a):
    client = as_user("admin")
    form = {**_template_form(client.get("/templates/new/")), "code": ["Standard"], "name": ["Standard again"]}

    refused = client.post("/templates/new/", form)

    assert refused.status_code == 400
    assert ("The template code “Standard” differs only in capitals from the code “standard” of the template "
            "“Standard”" in text(refused))
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.filter(code__iexact="standard").count() == 1


# --- 4. the template list ---------------------------------------------------------------------------

def test_the_template_list_names_restrictions_and_trading_limits(book, as_user, firm_a):
    with tenant_context(firm_a):
        ParameterTemplate.objects.create(code="limits", name="Limits", parameters={
            "restrictions": {"do_not_buy": ["XLE"], "hold": ["VNQ", "BND", "AGG", "VTI"]},
            "trading": {"max_turnover": 0.2, "min_trade_value": 500.0, "whole_shares": False}})

    page = text(as_user("admin").get("/templates/"))

    row = page[page.index(">Limits</a>"):]
    row = row[:row.index("</tr>")]
    for words in ("Do not buy: XLE", "Hold (neither buy nor sell): VNQ, BND, AGG and 1 more", "Turnover cap 20%",
                  "Minimum trade $500", "Whole shares only: no"):
        assert f'<span class="badge reason">{words}</span>' in row, words
    assert "the engine's defaults" not in row


# --- 5. contradictory caps, an empty name ---------------------------------------------------------

def test_a_per_run_gain_cap_above_the_per_year_one_is_refused_naming_both(book, as_user, firm_a):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    with tenant_context(firm_a):
        before = ParameterTemplate.objects.get(pk=template.pk).parameters
    form = {**_template_form(client.get(url)), "p__transition__enabled": ["yes"],
            "p__transition__max_net_gain_per_run": ["$50,000"], "p__transition__max_net_gain_per_year": ["$10,000"]}

    refused = client.post(url, form)

    assert refused.status_code == 400
    assert ("Template parameters: setting “Tax-sensitive transitioning: net gain allowed per run” ($50,000) is "
            "above “Tax-sensitive transitioning: net gain allowed per year” ($10,000)") in text(refused)
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).parameters == before


def test_a_templates_name_cleared_is_refused_not_kept_silently(book, as_user, firm_a):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    form = {**_template_form(client.get(url)), "name": ["  "]}

    refused = client.post(url, form)

    assert refused.status_code == 400
    assert "Give the template a name: it cannot be empty." in text(refused)
    assert "Template “Standard” saved" not in text(refused) and "Template “” saved" not in text(refused)
    assert 'id="t-name" name="name" value="  "' in refused.content.decode()  # shown as typed, not the old name
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).name == "Standard"


# --- 6. words -------------------------------------------------------------------------------------------

def test_a_negative_holding_weight_is_said_to_be_negative(book, as_user):
    refused = as_user("admin").post(f"/models/{book['model'].pk}/", _form(**{"s0-holdings": "VTI 110, ITOT -10"}))

    assert refused.status_code == 400
    assert "sleeve us_equity: the weight of ITOT (-10%) is negative: a model holds, it does not short" in text(refused)
    assert "write holdings as" not in text(refused)


def test_the_preview_headline_has_no_space_before_its_semicolon(book, as_user):
    preview = as_user("admin").post(f"/models/{book['model'].pk}/preview/", _form(**{"s0-holdings": "VTI 100"}))

    headline = text(preview)
    assert re.search(r"of 4 sampled accounts would trade differently</strong>; estimated tax", headline), headline
    assert " ;" not in headline


def test_the_tax_budget_banner_is_a_sentence_like_the_fields_error(book, as_user):
    template, admin = book["template"], as_user("admin")

    admin.post(f"/templates/{template.pk}/household/", {"tax_budget": "-5", "inside_bands": "cash_flows"})

    page = admin.get(f"/templates/{template.pk}/").content.decode()
    says = "The tax budget must be an amount of at least 0, not -$5"
    assert f'<li class="error">{says}</li>' in page
    assert f'<div class="error" id="th-budget-error" role="alert">{says}</div>' in page
