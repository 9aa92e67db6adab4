"""A values screen that excludes every holding of a model's sleeve is refused where it is set - a
template's change, an assignment of accounts or households - naming the model, the sleeve and why,
rather than failing every run of the accounts; a screen that leaves a holding, or a sleeve the
parameters remove, is accepted. Nothing is written on a refusal."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, ParameterTemplate
from rebalancing.services.assignments import accounts_assign, households_template_assign
from rebalancing.services.book import template_save
from rebalancing.services.screen_checks import sleeves_emptied_by_screen
from tenants.errors import ValidationFailed

from .book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db

NO_BONDS = {"screen": {"enabled": True, "excluded_symbols": ["BND"]}}


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@screens.example", "firm_admin")


@pytest.fixture
def firm(firm_a):
    with tenant_context(firm_a):
        make_securities()
        yield {"model": make_model()}


def test_a_screen_emptying_a_sleeve_is_named_with_the_model_and_why(firm):
    model = firm["model"]
    assert sleeves_emptied_by_screen(NO_BONDS, [model.pk]) == [("balanced", "bonds", "BND (symbol BND)")]
    assert sleeves_emptied_by_screen({"screen": {"enabled": True, "excluded_symbols": ["VTI", "BND"]}}, [model.pk]) == [
        ("balanced", "bonds", "BND (symbol BND)"), ("balanced", "us_equity", "VTI (symbol VTI)")]
    assert sleeves_emptied_by_screen({**NO_BONDS, "removed_asset_classes": ["bonds"]}, [model.pk]) == []
    assert sleeves_emptied_by_screen({"screen": {"enabled": False, "excluded_symbols": ["BND"]}}, [model.pk]) == []
    assert sleeves_emptied_by_screen({"screen": {"enabled": True, "excluded_symbols": ["AGG"]}}, [model.pk]) == []


def test_a_sleeve_with_one_allowed_holding_left_is_not_emptied(firm):
    two = make_model("two_bonds", sleeves=(("us_equity", "0.6", {"VTI": "1"}), ("bonds", "0.4", {"BND": "0.5", "AGG": "0.5"})))
    assert sleeves_emptied_by_screen(NO_BONDS, [two.pk]) == []


def test_assigning_accounts_to_a_template_whose_screen_empties_their_models_sleeve_is_refused(firm, admin):
    account = make_account("SCR-1", model=firm["model"])
    screened = make_template("no_bonds", parameters=NO_BONDS)

    with pytest.raises(ValidationFailed) as refused:
        accounts_assign(accounts=Account.objects.filter(pk=account.pk), template=screened, by=admin)

    assert refused.value.code == "screen_empties_sleeve"
    assert ("The assignment under template “No_Bonds” is refused: its screen excludes every holding of sleeve bonds of "
            "model balanced - BND (symbol BND) - so no account holding that model could be rebalanced") in refused.value.message
    assert Account.objects.get(pk=account.pk).template_id is None


def test_the_refusal_names_the_accounts_whose_model_the_screen_empties(firm, admin):
    """An integrator assigning hundreds of accounts learns which ones the screen would strand: those
    managed to the emptied model, not the others of the selection."""
    emptied = make_account("SCR-6", model=firm["model"])
    kept = make_account("SCR-5", model=make_model("two_bonds", sleeves=(
        ("us_equity", "0.6", {"VTI": "1"}), ("bonds", "0.4", {"BND": "0.5", "AGG": "0.5"}))))
    also = make_account("SCR-7", model=firm["model"])
    screened = make_template("no_bonds", parameters=NO_BONDS)

    with pytest.raises(ValidationFailed) as refused:
        accounts_assign(accounts=Account.objects.filter(pk__in=[emptied.pk, kept.pk, also.pk]), template=screened,
                        by=admin)

    assert refused.value.detail["accounts"] == ["SCR-6", "SCR-7"]
    assert refused.value.detail["sleeves"] == [{"model": "balanced", "sleeve": "bonds"}]

    template = make_template("standard")
    Account.objects.filter(pk__in=[emptied.pk, kept.pk]).update(template=template)
    with pytest.raises(ValidationFailed) as refused:
        template_save(user=admin, code="standard", name="Standard", parameters=NO_BONDS,
                      overridable=template.overridable, template=template)
    assert refused.value.detail["accounts"] == ["SCR-6"]

    with pytest.raises(ValidationFailed) as refused:
        households_template_assign(households=type(also.household).objects.filter(pk=also.household_id),
                                   template=screened, by=admin)
    assert refused.value.detail["accounts"] == ["SCR-7"]


def test_assigning_a_model_whose_sleeve_the_accounts_template_empties_is_refused(firm, admin):
    screened = make_template("no_bonds", parameters=NO_BONDS)
    account = make_account("SCR-2", model=None)
    Account.objects.filter(pk=account.pk).update(template=screened)

    with pytest.raises(ValidationFailed, match="sleeve bonds of model balanced"):
        accounts_assign(accounts=Account.objects.filter(pk=account.pk), model=firm["model"], by=admin)

    assert Account.objects.get(pk=account.pk).model_id is None


def test_a_households_template_is_refused_for_its_accounts_models_too(firm, admin):
    account = make_account("SCR-3", model=firm["model"])
    screened = make_template("no_bonds", parameters=NO_BONDS)

    with pytest.raises(ValidationFailed, match="The assignment of template “No_Bonds” is refused"):
        households_template_assign(households=type(account.household).objects.filter(pk=account.household_id),
                                   template=screened, by=admin)

    account.household.refresh_from_db()
    assert account.household.template_id is None


def test_changing_a_template_so_its_screen_empties_a_governed_accounts_sleeve_is_refused(firm, admin):
    template = make_template("standard")
    account = make_account("SCR-4", model=firm["model"])
    Account.objects.filter(pk=account.pk).update(template=template)

    with pytest.raises(ValidationFailed, match="The template's change is refused: its screen excludes every holding of "
                                               "sleeve bonds of model balanced"):
        template_save(user=admin, code="standard", name="Standard", parameters=NO_BONDS,
                      overridable=template.overridable, template=template)

    assert ParameterTemplate.objects.get(pk=template.pk).parameters == template.parameters
    # ... and a screen that leaves each sleeve a holding is saved
    template_save(user=admin, code="standard", name="Standard", parameters={"screen": {"enabled": True,
                  "excluded_symbols": ["AGG"]}}, overridable=template.overridable, template=template)
    assert ParameterTemplate.objects.get(pk=template.pk).parameters["screen"]["excluded_symbols"] == ["AGG"]
