"""A group of settings switched off (harvesting, a transition, ...) is checked where it is set, as it
would be switched on: a template saved with harvesting off and a substitute that is the harvested
security itself was accepted, and failed only once an account switched harvesting on."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import InvalidRequest, Parameters
from rebalancing.engine.parameters import _SWITCHED


def _outcome(data):
    try:
        Parameters.from_dict(data)
    except InvalidRequest as exc:
        return str(exc)
    return None


def test_a_substitute_that_is_itself_is_refused_with_harvesting_off():
    with pytest.raises(InvalidRequest, match="names VTI as its own substitute"):
        Parameters.from_dict({"harvest": {"enabled": False, "substitutes": {"VTI": "VTI"}}})
    # ...and a proper one is kept quiet while harvesting is off
    assert Parameters.from_dict({"harvest": {"substitutes": {"VTI": "SCHB"}}}).harvest is None


@settings(max_examples=200, deadline=None)
@given(group=st.sampled_from(sorted(_SWITCHED)),
       leaf=st.sampled_from(["substitutes", "min_loss_pct", "min_loss_value", "max_net_gain_per_run", "enabled_x"]),
       value=st.one_of(st.just({"VTI": "VTI"}), st.just({"VTI": "SCHB"}), st.floats(-2, 2), st.just(-1), st.none()))
def test_off_is_refused_exactly_when_on_is(group, leaf, value):
    # The rule written plainly: switching a group off never makes a setting acceptable that on is not.
    on = _outcome({group: {"enabled": True, leaf: value}})
    off = _outcome({group: {"enabled": False, leaf: value}})
    assert (off is None) == (on is None), (on, off)
