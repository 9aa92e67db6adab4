"""An account's allowed asset classes bind what it holds, not only
what it buys; commodities are placed as tax-inefficient; a harvest's substitute stands in for a
security the household may not buy."""

import pytest

from rebalancing.engine import Model, Security, Sleeve, rebalance_household
from rebalancing.engine.household import default_location_preferences, is_tax_inefficient

from .household_builders import household, lot, member, trades_of


def _held(result, account_id):
    r = next(r for r in result.accounts if r.account_id == account_id)
    return {s: w * r.summary.market_value for s, w in r.weights_after.items() if w > 1e-9}


def test_an_ira_holding_a_class_it_may_not_hold_sells_it_and_the_household_makes_it_up_elsewhere():
    # Given an IRA that may hold bonds only but holds 60 EQ (6,000), and a taxable account whose
    # holdings are all at large gains; the household is on its 60/40 model (18,000 EQ, 12,000 BD)
    ira = member("IRA", "traditional", [lot("i1", "EQ", 60, 3_000), lot("i2", "BD", 40, 2_000)], allowed=("bonds",))
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 120, 2_000), lot("t2", "BD", 200, 2_000)])
    # When the household is rebalanced
    result = rebalance_household(household(ira, taxable))
    # Then the IRA sells all its EQ (no tax in an IRA) and buys bonds; until 2026-12-06 it kept its
    # EQ, silently (the rule only stopped buys, and moving it costs the taxable account a gain).
    assert trades_of(result, "IRA") == {"EQ": ("sell", 60.0), "BD": ("buy", 120.0)}
    assert "EQ" not in _held(result, "IRA")
    # and the taxable account makes the household's equity up, selling bonds at a gain to pay for it.
    assert trades_of(result, "TAX") == {"EQ": ("buy", 60.0), "BD": ("sell", 120.0)}
    assert result.drift_after < 0.01
    assert not [w for w in result.warnings if "may not hold" in w]


def test_a_taxable_account_keeps_what_the_tax_budget_cannot_sell_and_says_so():
    # Given a taxable account that may hold bonds only, holding EQ at a large gain, and a budget of 100
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 100, 1_000), lot("t2", "BD", 100, 5_000)],
                     allowed=("bonds",))
    roth = member("ROTH", "roth", cash=5_000)
    result = rebalance_household(household(taxable, roth, tax_budget=100.0))
    # Then it sells only what the budget allows (EQ's gain is 90% of its value: 100 of tax at 20% on
    # 500 of gain is about 5.5 shares) and the warning names the account, the class and why.
    assert result.tax_cost <= 100.0 + 0.01
    sold = trades_of(result, "TAX").get("EQ", ("sell", 0.0))
    assert sold[0] == "sell" and 0 < sold[1] < 100
    [warning] = [w for w in result.warnings if "may not hold" in w]
    assert "TAX" in warning and "EQ (equity)" in warning and "tax budget" in warning


def test_a_restriction_that_keeps_a_class_the_account_may_not_hold_is_named():
    from dataclasses import replace

    from rebalancing.engine import Restrictions

    from .household_builders import PARAMS

    params = replace(PARAMS, restrictions=Restrictions(do_not_sell=("EQ",)))
    ira = member("IRA", "traditional", [lot("i1", "EQ", 100, 6_000)], cash=5_000, allowed=("bonds",), parameters=params)
    roth = member("ROTH", "roth", cash=5_000)
    result = rebalance_household(household(ira, roth))
    assert "EQ" not in trades_of(result, "IRA")
    [warning] = [w for w in result.warnings if "may not hold" in w]
    assert warning.startswith("IRA keeps") and "restriction" in warning


