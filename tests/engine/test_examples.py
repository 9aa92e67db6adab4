"""Every example request solves, and request and result validate against the schemas."""

import json

import jsonschema
import pytest

from rebalancing.engine import REQUEST_SCHEMA, RESULT_SCHEMA, rebalance, request_from_dict, result_to_dict

from .builders import EXAMPLES

NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
# Each parameter has at least one example (the issue asks for one per parameter).
COVERED = {
    "transition": "transition_tax_budget",
    "screen": "screen_esg",
    "harvest": "harvest_substitute",
    "removed_asset_classes": "remove_asset_class",
    "direct_index": "direct_index",
    "restrictions": "restrictions_cash_drift",
    "instructions": "instructions_sell_buy_raise_cash",
    "wash_sale": "wash_sale_allowed",
    "cash": "restrictions_cash_drift",
    "drift": "restrictions_cash_drift",
    "trading": "restrictions_cash_drift",
}


def test_there_is_an_example_for_every_parameter():
    for parameter, name in COVERED.items():
        data = json.loads((EXAMPLES / f"{name}.json").read_text())
        assert name in NAMES
        assert parameter in data["parameters"]


@pytest.mark.parametrize("name", NAMES)
def test_example_solves_and_validates(name):
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    jsonschema.validate(data, REQUEST_SCHEMA)
    result = rebalance(request_from_dict(data))
    out = result_to_dict(result)
    jsonschema.validate(out, RESULT_SCHEMA)
    assert result.summary.cash_after >= -1e-6
    assert out["summary"]["trade_count"] == len(out["trades"])
