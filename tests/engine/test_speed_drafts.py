"""Result objects built as a plain twin and then made the frozen class (``result.draft_of`` and
``finished``, the trades' and lot sales' fast path) are, in every way a caller can see, the objects
the class's own constructor builds."""

import copy
import pickle
from dataclasses import FrozenInstanceError, asdict, dataclass, fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebalancing.engine import result
from rebalancing.engine.result import LotSale, Trade, build_many, draft_of, finished

_floats = st.floats(allow_nan=False, allow_infinity=False) | st.just(-0.0)
_sales = st.tuples(st.text(max_size=6), _floats, _floats, _floats, _floats, st.sampled_from(("short", "long")), _floats)


def _same(built, made) -> None:
    """Everything a caller can read of the two objects, and how they behave, alike."""
    assert type(built) is type(made)
    assert built == made and repr(built) == repr(made) and hash(built) == hash(made)
    assert all(
        repr(getattr(built, f.name)) == repr(getattr(made, f.name)) for f in fields(made)
    )  # (repr: -0.0 is not 0.0)
    assert asdict(built) == asdict(made)
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.deepcopy(built) == made
    assert replace(built) == made
    with pytest.raises(FrozenInstanceError):
        built.__setattr__(fields(made)[0].name, None)
    with pytest.raises((AttributeError, TypeError)):
        built.extra = 1  # slotted: no attribute beyond the fields


@given(st.lists(_sales, max_size=8))
def test_lot_sales_built_in_bulk_are_the_constructors(rows):
    built = build_many(LotSale, *zip(*rows, strict=True)) if rows else build_many(LotSale, *[[]] * 7)
    assert len(built) == len(rows)
    for b, row in zip(built, rows, strict=True):
        _same(b, LotSale(*row))


@given(st.lists(st.tuples(st.text(max_size=5), st.sampled_from(("buy", "sell")), _floats, _floats, _floats,
                          st.lists(st.sampled_from(result.REASONS), max_size=3).map(tuple),
                          st.lists(_sales, max_size=3), _floats, _floats), max_size=6))
def test_trades_finished_from_drafts_are_the_constructors(rows):
    rows = [(*row[:6], tuple(LotSale(*s) for s in row[6]), *row[7:]) for row in rows]
    draft = draft_of(Trade)
    made = finished(Trade, [draft(*row) for row in rows])
    assert [type(m) for m in made] == [Trade] * len(rows)
    assert made == [Trade(*row) for row in rows]
    for m, row in zip(made, rows, strict=True):
        _same(m, Trade(*row))


def test_every_result_class_has_a_twin_of_its_layout():
    # (``finished`` assigns ``__class__``, which CPython allows only between classes of one layout:
    # a field added to a result class must keep this true, or the assignment raises.)
    for cls in (LotSale, Trade, result.Summary, result.Alert, result.BlockedBuy, result.Diagnostics,
                result.RebalanceResult):
        assert draft_of(cls).__slots__ == cls.__slots__
        values = [object() for _ in fields(cls)]
        (made,) = finished(cls, [draft_of(cls)(*values)])
        assert type(made) is cls and [getattr(made, f.name) for f in fields(cls)] == values


def test_a_class_of_another_layout_is_refused():
    @dataclass(frozen=True, slots=True)
    class Other:
        a: float
        b: float

    with pytest.raises(TypeError):
        finished(Other, [draft_of(LotSale)("L1", 1.0, 10.0, 8.0, 2.0, "long", 0.0)])
