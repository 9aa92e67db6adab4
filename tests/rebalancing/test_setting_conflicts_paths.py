"""The contradictions a model's or a template's save refuses are refused on the other paths that
create them too, naming the setting (and the model and accounts), and nothing is written: an
assignment of a template or a model to accounts or households, an account's or a household's
parameter overrides, and a model change that leaves a direct-indexed sleeve without a benchmark."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Benchmark, Household, ModelVersion, Security
from rebalancing.services.assignments import accounts_assign, households_template_assign
from rebalancing.services.book import (
    SleeveSpec,
    account_overrides_set,
    household_overrides_set,
    model_create,
    model_version_create,
)
from tenants.errors import ValidationFailed

from .book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db

BONDS = SleeveSpec("bonds", Decimal("0.4"), {"BND": Decimal(1)})


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@conflict-paths.example", "firm_admin")


@pytest.fixture
def firm(firm_a):
    with tenant_context(firm_a):
        make_securities()
        make_model()  # Balanced: us_equity, bonds, real_estate; no benchmark
        yield


def _balanced():
    from rebalancing.models import ModelPortfolio

    return ModelPortfolio.objects.get(code="balanced")


def _assignments() -> list[tuple]:
    return list(Account.objects.order_by("custodian_number").values_list("template_id", "model_id"))


# --- 1. Accounts → Assign -------------------------------------------------------------------------

def test_assigning_a_template_direct_indexing_a_sleeve_the_model_lacks_names_accounts_setting_and_model(firm, admin):
    # Given seven accounts on Balanced, which has no us_large_cap sleeve
    for n in range(1, 8):
        make_account(f"AS-{n}", model=_balanced())
    template = make_template("large_cap_di", parameters={"direct_index": {"us_large_cap": {}}})
    before = _assignments()

    # When a template direct-indexing us_large_cap is assigned to them
    with pytest.raises(ValidationFailed) as refused:
        accounts_assign(accounts=Account.objects.all(), template=template, by=admin)

    # Then it is refused naming the setting, the model and five accounts and the count; nothing is assigned
    assert refused.value.message == (
        "Nothing assigned: the setting “Direct indexing” names sleeve us_large_cap, which model Balanced does not have, in the "
        "parameters of template “Large_Cap_Di”, for 7 accounts (AS-1, AS-2, AS-3, AS-4, AS-5 and 2 more): every "
        "run of those accounts would fail; direct-index one of the model's sleeves")
    assert refused.value.detail["parameter"] == "direct_index" and refused.value.detail["model"] == "balanced"
    assert _assignments() == before


def test_assigning_a_template_removing_every_asset_class_of_the_model_is_refused(firm, admin):
    make_account("AS-1", model=_balanced())
    template = make_template("nothing", parameters={"removed_asset_classes": ["us_equity", "bonds", "real_estate"]})

    with pytest.raises(ValidationFailed, match=r"Nothing assigned: the setting “Removed asset classes” removes every asset class of "
                                               r"model Balanced \(bonds, real_estate, us_equity\), in the parameters "
                                               r"of template “Nothing”, for 1 account \(AS-1\): nothing of the model"):
        accounts_assign(accounts=Account.objects.all(), template=template, by=admin)
    assert Account.objects.get().template_id is None


def test_assigning_a_model_lacking_the_sleeve_an_accounts_overrides_direct_index_is_refused(firm, admin):
    # Given an account whose own overrides direct-index its model's US equity sleeve
    make_account("AS-1", model=_balanced(), overrides={"direct_index": {"us_equity": {}}})
    bonds_only = model_create(user=admin, code="bonds_only", name="Bonds only",
                              sleeves=[SleeveSpec("bonds", Decimal(1), {"BND": Decimal(1)})])

    with pytest.raises(ValidationFailed) as refused:
        accounts_assign(accounts=Account.objects.all(), model=bonds_only, by=admin)

    assert ("the setting “Direct indexing” names sleeve us_equity, which model Bonds only does not have, in the parameters of their "
            "own overrides, for 1 account (AS-1)") in refused.value.message
    assert refused.value.detail["field"] == "model"
    assert Account.objects.get().model == _balanced()


def test_assigning_a_template_whose_direct_index_an_accounts_override_removes_is_refused(firm, admin):
    make_account("AS-1", model=_balanced(), overrides={"removed_asset_classes": ["us_equity"]})
    template = make_template("di", parameters={"direct_index": {"us_equity": {}}},
                             overridable={"removed_asset_classes": {}})

    with pytest.raises(ValidationFailed, match="Nothing assigned: with it, account AS-1's settings “Direct indexing” and "
                                               "“Removed asset classes” both name us_equity"):
        accounts_assign(accounts=Account.objects.all(), template=template, by=admin)


def test_an_assignment_that_changes_nothing_for_an_already_broken_account_is_not_refused_for_it(firm, admin):
    # An account broken before (its own overrides name a sleeve its model lacks) keeps its problem:
    # assigning the model it has already is not a contradiction the assignment brings.
    make_account("AS-1", model=_balanced(), overrides={"direct_index": {"us_large_cap": {}}})

    outcome = accounts_assign(accounts=Account.objects.all(), model=_balanced(), by=admin)

    assert outcome.changed == 0


def test_assigning_a_template_to_households_direct_indexing_a_sleeve_their_accounts_model_lacks_is_refused(firm, admin):
    account = make_account("HH-1", model=_balanced())
    template = make_template("large_cap_di", parameters={"direct_index": {"us_large_cap": {}}})

    with pytest.raises(ValidationFailed, match="Nothing assigned: the setting “Direct indexing” names sleeve us_large_cap, which model "
                                               "Balanced does not have, in the parameters of template “Large_Cap_Di”, "
                                               r"for 1 account \(HH-1\)"):
        households_template_assign(households=Household.objects.filter(pk=account.household_id), template=template,
                                   by=admin)
    assert Household.objects.get(pk=account.household_id).template_id is None


# --- 2. Account and household overrides -----------------------------------------------------------

def _overrides_refused(admin, account: Account, overrides: dict) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        account_overrides_set(account=account, overrides=overrides, user=admin)
    assert Account.objects.get(pk=account.pk).overrides == account.overrides
    return refused.value


def test_account_overrides_direct_indexing_a_sleeve_the_model_lacks_are_refused_naming_it(firm, admin):
    account = make_account("OV-1", model=_balanced())

    refused = _overrides_refused(admin, account, {"direct_index": {"us_large_cap": {}}})

    assert refused.message == ("Account overrides refused: the setting “Direct indexing” names sleeve us_large_cap, which model "
                               "Balanced does not have: every run of the account would fail; direct-index one of "
                               "the model's sleeves")
    assert refused.detail == {"field": "overrides", "parameter": "direct_index", "sleeve": "us_large_cap",
                              "model": "balanced"}


def test_account_overrides_direct_indexing_a_sleeve_the_template_removes_are_refused(firm, admin):
    template = make_template("no_reits", parameters={"removed_asset_classes": ["real_estate"]},
                             overridable={"direct_index": {}})
    account = make_account("OV-1", model=_balanced(), template=template)

    refused = _overrides_refused(admin, account, {"direct_index": {"real_estate": {}}})

    assert refused.message.startswith("Account overrides refused: settings “Direct indexing” and “Removed asset "
                                      "classes” both name real_estate")


def test_account_overrides_removing_every_asset_class_are_refused(firm, admin):
    account = make_account("OV-1", model=_balanced())

    refused = _overrides_refused(admin, account, {"removed_asset_classes": ["bonds", "real_estate", "us_equity"]})

    assert "the setting “Removed asset classes” removes every asset class of model Balanced" in refused.message
    assert refused.detail["parameter"] == "removed_asset_classes"


@pytest.mark.parametrize(("screen", "setting", "why"), [
    ({"excluded_sectors": ["Real Estate"]}, "ESG / values screens: excluded sectors", "sector Real Estate"),
    ({"excluded_tags": ["reit"]}, "ESG / values screens: excluded values tags", "tag reit"),
])
def test_account_overrides_holding_what_the_templates_screen_excludes_are_refused(firm, admin, screen, setting, why):
    Security.objects.filter(symbol="VNQ").update(sector="Real Estate", tags=["reit"])
    template = make_template("screened", parameters={"screen": {"enabled": True, **screen}},
                             overridable={"restrictions": {}})
    account = make_account("OV-1", model=_balanced(), template=template)

    refused = _overrides_refused(admin, account, {"restrictions": {"hold": ["VNQ"]}})

    assert refused.message.startswith(f"Account overrides refused: settings “{setting}” and “Restrictions: hold "
                                      f"(neither buy nor sell)” both name VNQ ({why})")
    assert refused.detail["parameter"] == "restrictions.hold"  # the API's callers keep the codes


def test_household_overrides_direct_indexing_a_sleeve_its_accounts_model_lacks_are_refused(firm, admin):
    household = Household.objects.create(name="Smith", external_id="HH-SMITH")
    for n in (1, 2):
        make_account(f"SM-{n}", model=_balanced(), household=household)

    with pytest.raises(ValidationFailed) as refused:
        household_overrides_set(household=household, overrides={"direct_index": {"us_large_cap": {}}}, user=admin)

    assert refused.value.message == ("Household overrides refused: with them, the setting “Direct indexing” names sleeve us_large_cap, "
                                     "which model Balanced does not have, which 2 accounts (SM-1, SM-2) of the "
                                     "household hold: every run of those accounts would fail; direct-index one of the "
                                     "model's sleeves")
    assert Household.objects.get(pk=household.pk).overrides in ({}, None)


def test_household_overrides_screening_out_what_an_accounts_hold_keeps_are_refused(firm, admin):
    Security.objects.filter(symbol="VNQ").update(esg_score=20)
    household = Household.objects.create(name="Smith", external_id="HH-SMITH")
    make_account("SM-1", model=_balanced(), household=household, overrides={"restrictions": {"hold": ["VNQ"]}})

    with pytest.raises(ValidationFailed) as refused:
        household_overrides_set(household=household, overrides={"screen": {"enabled": True, "min_esg_score": 50}},
                                user=admin)
    assert ("Household overrides refused: with them, account SM-1's settings “ESG / values screens: minimum ESG "
            "score” and “Restrictions: hold (neither buy nor sell)” both name VNQ") in refused.value.message


# --- 3. A direct-indexed sleeve left without a benchmark ------------------------------------------

def test_a_model_change_leaving_a_direct_indexed_sleeve_without_a_benchmark_is_refused_naming_who_indexes_it(firm,
                                                                                                           admin):
    # Given a model whose US equity sleeve tracks a benchmark, direct-indexed by its accounts' template
    Benchmark.objects.create(code="TOTAL", name="Total market")
    model = model_create(user=admin, code="tracked", name="Tracked", sleeves=[
        SleeveSpec("us_equity", Decimal("0.6"), {"VTI": Decimal(1)}, benchmark="TOTAL"), BONDS])
    template = make_template("tax_managed", parameters={"direct_index": {"us_equity": {}}})
    for n in (1, 2):
        make_account(f"DI-{n}", model=model, template=template)
    versions = ModelVersion.objects.filter(model=model).count()

    # When a change drops the sleeve's benchmark
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=model, sleeves=[SleeveSpec("us_equity", Decimal("0.6"), {"VTI": Decimal(1)}),
                                                   BONDS], user=admin)

    # Then it is refused naming the sleeve and the template and accounts that direct-index it
    assert ("it leaves sleeve us_equity of Tracked without a benchmark, which the direct index of template "
            "“Tax_Managed”, for 2 accounts (DI-1, DI-2) on Tracked names: every run of those accounts would fail"
            in refused.value.message)
    assert ModelVersion.objects.filter(model=model).count() == versions
    # Keeping the benchmark is saved
    model_version_create(model=model, sleeves=[
        SleeveSpec("us_equity", Decimal("0.7"), {"VTI": Decimal(1)}, benchmark="TOTAL"),
        SleeveSpec("bonds", Decimal("0.3"), {"BND": Decimal(1)})], user=admin)


def test_managing_a_household_as_one_to_a_model_its_template_contradicts_is_refused(firm, admin):
    # Given a household whose template direct-indexes us_large_cap, its accounts on a model that
    # has that sleeve; the household is then to be managed as one to Balanced, which lacks it
    from rebalancing.services.households import household_management_set

    large_cap = make_model("large_cap", sleeves=(("us_large_cap", "0.6", {"VTI": "1"}), ("bonds", "0.4", {"BND": "1"})))
    template = make_template("hh_di", parameters={"direct_index": {"us_large_cap": {}}})
    household = Household.objects.create(name="Ng family", external_id="HH-NG", template=template)
    make_account("NG-1", model=large_cap, household=household)
    make_account("NG-2", model=large_cap, household=household)

    with pytest.raises(ValidationFailed) as refused:
        household_management_set(user=admin, household=household, managed_as="household", model=_balanced(),
                                 template=template)

    assert refused.value.message.startswith("Nothing assigned: ")
    assert "us_large_cap" in refused.value.message and "NG-1" in refused.value.message
    household.refresh_from_db()
    assert (household.managed_as, household.model_id) == ("accounts", None)
