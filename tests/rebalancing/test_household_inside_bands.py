"""How a household managed as one is rebalanced inside its drift bands (``inside_bands``): the
template's choice or the household's own, each with its source, refused outside the engine's two
ways and the template's limits, and handed to the engine by runs and the what-if."""

import random
from datetime import date
from types import SimpleNamespace

import pytest
from django_tenants.utils import tenant_context

from rebalancing.engine import INSIDE_BANDS
from rebalancing.engine_inputs import household_inputs_load
from rebalancing.household_parameters import (
    HOUSEHOLD_DEFAULTS,
    INSIDE_BANDS_CHOICES,
    household_settings_effective,
    household_settings_validate,
)
from rebalancing.models import Account, Household, HouseholdProposal, Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.households import household_rebalance_preview, household_settings_set
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_account, make_model, make_securities, make_template
from .household_book import make_unit_household
from .workflow import policy

# --- The effective value: household, else template, else the engine's default ------------------


def _simple_effective(template_settings, household_settings, *, own=True):
    """The rule written the plain way: each setting from the household if it sets it, else from
    the template if it does, else the default."""
    values, sources = {}, {}
    for key, default in HOUSEHOLD_DEFAULTS.items():
        if own and household_settings is not None and key in household_settings:
            values[key], sources[key] = household_settings[key], "household"
        elif template_settings is not None and key in template_settings:
            values[key], sources[key] = template_settings[key], "template:tpl"
        else:
            values[key], sources[key] = default, "default"
    return values, sources


def _random_settings(rng):
    settings = {}
    if rng.random() < 0.5:
        settings["inside_bands"] = rng.choice(INSIDE_BANDS)
    if rng.random() < 0.3:
        settings["tax_budget"] = rng.choice([None, 0, 1500, 20000.5])
    if rng.random() < 0.3:
        settings["location"] = {"bonds": rng.sample(["taxable", "traditional", "roth"], 3)}
    return settings


def test_inside_bands_comes_from_the_household_else_the_template_else_the_engine_default_over_random_cases():
    rng = random.Random(20261202)
    for _ in range(500):
        template = None if rng.random() < 0.2 else SimpleNamespace(
            code="tpl", household_parameters=rng.choice([None, {}, _random_settings(rng)]))
        household = SimpleNamespace(template=template, household_overrides=rng.choice([None, {}, _random_settings(rng)]))
        template_settings = template.household_parameters if template else None
        for own in (True, False):
            effective = household_settings_effective(household, own=own)
            assert (effective.values, effective.sources) == _simple_effective(
                template_settings, household.household_overrides, own=own)


def test_worked_examples_of_where_inside_bands_comes_from():
    template = SimpleNamespace(code="tpl", household_parameters={"inside_bands": "cash_flows"})
    # Nothing set anywhere: the engine's default, tax-free trades.
    plain = household_settings_effective(SimpleNamespace(template=None, household_overrides={}))
    assert (plain.values["inside_bands"], plain.sources["inside_bands"]) == ("tax_free", "default")
    # The template chooses cash flows; a household that sets nothing follows it.
    follows = household_settings_effective(SimpleNamespace(template=template, household_overrides={}))
    assert (follows.values["inside_bands"], follows.sources["inside_bands"]) == ("cash_flows", "template:tpl")
    # A household of that template that keeps the default for itself overrides it, and still
    # knows what it would inherit.
    own = SimpleNamespace(template=template, household_overrides={"inside_bands": "tax_free"})
    assert household_settings_effective(own).sources["inside_bands"] == "household"
    assert household_settings_effective(own, own=False).values["inside_bands"] == "cash_flows"


# --- What is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["never", "", None, 1, True, ["cash_flows"], "Cash_Flows", "cash flows"])
def test_a_way_of_rebalancing_inside_the_bands_the_engine_does_not_know_is_refused_naming_the_field(bad):
    with pytest.raises(ValidationFailed) as refused:
        household_settings_validate({"inside_bands": bad})
    assert refused.value.detail == {"field": "inside_bands"}
    assert "'tax_free' (keep on model with tax-free trades) or 'cash_flows' (only direct cash flows)" in \
        refused.value.message and f"not {bad!r}" in refused.value.message


def test_every_way_the_engine_knows_has_words_and_is_accepted():
    assert tuple(INSIDE_BANDS_CHOICES) == INSIDE_BANDS
    assert HOUSEHOLD_DEFAULTS["inside_bands"] == "tax_free"  # the engine's own default
    for value in INSIDE_BANDS:
        assert household_settings_validate({"inside_bands": value}) == {"inside_bands": value}


def test_a_household_changes_it_only_where_its_template_allows_and_within_its_choices():
    closed = SimpleNamespace(code="tpl", overridable={"household.tax_budget": {}})
    with pytest.raises(ValidationFailed, match="household.inside_bands may not be overridden under template 'tpl'"):
        household_settings_validate({"inside_bands": "cash_flows"}, template=closed)
    narrow = SimpleNamespace(code="tpl", overridable={"household.inside_bands": {"choices": ["tax_free"]}})
    with pytest.raises(ValidationFailed, match=r"household.inside_bands = 'cash_flows' is not one of \['tax_free'\]"):
        household_settings_validate({"inside_bands": "cash_flows"}, template=narrow)
    assert household_settings_validate({"inside_bands": "tax_free"}, template=narrow) == {"inside_bands": "tax_free"}


