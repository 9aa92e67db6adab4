"""JSON (de)serialisation, schemas and the parameters' JSON shape."""

import json

import jsonschema
import pytest

from rebalancing.engine import (
    PARAMETERS_SCHEMA,
    REQUEST_SCHEMA,
    RESULT_SCHEMA,
    HarvestParams,
    InvalidRequest,
    Parameters,
    default_parameters,
    merge_parameter_dicts,
    rebalance,
    request_from_dict,
    request_from_json,
    request_to_dict,
    result_from_dict,
    result_to_dict,
)

from .builders import EXAMPLES


def _example(name="two_asset_rebalance"):
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def test_request_round_trips_through_its_json_form():
    data = _example("direct_index")
    request = request_from_dict(data)
    again = request_from_dict(request_to_dict(request))
    assert again == request


def test_result_is_json_serialisable_valid_and_round_trips():
    result = rebalance(request_from_dict(_example("harvest_substitute")))
    data = result_to_dict(result)
    text = json.dumps(data)
    jsonschema.validate(json.loads(text), RESULT_SCHEMA)
    assert result_to_dict(result_from_dict(data)) == data
    # money is rounded to cents
    for trade in data["trades"]:
        assert round(trade["value"], 2) == trade["value"]


def test_default_parameters_match_the_schema_defaults():
    # given the JSON form of the defaults
    defaults = default_parameters().to_dict()
    jsonschema.validate(defaults, PARAMETERS_SCHEMA)
    # then every group's schema default equals the dataclass default (forms show the truth)
    for group, schema in PARAMETERS_SCHEMA["properties"].items():
        if "properties" in schema:
            for leaf, leaf_schema in schema["properties"].items():
                if "default" in leaf_schema:
                    assert defaults[group][leaf] == leaf_schema["default"], f"{group}.{leaf}"
        elif "default" in schema:
            assert defaults[group] == schema["default"], group


def test_parameters_round_trip_and_switch_groups_with_enabled():
    params = Parameters.from_dict(
        {"harvest": {"enabled": True, "min_loss_value": 1000}, "cash": {"floor": 0.005}}
    )
    assert params.harvest == HarvestParams(min_loss_value=1000)
    assert params.cash.floor == 0.005 and params.cash.target == 0.01
    assert params.screen is None
    assert Parameters.from_dict(params.to_dict()) == params


def test_template_and_account_overrides_merge_key_by_key():
    template = {
        "harvest": {"enabled": True, "min_loss_value": 500, "min_loss_pct": 0.05},
        "cash": {"target": 0.02},
    }
    account = {"harvest": {"min_loss_value": 2000}, "screen": {"excluded_sectors": ["Energy"]}}
    merged = merge_parameter_dicts(template, account)
    assert merged["harvest"] == {"enabled": True, "min_loss_value": 2000, "min_loss_pct": 0.05}
    assert merged["cash"] == {"target": 0.02}
    params = Parameters.from_dict(merged)
    assert params.harvest.min_loss_value == 2000
    assert params.screen is None  # excluded sectors set, but the screen was not enabled


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["account"]["lots"][0].update(quantity=-5), "quantity"),
        (lambda d: d["account"]["lots"][0].update(symbol="XYZ"), "unknown symbol 'XYZ' in lot L1"),
        (lambda d: d["model"]["sleeves"][0].update(weight=0.7), "sum to"),
        (lambda d: d.update(as_of="2025-13-01"), "as_of"),
        (lambda d: d["parameters"].update(harvest={"enabled": True, "bogus": 1}), "bogus"),
        (lambda d: d["parameters"].update(trading={"lot_selection": "lifo"}), "lifo"),
    ],
)
def test_bad_input_is_an_invalid_request_naming_the_problem(mutate, fragment):
    from rebalancing.engine import rebalance as run

    data = _example()
    mutate(data)
    with pytest.raises(InvalidRequest) as err:
        run(request_from_dict(data))
    assert fragment in str(err.value)
    assert err.value.code == "invalid_request"


def test_malformed_json_is_an_invalid_request():
    with pytest.raises(InvalidRequest, match="malformed JSON"):
        request_from_json("{not json")


def test_schemas_are_valid_json_schemas():
    jsonschema.Draft202012Validator.check_schema(REQUEST_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(RESULT_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(PARAMETERS_SCHEMA)


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("account", "lots", 0, "quantity"), 1e300, "quantity of lot"),
        (("account", "cash"), -1e300, "account cash"),
        (("securities", 0, "price"), 1e200, "price of"),
    ],
)
def test_absurd_magnitudes_are_refused_naming_the_field(path, value, fragment):
    data = _example()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidRequest, match=fragment) as err:
        request_from_dict(data)
    assert "out of range" in str(err.value)


def test_the_committed_request_schema_has_the_parameters_the_dataclasses_describe():
    # given the parameters' definitions derived from the dataclasses (their one description)
    from rebalancing.engine.parameters import parameters_json_schema
    from rebalancing.engine.schemas.__main__ import main

    derived = parameters_json_schema()
    # then the published request schema carries exactly them (regenerate: python -m rebalancing.engine.schemas)
    assert REQUEST_SCHEMA["$defs"]["parameters"] == derived["parameters"]
    assert REQUEST_SCHEMA["$defs"]["instruction"] == derived["instruction"]
    assert main(["--check"]) == 0


