"""Result objects built in bulk (``build_many``) are the ones their constructor builds."""

import pytest

from rebalancing.engine.result import LotSale, Trade, build_many


def test_build_many_equals_the_constructor():
    rows = [
        ("L1", 3.0, 300.0, 250.0, 50.0, "long", 0.0),
        ("L2", 1.5, 150.0, 180.0, -30.0, "short", 12.5),
    ]
    built = build_many(LotSale, *zip(*rows, strict=True))
    assert built == [LotSale(*row) for row in rows]
    assert [hash(b) for b in built] == [hash(LotSale(*row)) for row in rows]
    trade = build_many(
        Trade, ["VTI"], ["sell"], [4.5], [250.0], [1125.0], [("drift",)], [tuple(built)], [20.0], [0.5]
    )
    assert trade == [Trade("VTI", "sell", 4.5, 250.0, 1125.0, ("drift",), tuple(built), 20.0, 0.5)]


def test_build_many_objects_stay_frozen():
    (sale,) = build_many(LotSale, ["L1"], [1.0], [10.0], [8.0], [2.0], ["long"], [0.0])
    with pytest.raises(AttributeError):
        sale.gain = 0.0


def test_build_many_refuses_missing_or_ragged_columns():
    with pytest.raises(ValueError):
        build_many(LotSale, ["L1"], [1.0])
    with pytest.raises(ValueError):
        build_many(LotSale, ["L1", "L2"], [1.0], [10.0], [8.0], [2.0], ["long"], [0.0])
    assert build_many(LotSale, [], [], [], [], [], [], []) == []
