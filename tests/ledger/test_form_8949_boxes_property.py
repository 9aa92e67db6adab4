"""Form 8949's box over random sold lots against a plain restatement of the rule, and the box
totals against the lines they sum (no database)."""

from datetime import date
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.ledger.form_8949 import box_of
from rebalancing.ledger.reports import RealisedRow, box_totals

# Days around both applicable dates, and far from them.
DAYS = st.one_of(
    st.sampled_from([date(2010, 12, 31), date(2011, 1, 1), date(2011, 12, 31), date(2012, 1, 1)]),
    st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 12, 31)),
)


def reference_box(term, fund, bought, in_account, gift, inherited) -> tuple[str, bool | None]:
    """Covered: bought for cash in the account on or after 2011-01-01 (stock) or 2012-01-01 (a
    fund). Known: when the date alone rules it out, or the ledger bought it there itself."""
    first = date(2012, 1, 1) if fund else date(2011, 1, 1)
    too_early = bought < first
    covered = in_account and not gift and not inherited and not too_early
    known = not inherited and (too_early or (in_account and not gift))
    letter = {"short": "AB", "long": "DE"}[term][0 if covered else 1]
    return letter, (covered if known else None)


@settings(max_examples=400, deadline=None)
@given(term=st.sampled_from(["short", "long"]), fund=st.booleans(), bought=DAYS, in_account=st.booleans(),
       gift=st.booleans(), inherited=st.booleans())
def test_the_box_is_the_reference_rules(term, fund, bought, in_account, gift, inherited):
    box = box_of(term=term, fund=fund, bought=bought, in_account=in_account, gift=gift, inherited=inherited)
    assert (box.letter, box.basis_reported) == reference_box(term, fund, bought, in_account, gift, inherited)
    assert box.letter not in "CF"  # every ledger sale is made through a broker that files a 1099-B
    assert "," not in box.reason and box.reason


MONEY = st.integers(min_value=0, max_value=100_000).map(lambda c: D(c) / 100)


@st.composite
def rows(draw):
    proceeds, basis = draw(MONEY), draw(MONEY)
    loss = max(basis - proceeds, D(0))
    adjustment = draw(st.sampled_from([D(0), loss]))
    bought = draw(DAYS)
    wash = draw(st.sampled_from([D(0), D("1.00")]))
    return RealisedRow(
        account_number="A", household=draw(st.sampled_from(["H-1", "H-2"])), symbol="X", lot_id="L",
        quantity=D(1), acquired=bought, purchased=bought, sold=date(2026, 6, 1),
        term=draw(st.sampled_from(["short", "long"])), proceeds=proceeds, cost_basis=basis, adjustment=adjustment,
        fund=draw(st.booleans()), bought_in_account=draw(st.booleans()), gifted=draw(st.booleans()),
        wash_basis=wash, basis_unknown_to_broker=draw(st.sampled_from([D(0), wash])),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(rows(), max_size=30))
def test_box_totals_sum_their_lines_and_add_up_to_each_terms_total(lines):
    totals = box_totals(lines)
    assert sum(t.lines for t in totals) == len(lines)
    for household in ("H-1", "H-2"):
        for term, boxes in (("short", "ABC"), ("long", "DEF")):
            mine = [r for r in lines if r.household == household and r.term == term]
            theirs = [t for t in totals if t.household == household and t.box in boxes]
            assert sum((t.gain_or_loss for t in theirs), D(0)) == sum((r.gain_or_loss for r in mine), D(0))
            assert sum((t.proceeds for t in theirs), D(0)) == sum((r.proceeds for r in mine), D(0))
    for t in totals:
        # Line 1a / 8a: Box A / D lines with no code (W, or B: basis a wash sale added that the 1099-B
        # leaves out) and nothing in column (g), only.
        members = [r for r in lines if r.household == t.household and r.schedule_d_line == t.line]
        assert len(members) == t.lines and all(r.box.letter == t.box for r in members)
        if t.line in ("1a", "8a"):
            assert all(not r.adjustment and not r.basis_unknown_to_broker and not r.code for r in members)
        assert t.unknown == sum(r.box.basis_reported is None for r in members)
    assert len({(t.household, t.line) for t in totals}) == len(totals)
