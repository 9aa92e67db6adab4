"""A rule between two settings (the cash floor at most the cash target) holds on the parameters a run
merges (template <- household <- account), whichever layer each setting comes from; a refusal names it
and writes nothing."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.effective_parameters import override_limits_problems
from rebalancing.services.book import account_overrides_set, household_overrides_set, template_save
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed

from .book import make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db

CASH = {"cash.target": {"min": 0, "max": 0.2}, "cash.floor": {"min": 0, "max": 0.2}}


@pytest.fixture
def governed(firm_a, firm_user):
    from tenants.roles import FirmRole

    pm = firm_user(firm_a, "pm@a.example", FirmRole.PORTFOLIO_MANAGER)
    admin = firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN)
    with tenant_context(firm_a):
        make_securities()
        template = make_template(parameters={"cash": {"target": 0.05}}, overridable=CASH)
        account = make_account("L-1", model=make_model(), template=template)
        yield {"pm": pm, "admin": admin, "template": template, "account": account, "household": account.household}


def test_an_account_floor_under_its_templates_higher_target_is_kept(governed):
    # (checked alone against the engine's 1% default target it would have been refused)
    account = account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.03}}, user=governed["pm"])

    assert account.overrides == {"cash": {"floor": 0.03}}


def test_an_account_floor_above_its_templates_target_is_refused_and_nothing_is_written(governed):
    with pytest.raises(ValidationFailed) as refused:
        account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.08}}, user=governed["pm"])

    assert "setting “Cash: floor” (8% = 0.08) must not be above “Cash: target” (5% = 0.05)" in refused.value.message
    assert refused.value.detail["parameter"] == "cash.floor"
    governed["account"].refresh_from_db()
    assert governed["account"].overrides == {}
    assert not AuditEvent.objects.filter(action="account.parameters").exists()


def test_an_account_floor_above_its_households_target_is_refused(governed):
    household_overrides_set(household=governed["household"], overrides={"cash": {"target": 0.02}}, user=governed["pm"])

    with pytest.raises(ValidationFailed, match=r"“Cash: floor” \(3% = 0.03\) must not be above “Cash: target” \(2% = 0.02\)"):
        account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.03}}, user=governed["pm"])


def test_a_household_target_below_one_of_its_accounts_floors_is_refused_naming_the_account(governed):
    account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.04}}, user=governed["pm"])

    with pytest.raises(ValidationFailed) as refused:
        household_overrides_set(household=governed["household"], overrides={"cash": {"target": 0.02}},
                                user=governed["pm"])

    assert "account L-1" in refused.value.message and refused.value.detail["account"] == "L-1"
    governed["household"].refresh_from_db()
    assert governed["household"].overrides == {}


def test_template_limits_whose_minimum_is_above_their_maximum_are_refused(governed):
    problems = override_limits_problems({"cash.target": {"min": 0.05, "max": 0.01}})
    assert problems == ["cash.target: the minimum 5% is above the maximum 1%, so no value is allowed"]

    with pytest.raises(ValidationFailed, match="the minimum 5% is above the maximum 1%"):
        template_save(user=governed["admin"], code="inverted", name="Inverted", parameters={},
                      overridable={"cash.target": {"min": 0.05, "max": 0.01}})


def test_a_template_limit_naming_no_setting_is_refused_and_real_ones_pass():
    # a typo was stored and allowed nothing; a group, a leaf, one sleeve of a direct index and a
    # household setting are settings
    assert override_limits_problems({"cash.nonsense": {}, "household.budget": {}, "harvest": {}, "cash.target": {},
                                     "direct_index.us_equity": {}, "household.tax_budget": {"max": 100}}) == [
        "cash.nonsense: no such setting (a typo?), so it would allow nothing",
        "household.budget: no such setting (a typo?), so it would allow nothing"]


def test_a_template_with_an_esg_minimum_off_the_scale_is_refused(governed):
    with pytest.raises(ValidationFailed) as refused:
        template_save(user=governed["admin"], code="esg", name="ESG", parameters={
            "screen": {"enabled": True, "min_esg_score": -5}}, overridable={})

    assert "“ESG / values screens: minimum ESG score”: must be from 0 to 100, got -5" in refused.value.message


@pytest.mark.parametrize("budget", [float("nan"), float("inf"), float("-inf")])
def test_a_household_tax_budget_that_is_no_amount_is_refused_saying_the_range(budget):
    from rebalancing.household_parameters import household_settings_validate

    with pytest.raises(ValidationFailed) as refused:
        household_settings_validate({"tax_budget": budget})

    assert refused.value.message == f"the tax budget must be an amount from 0 to $1 quadrillion, not {budget}"
    assert refused.value.detail == {"field": "tax_budget"}


def test_a_template_target_lowered_under_an_accounts_floor_is_refused_naming_the_account(governed):
    account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.04}}, user=governed["pm"])

    # before: saved, and every later run of L-1 was refused by the engine (floor 4% above target 2%)
    with pytest.raises(ValidationFailed) as refused:
        template_save(user=governed["admin"], code=governed["template"].code, name="Lower cash",
                      parameters={"cash": {"target": 0.02}}, overridable=CASH, template=governed["template"])

    assert refused.value.message.startswith("Template parameters refused: with them, account L-1 overrides:")
    assert "“Cash: floor” (4% = 0.04) must not be above “Cash: target” (2% = 0.02)" in refused.value.message
    assert (refused.value.detail["account"], refused.value.detail["parameter"]) == ("L-1", "cash.floor")
    governed["template"].refresh_from_db()
    assert governed["template"].parameters == {"cash": {"target": 0.05}}
    assert not AuditEvent.objects.filter(action="template.change").exists()


def test_a_template_target_lowered_under_a_households_floor_is_refused_naming_it(governed):
    household = governed["household"]
    household.template = governed["template"]
    household.save(update_fields=["template"])
    household_overrides_set(household=household, overrides={"cash": {"floor": 0.04}}, user=governed["pm"])

    with pytest.raises(ValidationFailed, match=r"“Cash: floor” \(4% = 0.04\) must not be above “Cash: target” \(3% = 0.03\)"):
        template_save(user=governed["admin"], code=governed["template"].code, name="Lower cash",
                      parameters={"cash": {"target": 0.03}}, overridable=CASH, template=governed["template"])


def test_a_template_change_its_accounts_overrides_sit_well_on_is_saved(governed):
    account_overrides_set(account=governed["account"], overrides={"cash": {"floor": 0.04}}, user=governed["pm"])

    template = template_save(user=governed["admin"], code=governed["template"].code, name="Still above",
                             parameters={"cash": {"target": 0.04}}, overridable=CASH, template=governed["template"])

    assert template.parameters == {"cash": {"target": 0.04}}


def test_a_limit_is_checked_by_its_settings_own_rule_not_by_rules_between_settings(governed):
    # before: a cash floor allowed up to 20% was refused - checked on the engine's default target (1%)
    assert override_limits_problems({"cash.floor": {"min": 0, "max": 0.2}}) == []
    assert override_limits_problems({"cash.floor": {"max": 1.5}}) == [
        "cash.floor: the maximum 150% is not a value it may take (invalid parameter cash.floor: must be from 0 to 1,"
        " got 1.5)"]
