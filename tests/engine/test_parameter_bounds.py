"""The bounds of every numeric parameter, as a portfolio manager reads them, and the rules between two
settings: refused by ``Parameters.from_dict`` (the one home every path goes through) naming the
parameter's path and what it may be."""

import math
import random

import pytest

from rebalancing.engine import ESG_SCORES, InvalidRequest, Parameters, Security

# What each numeric leaf may be, written here from what it means (not read from the engine): fractions
# of account value or cost from 0 to 1, amounts of money from 0, an ESG score on the security master's
# 0-100 scale, a relative band up to 10 times the target, costs in basis points up to 10%, the
# tax-vs-tracking weight above 0 (0 would make tracking free) up to 1000. (low, high, low excluded)
RANGES = {
    ("cash", "target"): (0, 1, False),
    ("cash", "floor"): (0, 1, False),
    ("harvest", "min_loss_pct"): (0, 1, False),
    ("harvest", "min_loss_value"): (0, 1e15, False),
    ("transition", "max_net_gain_per_run"): (0, 1e15, False),
    ("transition", "max_net_gain_per_year"): (0, 1e15, False),
    ("screen", "min_esg_score"): (0, 100, False),
    ("drift", "absolute_band"): (0, 1, False),
    ("drift", "relative_band"): (0, 10, False),
    ("trading", "min_trade_value"): (0, 1e15, False),
    ("trading", "max_turnover"): (0, 1, False),
    ("trading", "trading_cost_bps"): (0, 1000, False),
    ("trading", "tracking_error_cost"): (0, 1000, True),
}


def _accepted(params: dict) -> bool:
    try:
        Parameters.from_dict(params)
    except InvalidRequest:
        return False
    return True


def _plainly_allowed(group: str, leaf: str, value: float, floor_target=(0.0, 0.01)) -> bool:
    """The plain reading: finite, inside the leaf's range, and the cash floor at most the target."""
    low, high, excluded = RANGES[(group, leaf)]
    if not math.isfinite(value) or value > high or value < low or (excluded and value == low):
        return False
    floor, target = floor_target
    if (group, leaf) == ("cash", "floor"):
        floor = value
    if (group, leaf) == ("cash", "target"):
        target = value
    return floor <= target


@pytest.mark.parametrize("score", [-5, -0.01, 100.5, 150])
@pytest.mark.parametrize("enabled", [True, False])
def test_an_esg_minimum_off_the_security_masters_scale_is_refused_naming_it(score, enabled):
    with pytest.raises(InvalidRequest) as refused:
        Parameters.from_dict({"screen": {"enabled": enabled, "min_esg_score": score}})

    assert refused.value.detail == {"parameter": "screen.min_esg_score"}
    assert "screen.min_esg_score" in refused.value.message and "from 0 to 100" in refused.value.message


@pytest.mark.parametrize("score", [ESG_SCORES[0], 37.5, ESG_SCORES[1], None])
def test_an_esg_minimum_on_the_scale_is_kept(score):
    assert Parameters.from_dict({"screen": {"enabled": True, "min_esg_score": score}}).screen.min_esg_score == score


def test_a_security_scored_off_the_scale_is_refused_by_the_engine():
    with pytest.raises(InvalidRequest, match="ESG score of XYZ must be from 0 to 100"):
        Security("XYZ", 10.0, "EQ", esg_score=-1.0)


def test_a_cash_floor_above_the_cash_target_is_refused_naming_both():
    with pytest.raises(InvalidRequest) as refused:
        Parameters.from_dict({"cash": {"target": 0.01, "floor": 0.05}})

    assert refused.value.detail == {"parameter": "cash.floor"}
    assert "cash.floor (5% = 0.05) must not be above cash.target (1% = 0.01)" in refused.value.message
    assert Parameters.from_dict({"cash": {"target": 0.05, "floor": 0.05}}).cash.floor == 0.05


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("group", "leaf"), sorted(RANGES))
def test_nan_or_infinity_is_refused_in_every_leaf_even_of_a_switched_off_group(bad, group, leaf):
    params = {group: {leaf: bad}}
    if group in ("transition", "screen", "harvest", "drift"):
        params[group]["enabled"] = False

    with pytest.raises(InvalidRequest) as refused:
        Parameters.from_dict(params)

    assert refused.value.detail == {"parameter": f"{group}.{leaf}"}


@pytest.mark.parametrize(("group", "leaf"), sorted(RANGES))
def test_a_value_out_of_range_names_the_parameter_and_its_whole_range(group, leaf):
    low, high, _ = RANGES[(group, leaf)]

    with pytest.raises(InvalidRequest) as refused:
        Parameters.from_dict({group: {leaf: -1}})

    assert refused.value.detail == {"parameter": f"{group}.{leaf}"}
    assert f"{group}.{leaf}" in refused.value.message and f"to {high:g}" in refused.value.message


def test_every_numeric_leaf_agrees_with_a_plain_reading_of_its_range_over_random_values():
    rng = random.Random(20261204)
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 1e15, 1e16, -1e-9]
    for _ in range(600):
        group, leaf = rng.choice(sorted(RANGES))
        low, high, _ = RANGES[(group, leaf)]
        value = rng.choice(specials) if rng.random() < 0.2 else rng.uniform(low - (high - low) * 0.2, high * 1.2)
        floor_target = (rng.choice([0.0, 0.02, 0.2]), rng.choice([0.0, 0.01, 0.3, 1.0]))
        cash = {"floor": floor_target[0], "target": floor_target[1]}
        params = {"cash": dict(cash)}
        params.setdefault(group, {})[leaf] = value

        assert _accepted(params) == _plainly_allowed(group, leaf, value, floor_target), (group, leaf, value, cash)


def test_an_instruction_selling_by_quantity_and_by_amount_at_once_is_refused():
    with pytest.raises(InvalidRequest, match="the quantity or the amount to sell, not both"):
        Parameters.from_dict({"instructions": [{"kind": "sell_buy", "sell": "VTI", "quantity": 5, "amount": 100}]})



def test_an_instruction_to_sell_a_security_and_buy_it_back_is_kept():
    # a gain realised on purpose and bought back at once steps the basis up (no wash-sale rule for gains)
    params = Parameters.from_dict({"instructions": [{"kind": "sell_buy", "sell": "VTI", "buy": "VTI"}]})
    assert params.instructions[0].buy == "VTI"
