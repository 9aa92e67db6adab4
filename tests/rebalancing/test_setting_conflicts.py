"""Settings that contradict each other are refused where they are saved, naming what conflicts, and
nothing is written - rather than saved, with every account on them failing at each run:
a model that contains itself through another (or nests deeper than a run flattens); a model's
change dropping a sleeve the accounts on it direct-index; a template removing every asset class
of its accounts' models, direct-indexing a sleeve it removes, or screening out a security its
restrictions hold."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, ModelPortfolio, ModelVersion, ParameterTemplate, Security, Sleeve
from rebalancing.selectors import ModelBook
from rebalancing.services.book import SleeveSpec, model_create, model_version_create, template_save
from tenants.errors import ValidationFailed

from .book import AS_OF, make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db

EQUITY = SleeveSpec("us_equity", Decimal("0.8"), {"VTI": Decimal(1)})
BONDS = SleeveSpec("bonds", Decimal("0.2"), {"BND": Decimal(1)})


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@conflicts.example", "firm_admin")


@pytest.fixture
def firm(firm_a):
    with tenant_context(firm_a):
        make_securities()
        yield


def _held_as(code: str, weight: str = "0.5", asset_class: str = "core") -> SleeveSpec:
    return SleeveSpec(asset_class, Decimal(weight), {}, kind=Sleeve.Kind.SUBMODEL, submodel=code)


def _versions() -> int:
    return ModelVersion.objects.count()


# --- 1. Models of models: a loop, a chain too deep ------------------------------------------------

def test_a_model_holding_a_model_that_holds_it_is_refused_naming_the_loop(firm, admin):
    # Given Growth, and Moderate holding Growth as a sleeve
    growth = model_create(user=admin, code="growth", name="Growth 80/20", sleeves=[EQUITY, BONDS])
    model_create(user=admin, code="moderate", name="Moderate 55/45",
                 sleeves=[_held_as("growth", "0.6"), SleeveSpec("bonds", Decimal("0.4"), {"BND": Decimal(1)})])
    before = _versions()

    # When Growth's equity sleeve is set to be held as Moderate
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=growth, sleeves=[_held_as("moderate", "0.8", "us_equity"), BONDS], user=admin)

    # Then it is refused naming the loop, and no version is written
    assert "The model was not saved: model Growth 80/20 contains itself " \
           "(Growth 80/20 → Moderate 55/45 → Growth 80/20)" in refused.value.message
    assert _versions() == before


def test_models_nesting_deeper_than_a_run_flattens_are_refused_new_or_changed(firm, admin):
    # Given a chain of nine models, each holding the next: eight levels, as deep as a run flattens
    model_create(user=admin, code="m9", name="M9", sleeves=[EQUITY, BONDS])
    for n in range(8, 0, -1):
        model_create(user=admin, code=f"m{n}", name=f"M{n}", sleeves=[_held_as(f"m{n + 1}", "1")])

    # Then a tenth model on top of it is refused...
    with pytest.raises(ValidationFailed, match=r"models nest more than 8 levels deep \(M0 → M1 → .* → M9\)"):
        model_create(user=admin, code="m0", name="M0", sleeves=[_held_as("m1", "1")])
    assert not ModelPortfolio.objects.filter(code="m0").exists()

    # ...and so is a change of the last one that puts another model under it (M1's chain grows)
    model_create(user=admin, code="leaf", name="Leaf", sleeves=[EQUITY, BONDS])
    before = _versions()
    with pytest.raises(ValidationFailed, match=r"more than 8 levels deep \(M1 → M2 → .* → M9 → Leaf\)"):
        model_version_create(model=ModelPortfolio.objects.get(code="m9"), sleeves=[_held_as("leaf", "1")], user=admin)
    assert _versions() == before


def test_a_run_names_a_loop_already_in_the_data_and_says_what_to_change(firm):
    # Given two models holding each other (data from before the save refused it)
    a, b = make_model("a_model"), make_model("b_model")
    for holder, held in ((a, b), (b, a)):
        Sleeve.objects.create(version=holder.current_version, asset_class="loop", weight=Decimal("0.1"),
                              kind=Sleeve.Kind.SUBMODEL, submodel=held)

    with pytest.raises(ValidationFailed) as failed:
        ModelBook({a.pk}, AS_OF).flat_sleeves(a.pk)

    assert failed.value.message == ("model A_Model contains itself (A_Model → B_Model → A_Model), so its accounts "
                                    "cannot be rebalanced: change one of these models so that it no longer holds "
                                    "the next")
    assert "price" not in failed.value.message
    assert failed.value.code == "model_nesting"


# --- 2a. A sleeve dropped that accounts direct-index ----------------------------------------------

def test_dropping_a_sleeve_a_template_direct_indexes_is_refused_naming_it_and_its_accounts(firm, admin):
    # Given a model whose accounts' template direct-indexes its US equity sleeve
    model = make_model()
    template = make_template("tax_managed", parameters={"direct_index": {"us_equity": {"max_names": 100}}})
    for n in (1, 2):
        make_account(f"DI-{n}", model=model, template=template)
    before = _versions()

    # When the US equity sleeve is dropped from the model
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=model, sleeves=[SleeveSpec("bonds", Decimal("0.9"), {"BND": Decimal(1)}),
                                                   SleeveSpec("real_estate", Decimal("0.1"), {"VNQ": Decimal(1)})],
                             user=admin)

    # Then it is refused naming the sleeve, the template and how many accounts use the model with it
    assert ("it drops sleeve us_equity from Balanced, which the direct index of template “Tax_Managed”, for 2 "
            "accounts (DI-1, DI-2) on Balanced names") in refused.value.message
    assert _versions() == before


def test_dropping_a_sleeve_an_accounts_overrides_direct_index_through_a_parent_model_is_refused(firm, admin):
    # Given an account on a model of models whose own overrides direct-index the inner model's bonds
    inner = make_model("inner")
    Security.objects.create(symbol="SGOV", name="SGOV fund", asset_class="cash_like", is_fund=True)  # a class of the firm's
    parent = model_create(user=admin, code="parent", name="Parent",
                          sleeves=[_held_as("inner", "0.9"), SleeveSpec("cash_like", Decimal("0.1"), {"SGOV": Decimal(1)})])
    make_account("DI-9", model=parent, overrides={"direct_index": {"bonds": {}}})

    with pytest.raises(ValidationFailed, match="it drops sleeve bonds from Parent, which the direct index of account "
                                               r"DI-9's overrides, for 1 account \(DI-9\) on Parent names"):
        model_version_create(model=inner, sleeves=[SleeveSpec("us_equity", Decimal("0.9"), {"VTI": Decimal(1)}),
                                                   SleeveSpec("real_estate", Decimal("0.1"), {"VNQ": Decimal(1)})],
                             user=admin)


def test_a_change_keeping_the_direct_indexed_sleeve_is_saved(firm, admin):
    model = make_model()
    make_account("DI-3", model=model, template=make_template("tax_managed",
                                                             parameters={"direct_index": {"us_equity": {}}}))

    version = model_version_create(model=model, sleeves=[SleeveSpec("us_equity", Decimal("0.7"), {"VTI": Decimal(1)}),
                                                         SleeveSpec("bonds", Decimal("0.3"), {"BND": Decimal(1)})],
                                   user=admin)

    assert version.number == 2


# --- 2b-d. A template's settings against each other and its accounts' models ---------------------

def _governed(template: ParameterTemplate, number: str = "TP-1", model=None) -> Account:
    account = make_account(number, model=model or ModelPortfolio.objects.get(code="balanced"))
    Account.objects.filter(pk=account.pk).update(template=template)
    return account


def _refused(admin, template: ParameterTemplate | None, parameters: dict) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        template_save(user=admin, code=template.code if template else "new_one", name="T", parameters=parameters,
                      overridable={}, template=template)
    if template is not None:
        assert ParameterTemplate.objects.get(pk=template.pk).parameters == template.parameters
    else:
        assert not ParameterTemplate.objects.filter(code="new_one").exists()
    return refused.value


def test_a_template_removing_every_asset_class_of_its_accounts_model_is_refused_naming_it(firm, admin):
    make_model()
    template = make_template()
    _governed(template)

    refused = _refused(admin, template, {"removed_asset_classes": ["us_equity", "bonds", "real_estate"]})

    assert ("the setting “Removed asset classes” removes every asset class of model Balanced (bonds, real_estate, us_equity), "
            "which 1 account (TP-1) it governs hold") in refused.message
    assert refused.detail["parameter"] == "removed_asset_classes" and refused.detail["models"] == ["balanced"]
    # Removing some of them is saved
    template_save(user=admin, code=template.code, name="T", parameters={"removed_asset_classes": ["real_estate"]},
                  overridable={}, template=template)


def test_a_template_direct_indexing_a_sleeve_it_removes_is_refused_naming_both(firm, admin):
    refused = _refused(admin, None, {"direct_index": {"us_equity": {}}, "removed_asset_classes": ["us_equity"]})

    assert refused.message.startswith("Template parameters: settings “Direct indexing” and “Removed asset classes” both "
                                      "name us_equity")
    assert refused.detail["conflicts"] == ["direct_index", "removed_asset_classes"]


def test_an_accounts_override_removing_the_sleeve_the_template_now_direct_indexes_is_named(firm, admin):
    make_model()
    template = make_template()
    account = _governed(template)
    Account.objects.filter(pk=account.pk).update(overrides={"removed_asset_classes": ["us_equity"]})

    refused = _refused(admin, template, {"direct_index": {"us_equity": {}}})

    assert "with them, account TP-1's settings “Direct indexing” and “Removed asset classes” both name us_equity" \
        in refused.message


def test_a_template_direct_indexing_a_sleeve_its_accounts_model_lacks_is_refused(firm, admin):
    make_model()
    template = make_template()
    _governed(template)

    refused = _refused(admin, template, {"direct_index": {"us_large_cap": {}}})

    assert "the setting “Direct indexing” names sleeve us_large_cap, which model Balanced does not have" in refused.message


def test_a_screen_excluding_by_symbol_a_security_the_template_holds_is_refused_in_the_engines_words(firm, admin):
    refused = _refused(admin, None, {"screen": {"enabled": True, "excluded_symbols": ["VTI"]},
                                     "restrictions": {"hold": ["VTI"]}})

    assert refused.message == ("Template parameters: settings “ESG / values screens: excluded securities” and “Restrictions: hold (neither buy nor sell)” both "
                               "name VTI: the screen sells it and the restriction keeps it as it is; remove it from one")
    assert refused.detail["parameter"] == "restrictions.hold"


def test_a_screen_excluding_by_sector_a_security_the_template_holds_is_refused_too(firm, admin):
    # The engine compares symbols only: screened out by its sector, the held security was kept unsaid.
    Security.objects.filter(symbol="VNQ").update(sector="Real Estate")

    refused = _refused(admin, None, {"screen": {"enabled": True, "excluded_sectors": ["Real Estate"]},
                                     "restrictions": {"hold": ["VNQ"]}})

    assert refused.message == ("Template parameters: settings “ESG / values screens: excluded sectors” and “Restrictions: hold (neither buy nor sell)” both "
                               "name VNQ (sector Real Estate): the screen sells it and the restriction keeps it as "
                               "it is; remove it from one")
    assert refused.detail["conflicts"] == ["screen.excluded_sectors", "restrictions.hold"]


def test_two_sleeves_of_one_asset_class_are_refused_naming_the_class_and_the_sleeves(firm, admin):
    model = make_model(code="dup")
    before = model.versions.count()
    split = [SleeveSpec("us_equity", Decimal("0.5"), {"VTI": Decimal(1)}), BONDS,
             SleeveSpec("us_equity", Decimal("0.3"), {"ITOT": Decimal(1)})]

    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=model, sleeves=split, user=admin)

    assert ("2 sleeves are of asset class us_equity (sleeves 1, 3): a model holds each asset class in one sleeve"
            in refused.value.message)
    assert model.versions.count() == before