def test_every_bounded_setting_is_refused_alike_by_the_schema_and_the_dataclass():
    # given each numeric setting of each group, one step outside its published bounds
    from dataclasses import fields

    from rebalancing.engine import parameters as p

    checked = 0
    for group, cls, _ in p._GROUPS:
        schema = PARAMETERS_SCHEMA["properties"][group]["properties"]
        for f in fields(cls):
            leaf = schema[f.name]
            leaf = {**PARAMETERS_SCHEMA["$defs"]["fraction"], **leaf} if "$ref" in leaf and "fraction" in leaf["$ref"] else leaf
            for bad in (leaf.get("minimum", 0) - 1, leaf.get("maximum", 1e15) * 2):
                if "minimum" not in leaf and "exclusiveMinimum" not in leaf:
                    continue
                # then the JSON path and the direct construction both refuse it, naming the setting
                with pytest.raises(InvalidRequest, match=f"{group}.{f.name}"):
                    Parameters.from_dict({group: {"enabled": True, f.name: bad} if group in p._SWITCHED else {f.name: bad}})
                with pytest.raises(InvalidRequest, match=f"{group}.{f.name}"):
                    cls(**{f.name: bad})
                checked += 1
    assert checked >= 20


def test_a_money_setting_is_capped_even_in_a_switched_off_group_and_the_cap_is_published():
    # given every money setting (money=True) of every group, and the cap the engine holds money to
    from dataclasses import fields

    from rebalancing.engine import parameters as p

    money = [(group, f.name) for group, cls, _ in p._GROUPS for f in fields(cls) if f.metadata.get("money")]
    assert len(money) == 4
    for group, name in money:
        # then the published schema carries the cap (forms and API clients see it)
        assert PARAMETERS_SCHEMA["properties"][group]["properties"][name]["maximum"] == p.MAX_MONEY
        # and a value over it is refused, naming the setting, whether its group is on or off
        for enabled in ([True, False] if group in p._SWITCHED else [None]):
            leaves = {name: p.MAX_MONEY * 1.5} | ({} if enabled is None else {"enabled": enabled})
            with pytest.raises(InvalidRequest, match=rf"{group}\.{name}: must be from 0 to 1e\+15, got 1\.5e\+15"):
                Parameters.from_dict({group: leaves})
        # while the cap itself is a value it may take
        Parameters.from_dict({group: {name: p.MAX_MONEY}})


def test_parameters_survive_their_json_form_whatever_is_switched_on():
    import random

    rng = random.Random(15)
    symbols = ["AAA", "BBB", "CCC"]
    for _ in range(200):
        data = {
            "transition": {"enabled": rng.random() < 0.5, "max_net_gain_per_run": rng.choice([None, 1000.0]),
                           "substitutes": {"AAA": "BBB"} if rng.random() < 0.5 else {}},
            "screen": {"enabled": rng.random() < 0.5, "excluded_symbols": rng.sample(symbols, rng.randint(0, 2)),
                       "rescale": rng.choice(["pro_rata", "track_benchmark"]), "min_esg_score": rng.choice([None, 4.0])},
            "harvest": {"enabled": rng.random() < 0.5, "min_loss_pct": rng.random()},
            "wash_sale": {"equivalent_groups": [rng.sample(symbols, 2)] if rng.random() < 0.5 else [],
                          "allow": rng.random() < 0.5},
            "removed_asset_classes": rng.sample(["bonds", "reits"], rng.randint(0, 2)),
            "direct_index": {"us": {"max_names": rng.choice([None, 50])}} if rng.random() < 0.5 else {},
            "restrictions": {"hold": rng.sample(symbols, rng.randint(0, 3))},  # (what the screen sells: below)
            "cash": {"target": rng.random() / 10, "floor": 0.0},
            "drift": {"enabled": rng.random() < 0.5, "relative_band": rng.random() * 10},
            "trading": {"lot_selection": rng.choice(["tax_optimal", "highest_cost", "fifo"]),
                        "whole_shares": rng.random() < 0.5, "max_turnover": rng.choice([None, 0.3])},
            "instructions": [{"kind": "raise_cash", "amount": 100.0}] if rng.random() < 0.5 else [],
        }
        if data["screen"]["enabled"]:  # a screen selling what a restriction holds is refused (test_parameter_conflicts)
            data["restrictions"]["hold"] = [h for h in data["restrictions"]["hold"]
                                            if h not in data["screen"]["excluded_symbols"]]
        params = Parameters.from_dict(data)
        # then the JSON form is the input with every missing leaf at its default, and reads back equal
        assert Parameters.from_dict(params.to_dict()) == params
        for group, values in data.items():
            # (a switched-off group keeps no settings: its leaves read back at their defaults)
            if isinstance(values, dict) and group != "direct_index" and values.get("enabled", True):
                assert {k: params.to_dict()[group][k] for k in values} == values, group
        assert (params.transition is None) == (not data["transition"]["enabled"])
        assert params.trading.lot_selection == data["trading"]["lot_selection"]
