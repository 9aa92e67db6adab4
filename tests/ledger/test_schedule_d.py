"""Schedule D netting, the loss limit and the carryover (IRC §1211(b), §1212(b); Pub. 550; the
Capital Loss Carryover Worksheet), against worked examples and a second, simple implementation."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.ledger.filing_years import household_sheets
from rebalancing.ledger.schedule_d import ScheduleD


def sheet(short, long, carried_short=0, carried_long=0, limit=3000) -> ScheduleD:
    return ScheduleD(2026, D(short), D(long), D(carried_short), D(carried_long), D(limit))


def test_pub_550_a_net_loss_deducts_3000_and_carries_the_rest_short_term_first():
    # A 4,000 short-term and a 1,000 long-term loss: 3,000 deducted, all from the short-term loss;
    # 1,000 short-term and 1,000 long-term carried.
    s = sheet(-4000, -1000)
    assert (s.net, s.deduction, s.carried_out_short, s.carried_out_long) == (-5000, 3000, 1000, 1000)


def test_a_long_term_gain_absorbs_a_short_term_loss_before_the_deduction():
    s = sheet(-6000, 2000)
    assert (s.net, s.deduction, s.carried_out_short, s.carried_out_long) == (-4000, 3000, 1000, 0)


def test_married_filing_separately_deducts_1500():
    s = sheet(-1000, -2000, limit=1500)
    assert (s.deduction, s.carried_out_short, s.carried_out_long) == (1500, 0, 1500)


def test_a_net_gain_is_taxed_long_term_up_to_the_net_long_term_gain():
    s = sheet(-1000, 5000)
    assert (s.net, s.taxable_long, s.taxable_short, s.carried_out_short) == (4000, 4000, 0, 0)
    s = sheet(3000, -1000, carried_long=500)
    assert (s.net, s.taxable_long, s.taxable_short) == (1500, 0, 1500)


def test_the_chain_starts_with_the_opening_carryover_and_ends_when_it_is_used():
    years = household_sheets({2026: {"first": (D(-2000), D(0))}, 2028: {"first": (D(1000), D(0))}},
                             status_of=lambda year: "single", through=2028,
                             opening=(2026, {"first": (D(4000), D(0))}))
    chain = [years[y][""] for y in sorted(years)]
    assert [(s.year, s.carried_in_short, s.carried_out_short) for s in chain] == [
        (2026, 4000, 3000), (2027, 3000, 0), (2028, 0, 0)]


def simple_carryover(short, long, limit):
    """Loss pools: each side's loss first offsets the other side's gain, then the deduction takes
    short-term loss before long-term; what is left is carried with its character."""
    st_loss, lt_loss = max(-short, 0), max(-long, 0)
    st_gain, lt_gain = max(short, 0), max(long, 0)
    st_left = st_loss - min(st_loss, lt_gain)
    lt_left = lt_loss - min(lt_loss, st_gain)
    deduction = min(limit, st_left + lt_left)
    use_short = min(st_left, deduction)
    use_long = min(lt_left, deduction - use_short)
    return deduction, st_left - use_short, lt_left - use_long


money = st.integers(-50_000, 50_000).map(D)


@settings(max_examples=1000, deadline=None)
@given(money, money, st.integers(0, 20_000).map(D), st.integers(0, 20_000).map(D), st.sampled_from([D(3000), D(1500)]))
def test_the_worksheet_agrees_with_loss_pools(short, long, carried_short, carried_long, limit):
    s = ScheduleD(2026, short, long, carried_short, carried_long, limit)
    assert (s.deduction, s.carried_out_short, s.carried_out_long) == simple_carryover(
        short - carried_short, long - carried_long, limit)
    # Nothing is lost or made up: what was lost is deducted or carried.
    if s.net < 0:
        assert s.deduction + s.carried_out_short + s.carried_out_long == -s.net
    assert s.taxable_short + s.taxable_long == max(s.net, 0)