# --- Runs and the what-if hand it to the engine ---------------------------------------------------


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@bands.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        template = made["template"]
        template.overridable = {**template.overridable, "household.inside_bands": {}}
        template.save()
        yield {**made, "advisor": advisor}


@pytest.mark.django_db
def test_the_household_request_carries_the_templates_choice_then_the_households_own(lees):
    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.request.inside_bands == "tax_free" and inputs.sources["inside_bands"] == "default"

    template = lees["template"]
    template.household_parameters = {"inside_bands": "cash_flows"}
    template.save()
    [from_template] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert from_template.request.inside_bands == "cash_flows"
    assert from_template.sources["inside_bands"] == f"template:{template.code}"
    assert from_template.fingerprint != inputs.fingerprint  # a run on the same book is not skipped as unchanged

    household_settings_set(user=lees["advisor"], household=lees["household"], settings={"inside_bands": "tax_free"})
    lees["household"].refresh_from_db()
    [own] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert own.request.inside_bands == "tax_free" and own.sources["inside_bands"] == "household"
    event = AuditEvent.objects.filter(action="household.settings", object_id=str(lees["household"].pk)).latest("pk")
    assert event.before == {"settings": {}} and event.after == {"settings": {"inside_bands": "tax_free"}}

    with pytest.raises(ValidationFailed) as refused:
        household_settings_set(user=lees["advisor"], household=lees["household"], settings={"inside_bands": "never"})
    assert refused.value.detail == {"field": "inside_bands"}


@pytest.fixture
def in_band(firm_a, firm_user):
    """A 60/40 household inside its 10-point bands: a taxable account of equity with large gains,
    an IRA of equity and bonds with 1,000 of dividends. Bonds are 24,000 of 65,000 (36.9% for 40%)."""
    advisor = firm_user(firm_a, "adv@inband.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        make_securities()
        model = make_model("sixty-forty", sleeves=(("us_equity", "0.6", {"VTI": "1"}), ("bonds", "0.4", {"BND": "1"})))
        template = make_template("in-band", parameters={
            "cash": {"target": 0.0}, "trading": {"whole_shares": True},
            "drift": {"enabled": True, "absolute_band": 0.1, "relative_band": 0.25}},
            overridable={"household.inside_bands": {}})
        household = Household.objects.create(name="Band family", external_id="HH-BAND", template=template,
                                             managed_as=Household.ManagedAs.HOUSEHOLD, model=model)
        from rebalancing.services.people import advisor_assign

        advisor_assign(household=household, advisor=advisor, by=None)
        make_account("BAND-JT", model=None, household=household, cash="0",
                     holdings=[("VTI", 300, 8000, date(2015, 5, 1))])
        ira = make_account("BAND-IRA", model=None, household=household, cash="1000",
                           holdings=[("VTI", 100, 7000, date(2016, 5, 1)), ("BND", 300, 24500, date(2016, 5, 1))])
        Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
        yield {"household": household, "template": template, "advisor": advisor}


def _trades(result) -> dict[str, dict[str, str]]:
    return {a.account_id: {t.symbol: t.side for t in a.trades} for a in result.accounts}


@pytest.mark.django_db
def test_inside_its_bands_the_what_if_keeps_the_household_on_model_or_only_invests_its_cash(in_band):
    # Given the household inside its bands, by default (tax-free trades)
    household, advisor = in_band["household"], in_band["advisor"]
    tax_free = household_rebalance_preview(user=advisor, household=household, as_of=AS_OF)
    # Then the IRA sells equity tax-free to buy the bonds the household is short of
    assert _trades(tax_free) == {"BAND-JT": {}, "BAND-IRA": {"VTI": "sell", "BND": "buy"}}
    assert tax_free.tax_cost == 0
    # When the household chooses to be rebalanced by its cash flows only
    household_settings_set(user=advisor, household=household, settings={"inside_bands": "cash_flows"})
    household.refresh_from_db()
    flows = household_rebalance_preview(user=advisor, household=household, as_of=AS_OF)
    # Then only the dividends are invested (12 BND at 80), nothing is sold, and more drift is left
    assert _trades(flows) == {"BAND-JT": {}, "BAND-IRA": {"BND": "buy"}}
    [bought] = next(a for a in flows.accounts if a.account_id == "BAND-IRA").trades
    assert bought.quantity == 12
    assert tax_free.drift_after < flows.drift_after < flows.drift_before


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [RebalanceRun.Kind.MANUAL, RebalanceRun.Kind.NIGHTLY])
def test_a_household_run_and_the_nightly_scan_rebalance_by_cash_flows_when_the_template_says_so(in_band, kind):
    template = in_band["template"]
    template.household_parameters = {"inside_bands": "cash_flows"}
    template.save()
    scope = RunScope(household_id=in_band["household"].pk) if kind == RebalanceRun.Kind.MANUAL else RunScope(firm=True)
    run = run_start(scope=scope, as_of=AS_OF, label="test", kind=kind)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)

    together = HouseholdProposal.objects.get(run=run, household=in_band["household"])
    assert together.result["settings"]["values"]["inside_bands"] == "cash_flows"
    assert together.result["settings"]["sources"]["inside_bands"] == f"template:{template.code}"
    trades = [(p.account.custodian_number, t["symbol"], t["side"])
              for p in Proposal.objects.filter(run=run).select_related("account") for t in p.result["trades"]]
    assert trades == [("BAND-IRA", "BND", "buy")]
