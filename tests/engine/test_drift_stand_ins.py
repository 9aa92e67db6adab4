"""The drift a proposal reports counts a substitute held for a model security as that security.

Found in the demo (2026 browser audit): an account whose sleeves were each within 3.2 points of
target showed "Drift 66.8%" and a "Drift beyond band" alert, because the targets the drift was
measured against had already handed a harvested fund's target to its substitute (VOO 1.83% held
42.72%, SCHX the reverse). A tax-loss swap, or a substitute held while the harvested name may not
be bought back, leaves the sleeve where the model wants it: it is not drift. The optimiser's
targets do not change; the measure, the "drift" reason (which raises the drift alert) and the drift
bands' test do - a harvest inside the bands no longer frees the whole account to rebalance.
"""

from datetime import timedelta

import pytest

from rebalancing.engine import (
    CashParams,
    DriftParams,
    HarvestParams,
    HouseholdTrade,
    Model,
    Parameters,
    Security,
    Sleeve,
    TradingParams,
    WashSaleParams,
    rebalance,
)

from .builders import AS_OF, lot, model, request, trades_by_symbol

EQUITY_SUBSTITUTES = (
    Security("EQ", 100.0, "equity"),
    Security("EQ2", 100.0, "equity"),
    Security("EQ3", 100.0, "equity"),
    Security("BD", 100.0, "bonds"),
)


def _params(**changes) -> Parameters:
    base = {"cash": CashParams(target=0.0), "trading": TradingParams(whole_shares=True)}
    return Parameters(**{**base, **changes})


def test_a_harvest_swap_in_this_run_is_not_drift():
    # Given EQ 60% (50 shares bought at 130, a loss; 10 at 50) and BD 40%, on a 60/40 model, EQ2
    # configured as EQ's harvest substitute
    lots = [lot("LOSS", "EQ", 50, 6_500, AS_OF - timedelta(days=180)), lot("GAIN", "EQ", 10, 500),
            lot("B", "BD", 40, 4_000)]
    params = _params(harvest=HarvestParams(substitutes={"EQ": "EQ2"}))

    # When the account is rebalanced
    result = rebalance(request(lots, EQUITY_SUBSTITUTES, model(EQ=0.6, BD=0.4), parameters=params))

    # Then the loss lot is swapped into EQ2 as before (the trades are the optimiser's)
    assert trades_by_symbol(result) == {"EQ": ("sell", 50.0), "EQ2": ("buy", 50.0)}
    # and the account was, and stays, on its model: EQ + EQ2 hold EQ's 60% (before, the targets
    # already gave 50% of EQ's to EQ2, so drift before read 0.5 x (|60 - 10| + |0 - 50|) = 50%)
    assert result.summary.drift_before == pytest.approx(0.0, abs=1e-12)
    assert result.summary.drift_after == pytest.approx(0.0, abs=1e-12)
    # and the swap is a harvest, not a move against drift (the "drift" reason raised the drift alert)
    assert {t.symbol: t.reasons for t in result.trades} == {"EQ": ("harvest",), "EQ2": ("harvest",)}


def test_a_substitute_held_in_the_wash_sale_window_counts_toward_its_model_security():
    # Given EQ harvested 10 days ago into EQ2 (EQ may not be bought back for 30 days): EQ2 45%, a
    # stub of EQ 10%, BD 45%, on a 60/40 model
    lots = [lot("E", "EQ", 10, 1_000), lot("S", "EQ2", 45, 4_500), lot("B", "BD", 45, 4_500)]
    sold = HouseholdTrade(AS_OF - timedelta(days=10), "EQ", "sell", 50.0, realised_gain=-1_500.0)
    params = _params(harvest=HarvestParams(substitutes={"EQ": "EQ2"}), drift=DriftParams(0.03, 0.25))

    # When it is rebalanced
    result = rebalance(request(lots, EQUITY_SUBSTITUTES, model(EQ=0.6, BD=0.4), parameters=params,
                               household_trades=(sold,)))

    # Then the drift is the sleeves': 0.5 x (|55 - 60| + |45 - 40|) = 5%, not
    # 0.5 x (|10 - 60| + |45 - 0| + |45 - 40|) = 50%
    assert result.summary.drift_before == pytest.approx(0.05)


def test_a_substantially_identical_fund_counts_toward_its_model_security():
    # Given EQ3, in EQ's equivalence group, held for 35% of EQ's 60%
    lots = [lot("E", "EQ", 25, 2_500), lot("I", "EQ3", 35, 3_500), lot("B", "BD", 40, 4_000)]
    params = _params(wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ3"),)))

    result = rebalance(request(lots, EQUITY_SUBSTITUTES, model(EQ=0.6, BD=0.4), parameters=params))

    # Then the account reads as on its model before (it read 35% of drift)
    assert result.summary.drift_before == pytest.approx(0.0, abs=1e-12)


def test_a_substitute_of_another_asset_class_is_drift():
    # Given BD configured as EQ's substitute (another sleeve), held for part of EQ's place
    lots = [lot("E", "EQ", 40, 4_000), lot("B", "BD", 60, 6_000)]
    params = _params(harvest=HarvestParams(substitutes={"EQ": "BD"}))
    securities = (Security("EQ", 100.0, "equity"), Security("BD", 100.0, "bonds"), Security("BD2", 100.0, "bonds"))

    result = rebalance(request(lots, securities, model(EQ=0.6, BD2=0.4), parameters=params))

    # Then it is not the model's equity: EQ 20 points short, BD2 40 short, BD 60 over -> 60%
    assert result.summary.drift_before == pytest.approx(0.6)


def test_a_fund_that_could_stand_in_for_two_model_securities_stands_for_neither():
    # Given EQ3 in one equivalence group with both EQ and EQ2, each a model security
    lots = [lot("E", "EQ", 30, 3_000), lot("I", "EQ3", 30, 3_000), lot("B", "BD", 40, 4_000)]
    params = _params(wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ2", "EQ3"),)))
    the_model = Model("two", (Sleeve("equity", 0.3, {"EQ": 1.0}), Sleeve("equity2", 0.3, {"EQ2": 1.0}),
                              Sleeve("bonds", 0.4, {"BD": 1.0})))

    result = rebalance(request(lots, EQUITY_SUBSTITUTES, the_model, parameters=params))

    # Then EQ3's 30% is drift (which name it replaces is not known): EQ2 30 short, EQ3 30 over
    assert result.summary.drift_before == pytest.approx(0.3)


def test_a_harvest_inside_the_bands_trades_only_the_swap():
    # Given EQ down $2,000 (a harvest to EQ2) and BD at a gain, the account 47.6% / 52.4% against a
    # 50/50 model: inside its 3-point bands
    params = Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True),
                        harvest=HarvestParams(substitutes={"EQ": "EQ2"}), drift=DriftParams())
    req = request([lot("L1", "EQ", 100, 12_000, AS_OF - timedelta(days=200)), lot("L2", "BD", 110, 5_000)],
                  EQUITY_SUBSTITUTES, model(EQ=0.5, BD=0.5), parameters=params)

    result = rebalance(req)

    # Then the swap alone: the bands were tested with EQ2 in EQ's place (the harvest had moved EQ's
    # target to EQ2, so EQ read as 47.6 points out and the whole account was freed: BD was sold at
    # a $273 gain to bring it back to 50%)
    assert trades_by_symbol(result) == {"EQ": ("sell", 100.0), "EQ2": ("buy", 100.0)}
    assert all(t.reasons == ("harvest",) for t in result.trades)
    assert result.summary.realised_short_term_gain == 0 and result.summary.realised_long_term_gain == 0
