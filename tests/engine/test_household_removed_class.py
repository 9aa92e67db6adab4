"""An account of a household removing an asset class is judged against the household's model.

The account's own solve runs on its placement (the classes the household puts in it), which need
not hold the class; until 2026-12-07 it was told "asset class 'bonds' is not in the model; nothing
to remove" although the household's model holds 40% bonds (and the account's bonds were sold).
"""

from __future__ import annotations

from dataclasses import replace

from rebalancing.engine import rebalance_household

from .household_builders import PARAMS, household, member
from .household_builders import lot as hlot


def _run(removed: tuple[str, ...]):
    p = replace(PARAMS, removed_asset_classes=removed)
    h = household(
        member("TX", "taxable", [hlot("1", "EQ", 300, 30000), hlot("2", "BD", 400, 20000)], parameters=p),
        member("IRA", "traditional", [hlot("3", "EQ", 500, 50000)], cash=1000),
    )
    return rebalance_household(h)


def test_removing_a_class_of_the_household_model_is_not_told_nothing_to_remove():
    res = _run(("bonds",))
    tx = res.accounts[0]
    assert ("BD", "sell") in {(t.symbol, t.side) for t in tx.trades}
    assert not any("nothing to remove" in w for w in tx.warnings), tx.warnings
    assert not any("nothing to remove" in w for w in res.warnings), res.warnings


def test_removing_a_class_the_household_model_lacks_is_still_told():
    res = _run(("commodities",))
    assert any("'commodities' is not in the model; nothing to remove" in w for w in res.accounts[0].warnings)
