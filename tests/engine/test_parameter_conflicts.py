"""Parameters that ask for opposite things of one security are refused where they are set, naming
both settings: a harvest substitute that is the harvested security itself (buying it back washes
the loss), a security the screen sells and a restriction holds as it is."""

import pytest

from rebalancing.engine import InvalidRequest, Parameters


def test_a_security_named_as_its_own_harvest_substitute_is_refused():
    with pytest.raises(InvalidRequest, match="harvest.substitutes names VTI as its own substitute") as refused:
        Parameters.from_dict({"harvest": {"enabled": True, "substitutes": {"BND": "AGG", "VTI": "VTI"}}})
    assert refused.value.detail["parameter"] == "harvest.substitutes"
    assert Parameters.from_dict({"harvest": {"enabled": True, "substitutes": {"VTI": "ITOT"}}}).harvest.substitutes == {
        "VTI": "ITOT"}


def test_a_security_the_screen_sells_and_a_restriction_holds_is_refused_naming_both():
    with pytest.raises(InvalidRequest, match="screen.excluded_symbols and restrictions.hold both name VOO") as refused:
        Parameters.from_dict({"screen": {"enabled": True, "excluded_symbols": ["XOM", "VOO"]},
                              "restrictions": {"hold": ["VOO", "AAPL"]}})
    assert refused.value.detail["conflicts"] == ["screen.excluded_symbols", "restrictions.hold"]


@pytest.mark.parametrize("data", [
    {"screen": {"enabled": False, "excluded_symbols": ["VOO"]}, "restrictions": {"hold": ["VOO"]}},  # screen off
    {"screen": {"enabled": True, "excluded_symbols": ["XOM"]}, "restrictions": {"hold": ["VOO"]}},
    {"screen": {"enabled": True, "excluded_symbols": ["VOO"]}, "restrictions": {"do_not_buy": ["VOO"]}},
])
def test_settings_that_agree_are_accepted(data):
    params = Parameters.from_dict(data)
    restrictions = data["restrictions"]
    assert all(tuple(restrictions[k]) == getattr(params.restrictions, k) for k in restrictions)
    assert (params.screen is None) == (not data["screen"]["enabled"])


def test_an_absurd_instruction_amount_is_refused_for_its_size_not_its_sign():
    from rebalancing.engine import Instruction

    with pytest.raises(InvalidRequest, match=r"amount 1e\+30 is beyond any account \(at most 1e\+15\)"):
        Instruction.from_dict({"kind": "sell_buy", "sell": "VTI", "amount": 1e30})
    with pytest.raises(InvalidRequest, match="quantity must be a non-negative number"):
        Instruction.from_dict({"kind": "sell_buy", "sell": "VTI", "quantity": -3})
