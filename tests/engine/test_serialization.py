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