def test_commodities_are_tax_inefficient_and_placed_in_the_traditional_account_first():
    assert is_tax_inefficient("commodities") and is_tax_inefficient("Commodity")
    prefs = default_location_preferences(["us_equity", "commodities"])
    assert prefs.order["commodities"] == ("traditional", "roth", "taxable")
    assert "commodities" in prefs.inefficient
    # In a household: DBC goes to the IRA, equity to the Roth (before 2026-12-06 DBC went to the Roth).
    securities = (Security("EQ", 100.0, "us_equity"), Security("DBC", 20.0, "commodities"))
    model = Model("m", (Sleeve("us_equity", 0.5, {"EQ": 1.0}), Sleeve("commodities", 0.5, {"DBC": 1.0})))
    ira = member("IRA", "traditional", cash=10_000, model=model, securities=securities)
    roth = member("ROTH", "roth", cash=10_000, model=model, securities=securities)
    result = rebalance_household(household(ira, roth, model=model, securities=securities))
    assert result.allocation_after["commodities"] == pytest.approx({"IRA": 10_000})
    assert result.allocation_after["us_equity"] == pytest.approx({"ROTH": 10_000})


def _with_bd2():
    from .household_builders import SECURITIES

    return (*SECURITIES, Security("BD2", 25.0, "bonds"))


def _after_a_bd_loss_sale(substitutes):
    from dataclasses import replace
    from datetime import timedelta

    from rebalancing.engine import HarvestParams, HouseholdTrade

    from .builders import AS_OF
    from .household_builders import PARAMS

    securities = _with_bd2()
    sale = HouseholdTrade(AS_OF - timedelta(days=10), "BD", "sell", 100.0, -800.0, "TAX")
    params = replace(PARAMS, harvest=HarvestParams(substitutes=substitutes)) if substitutes else PARAMS
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 60, 5_000)], cash=4_000, household_trades=(sale,),
                     parameters=params, securities=securities)
    ira = member("IRA", "traditional", cash=10_000, parameters=params, securities=securities)
    return household(taxable, ira, securities=securities), sale


def test_a_model_security_sold_at_a_loss_is_made_up_by_its_harvest_substitute_in_the_household():
    # Given BD sold at a loss 10 days ago in the taxable account, BD2 its configured substitute
    request, _ = _after_a_bd_loss_sale({"BD": "BD2"})
    result = rebalance_household(request)
    # Then no account buys BD (the purchase would wash the loss) and BD2 takes its place: the
    # household's bonds are on target (40% of 20,000). Until 2026-12-06 the bonds stayed short.
    bought = {t.symbol for r in result.accounts for t in r.trades if t.side == "buy"}
    assert "BD" not in bought and "BD2" in bought
    assert sum(result.allocation_after["bonds"].values()) == pytest.approx(8_000, abs=50)
    assert result.drift_after < 0.01
    assert result.targets["BD2"] == pytest.approx(0.4)


def test_without_a_substitute_the_warning_names_the_blocked_security_its_loss_sale_and_when_it_can_be_bought():
    request, sale = _after_a_bd_loss_sale(None)
    result = rebalance_household(request)
    assert all(t.symbol != "BD" for r in result.accounts for t in r.trades if t.side == "buy")
    day = sale.date
    from rebalancing.engine.wash_sales import buyable_on

    [warning] = [w for w in result.warnings if w.startswith("BD may be bought")]
    assert f"until {buyable_on(day):%d %B %Y}" in warning
    assert f"a sale at a loss in TAX on {day:%d %B %Y}" in warning


def _joint_with_a_bd_loss(substitutes):
    from dataclasses import replace

    from rebalancing.engine import HarvestParams

    from .household_builders import PARAMS

    securities = _with_bd2()
    harvesting = replace(PARAMS, harvest=HarvestParams(min_loss_value=100, min_loss_pct=0.02,
                                                       substitutes=substitutes or {}))
    joint = member("JT", "taxable", [lot("j1", "EQ", 120, 6_000), lot("j2", "BD", 40, 3_000)],
                   parameters=harvesting, securities=securities)
    ira = member("IRA", "traditional", cash=6_000, parameters=harvesting, securities=securities)
    return household(joint, ira, securities=securities)


