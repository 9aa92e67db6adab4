"""A request with a day or a number out of range is an ``InvalidRequest`` naming it (the CLI answers
its JSON error with status 2), never an OverflowError or a TypeError from deep inside the engine.

JSON allows an integer of 400 digits (Python's reader takes it as an int no float holds) and any
day Python's calendar holds; the engine counts holding periods and wash-sale windows forward from
a day, which near 9999-12-31 runs off the calendar.
"""

import json
from dataclasses import replace
from datetime import date

import pytest

from rebalancing.engine import InvalidRequest, rebalance
from rebalancing.engine.__main__ import main
from rebalancing.engine.household import rebalance_household
from rebalancing.engine.request import HouseholdTrade, Security
from rebalancing.engine.serialization import household_request_from_dict, request_from_dict, request_from_json

from .builders import EXAMPLES

BASE = json.loads((EXAMPLES / "restrictions_cash_drift.json").read_text())  # as_of 2025-06-30
HOUSEHOLD = json.loads((EXAMPLES / "household" / "three_accounts.json").read_text())  # TAX, IRA, ROTH
BIG = 10**400  # no float holds it


def _with(data: dict, path: tuple, value) -> dict:
    data = json.loads(json.dumps(data))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


CASES = {
    "as_of in year 1": (("as_of",), "0001-01-01", "as_of"),
    "as_of 9999-12-31": (("as_of",), "9999-12-31", "as_of"),
    "as_of the day before the first": (("as_of",), "1899-12-31", "as_of"),
    "a price beyond a float": (("securities", 0, "price"), BIG, "securities/0/price"),
    "an ESG score beyond a float": (("securities", 0, "esg_score"), BIG, "securities/0/esg_score"),
    "a lot quantity beyond a float": (("account", "lots", 0, "quantity"), BIG, "account/lots/0/quantity"),
    "a cost basis beyond a float": (("account", "lots", 0, "cost_basis"), BIG, "account/lots/0/cost_basis"),
    "cash beyond a float": (("account", "cash"), BIG, "account/cash"),
    "a tax rate beyond a float": (("account", "short_term_rate"), BIG, "account/short_term_rate"),
    "realised gains beyond a float": (("account", "realised_short_term_ytd"), BIG, "account/realised_short_term_ytd"),
    "a carried loss beyond a float": (("account", "loss_carryforward_long"), BIG, "account/loss_carryforward_long"),
    "a sleeve weight beyond a float": (("model", "sleeves", 0, "weight"), BIG, "model/sleeves/0/weight"),
    "a model weight beyond a float": (("model", "sleeves", 0, "holdings", "VTI"), BIG, "model/sleeves/0/holdings/VTI"),
    "a parameter beyond a float": (("parameters", "cash", "target"), BIG, "parameters/cash/target"),
    "a household trade's gain beyond a float": (
        ("account", "household_trades"),
        [{"date": "2025-06-20", "symbol": "VTI", "side": "sell", "quantity": 1, "realised_gain": BIG}],
        "account/household_trades/0/realised_gain"),
    "a tax return's year beyond a float": (
        ("account", "tax_returns"),
        [{"id": "R", "short_term_ytd": BIG, "long_term_ytd": 0, "carried_short": 0, "carried_long": 0,
          "loss_limit": 3000, "share": 1}],
        "account/tax_returns/0/short_term_ytd"),
    "a lot acquired in year 1": (("account", "lots", 0, "acquired"), "0001-01-01", "lot L1"),
    "a household trade on 9999-12-31": (
        ("account", "household_trades"), [{"date": "9999-12-31", "symbol": "VTI", "side": "buy", "quantity": 1}],
        "household trade in VTI"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_out_of_range_request_is_an_invalid_request_naming_the_field(case):
    path, value, named = CASES[case]
    with pytest.raises(InvalidRequest) as caught:
        rebalance(request_from_json(json.dumps(_with(BASE, path, value))))
    assert named in f"{caught.value.message} {caught.value.detail}"
    assert len(caught.value.message) < 300  # the 401 digits are counted, not spelt out


@pytest.mark.parametrize("case", ["as_of in year 1", "a price beyond a float", "a lot quantity beyond a float"])
def test_the_cli_answers_json_and_status_2_not_a_traceback(case, tmp_path, capsys):
    path, value, named = CASES[case]
    request = tmp_path / "request.json"
    request.write_text(json.dumps(_with(BASE, path, value)))
    assert main(["solve", str(request)]) == 2
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "invalid_request"
    assert named in f"{error['message']} {error['detail']}"


@pytest.mark.parametrize("day", ["1900-01-01", "2200-12-31"])
def test_the_first_and_last_days_are_requests_the_engine_answers(day):
    data = _with(BASE, ("as_of",), day)
    for lot in data["account"]["lots"]:
        lot["acquired"] = "1900-01-01"
    result = rebalance(request_from_dict(data))
    assert result.as_of == date.fromisoformat(day)


def test_the_dataclasses_refuse_what_the_json_reader_refuses():
    # rebalance() called directly, without the JSON reader
    request = request_from_dict(BASE)
    for as_of in (date(1, 1, 1), date(1899, 12, 31), date(2201, 1, 1), date.max):
        with pytest.raises(InvalidRequest, match="as_of"):
            rebalance(replace(request, as_of=as_of))
    late_lot = replace(request.account.lots[0], acquired=date(9999, 12, 31))
    with pytest.raises(InvalidRequest, match="lot L1"):
        replace(request, account=replace(request.account, lots=(late_lot, *request.account.lots[1:])))
    with pytest.raises(InvalidRequest, match="price of VTI"):
        Security("VTI", BIG, "us_equity")
    with pytest.raises(InvalidRequest, match="account cash"):
        replace(request.account, cash=BIG)
    with pytest.raises(InvalidRequest, match="household trade"):
        HouseholdTrade(date(2025, 6, 1), "VTI", "sell", 1.0, realised_gain=-BIG)


def test_the_bounds_are_the_books_first_day_and_a_day_two_centuries_on():
    from rebalancing.engine.request import EARLIEST_DAY, LATEST_DAY

    assert date(1900, 1, 1) == EARLIEST_DAY
    assert date(2200, 12, 31) == LATEST_DAY


def test_a_lot_acquired_after_the_request_day_is_refused_naming_it():
    # A lot bought in 2099 held on 2025-06-30 would be solved as a short-term lot (its holding period
    # and wash-sale window counted from a future day).
    with pytest.raises(InvalidRequest, match="lot L1 was acquired on 2099-01-01, after the request's day 2025-06-30"):
        request_from_dict(_with(BASE, ("account", "lots", 0, "acquired"), "2099-01-01"))
    # One acquired on the request's day is held.
    assert request_from_dict(_with(BASE, ("account", "lots", 0, "acquired"), "2025-06-30")).account.lots[0].acquired \
        == date(2025, 6, 30)


@pytest.mark.parametrize(("path", "value", "named"), [
    (("accounts", 0, "allowed_asset_classes"), -1, "allowed_asset_classes"),  # was TypeError: not iterable
    (("accounts", 0, "allowed_asset_classes"), "equity", "allowed_asset_classes"),  # was read as e, q, u...
    (("accounts", 0, "allowed_asset_classes"), [1], "allowed_asset_classes"),
    (("accounts", 0, "account", "lots", 0, "acquired"), "9999-12-31", "lot t1"),  # was OverflowError
    (("accounts", 0, "account", "cash"), BIG, "accounts/0/account/cash"),  # was OverflowError
    (("tax_budget",), BIG, "tax_budget"),
    (("drift",), {"absolute_band": BIG}, "drift/absolute_band"),
    (("location",), {"order": -1}, "location"),
    (("location",), {"inefficient": -1}, "location"),
    (("as_of",), "9999-12-31", "as_of"),
])
def test_a_bad_household_request_is_an_invalid_request(path, value, named, tmp_path, capsys):
    data = _with(HOUSEHOLD, path, value)
    with pytest.raises(InvalidRequest) as caught:
        rebalance_household(household_request_from_dict(data))
    assert named in f"{caught.value.message} {caught.value.detail}"
    request = tmp_path / "household.json"
    request.write_text(json.dumps(data))
    assert main(["household", str(request)]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "invalid_request"