def test_the_iras_buy_gives_way_to_the_substitute_so_the_joint_accounts_harvest_goes_ahead():
    # Given the joint account's BD at a loss of 1,000 (harvesting on, BD2 its substitute) and an IRA
    # the placement fills with bonds
    result = rebalance_household(_joint_with_a_bd_loss({"BD": "BD2"}))
    # Then the joint account harvests BD and the IRA buys BD2, not BD. Until 2026-12-06 the IRA
    # (solved first) bought BD, and the harvest was refused as a wash sale.
    joint = trades_of(result, "JT")
    assert joint["BD"][0] == "sell"
    ira = trades_of(result, "IRA")
    assert "BD" not in ira and ira["BD2"][0] == "buy"
    jt = next(r for r in result.accounts if r.account_id == "JT")
    assert not [a for a in jt.alerts if a.code == "harvest_opportunity" and a.symbol == "BD"]
    # and the household's bonds stay on target (40% of 20,000): BD2 standing in for BD is no drift
    assert sum(result.allocation_after["bonds"].values()) == pytest.approx(8_000, abs=60)
    assert result.drift_after < 0.01


def test_a_harvest_stopped_by_another_accounts_buy_of_today_names_that_account_not_a_day_bought():
    from datetime import timedelta

    from rebalancing.engine import HouseholdTrade, rebalance

    from .builders import AS_OF

    request = _joint_with_a_bd_loss({"BD": "BD2"})
    joint = request.accounts[0].request
    planned = HouseholdTrade(AS_OF, "BD", "buy", 10.0, None, "IRA")  # a buy planned beside this run
    joint = type(joint)(joint.as_of, type(joint.account)(**{
        **{f: getattr(joint.account, f) for f in joint.account.__slots__}, "household_trades": (planned,)}),
        joint.securities, joint.model, joint.parameters)
    result = rebalance(joint)
    [alert] = [a for a in result.alerts if a.code == "harvest_opportunity" and a.symbol == "BD"]
    assert "is bought in IRA today (a purchase planned with this proposal, or made today)" in alert.message
    assert f"harvestable from {(AS_OF + timedelta(days=31)).isoformat()}" in alert.message


def test_an_account_that_may_hold_none_of_the_models_classes_sells_all_and_says_so_direct_index_too():
    # Found in the demo: an IRA allowed TIPS and aggregate bonds in a household whose model (an
    # S&P 500 direct index among them) has neither. Once its holdings had to go, nothing was placed
    # there, and its own solve, given the household model, refused the direct index ("no constituent
    # passes the screens and restrictions"): the whole household failed.
    from rebalancing.engine import Benchmark, DirectIndexParams, Parameters
    from rebalancing.engine import CashParams as Cash

    names = [f"N{i}" for i in range(4)]
    bench = Benchmark("B4", dict.fromkeys(names, 0.25))
    securities = tuple(Security(n, 10.0, "equity") for n in names) + (Security("BD", 50.0, "bonds"),)
    model = Model("di", (Sleeve("equity", 0.6, {}, bench), Sleeve("bonds", 0.4, {"BD": 1.0})))
    params = Parameters(cash=Cash(target=0.0), direct_index=(DirectIndexParams("equity", max_names=4),))
    ira = member("IRA", "traditional", [lot("i1", "N0", 100, 800), lot("i2", "BD", 20, 900)], parameters=params,
                 allowed=("real_estate",), model=model, securities=securities)
    roth = member("ROTH", "roth", cash=3_000, parameters=params, model=model, securities=securities)
    result = rebalance_household(household(ira, roth, model=model, securities=securities))
    assert trades_of(result, "IRA") == {"N0": ("sell", 100.0), "BD": ("sell", 20.0)}
    assert any(w.startswith("IRA may hold none of the model's asset classes (only real_estate)")
               for w in result.warnings)
