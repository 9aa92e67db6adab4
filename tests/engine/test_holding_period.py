"""The holding-period test (short- or long-term) everywhere the product decides it, against a
deliberately simple reading of its sources over many random dates near the one-year mark.

Sources: IRC §1222 (long-term: held "more than 1 year"); IRS Pub. 550 ("start counting on the date
after the day you acquired the property ... the day you disposed of the property is part of your
holding period"); Rev. Rul. 66-7, 1966-1 C.B. 188 (the period runs by calendar months, not days;
property acquired on the last day of a month must be held until the first day of the thirteenth
month after it to be held more than a year).

The reference: the count starts the day after the acquisition; twelve calendar months later the
same (month, day) starts the thirteenth month, and a sale on or after it is long-term. Compared
as (year, month, day) tuples, so a count begun on 29 February needs no date arithmetic: in a
common year nothing equals (year, 2, 29), and 1 March is the first day after it.
"""

import random
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from rebalancing.backtest.account import SimAccount
from rebalancing.engine import plan_withdrawal, rebalance
from rebalancing.engine.tax import is_long_term, long_term_from, long_term_mask, term
from rebalancing.ledger.wash_sales import Draw, Lot, household_replay

from .builders import funds, lot, model, request
from .household_builders import household, member
from .household_builders import lot as household_lot


def reference_long_term(acquired: date, sold: date) -> bool:
    start = acquired + timedelta(days=1)
    return (sold.year, sold.month, sold.day) >= (start.year + 1, start.month, start.day)


def random_pairs(seed: int, n: int) -> list[tuple[date, date]]:
    """(acquired, sold) pairs, most within a few days of the one-year mark, many on month ends
    and in February of leap and common years."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        year = rng.randint(1995, 2030)
        kind = rng.random()
        if kind < 0.3:  # the last day of a month
            month = rng.randint(1, 12)
            acquired = date(year, month % 12 + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
        elif kind < 0.6:  # late February
            acquired = date(year, 2, rng.choice([26, 27, 28, 29 if year % 4 == 0 else 28]))
        else:
            acquired = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
        sold = acquired + timedelta(days=rng.choice([rng.randint(360, 370), rng.randint(0, 800)]))
        out.append((acquired, sold))
    return out


@pytest.mark.parametrize(
    ("acquired", "sold", "long"),
    [
        (date(2023, 2, 28), date(2024, 2, 29), False),  # the twelfth month ends on 29 Feb (Rev. Rul. 66-7)
        (date(2023, 2, 28), date(2024, 3, 1), True),
        (date(2024, 2, 29), date(2025, 2, 28), False),
        (date(2024, 2, 29), date(2025, 3, 1), True),
        (date(2024, 2, 28), date(2025, 2, 28), False),  # exactly a year (Pub. 550's example's shape)
        (date(2024, 2, 28), date(2025, 3, 1), True),
        (date(2023, 1, 31), date(2024, 1, 31), False),  # bought on the 31st
        (date(2023, 1, 31), date(2024, 2, 1), True),
        (date(2023, 3, 31), date(2024, 3, 31), False),
        (date(2023, 3, 31), date(2024, 4, 1), True),
        (date(2022, 2, 5), date(2023, 2, 5), False),  # Pub. 550's example
        (date(2022, 2, 5), date(2023, 2, 6), True),
    ],
)
def test_worked_dates(acquired, sold, long):
    assert is_long_term(acquired, sold) is long
    assert reference_long_term(acquired, sold) is long
    assert term(acquired, sold) == ("long" if long else "short")


def test_the_engine_rule_and_its_vectorised_form_agree_with_the_reference_over_random_dates():
    pairs = random_pairs(1, 20_000)
    for acquired, sold in pairs:
        assert is_long_term(acquired, sold) is reference_long_term(acquired, sold), (acquired, sold)
        # the first long-term day is the first day the reference says long-term
        first = long_term_from(acquired)
        assert reference_long_term(acquired, first) and not reference_long_term(acquired, first - timedelta(days=1))
    for sold in sorted({s for _, s in pairs})[:400] + [date(2024, 2, 29), date(2025, 3, 1), date(2028, 2, 29)]:
        acquired = [sold - timedelta(days=d) for d in range(355, 380)] + [date(2023, 2, 28), date(2024, 2, 29)]
        mask = long_term_mask(np.array([d.toordinal() for d in acquired]), sold)
        assert mask.tolist() == [reference_long_term(d, sold) for d in acquired], sold


def test_a_proposal_labels_each_lot_sale_by_the_reference():
    # given lots of one fund bought on random days around the year mark, all sold by a proposal
    rng = random.Random(2)
    for acquired_days in [[date(2023, 2, 28), date(2023, 3, 1), date(2023, 2, 27)]] + [
        [a for a, _ in random_pairs(seed, 4)] for seed in range(3, 13)
    ]:
        sold_on = max(acquired_days) + timedelta(days=rng.randint(363, 368))
        if acquired_days[0] == date(2023, 2, 28):
            sold_on = date(2024, 2, 29)
        lots = [lot(f"L{i}", "EQ", 10, 900.0 + 10 * i, day) for i, day in enumerate(acquired_days)]
        req = request(lots, funds(EQ=100.0, BD=100.0), model(BD=1.0), cash=0.0)
        result = rebalance(replace(req, as_of=sold_on))
        sales = {s.lot_id: s.term for t in result.trades for s in t.lots}
        assert sales == {f"L{i}": term_of(day, sold_on) for i, day in enumerate(acquired_days)}


def term_of(acquired: date, sold: date) -> str:
    return "long" if reference_long_term(acquired, sold) else "short"


def test_a_withdrawal_or_rmd_plans_sales_by_the_reference():
    # given a taxable account whose lots were bought on random days around a year before the plan
    from .builders import AS_OF

    for seed in range(20):
        rng = random.Random(seed)
        days = [AS_OF - timedelta(days=rng.randint(360, 372)) for _ in range(5)]
        lots = [household_lot(f"L{i}", "EQ", 10, 500 + 100 * i, d) for i, d in enumerate(days)]
        plan = plan_withdrawal(household(member("TAX", "taxable", lots)), amount=4_900.0)
        terms = {s.lot_id: s.term for _, _, s in plan.sales}
        assert terms and terms == {f"L{i}": term_of(d, AS_OF) for i, d in enumerate(days) if f"L{i}" in terms}


def test_the_backtests_account_books_each_sale_by_the_reference():
    for acquired, sold in random_pairs(21, 2_000):
        account = SimAccount(cash=1_000.0)
        bought = account.buy("X", 1, 100.0, acquired)
        account.sell(bought.id, 1, 150.0, sold)
        assert account.realised[sold.year] == ([0.0, 50.0] if reference_long_term(acquired, sold) else [50.0, 0.0])


def test_the_ledgers_wash_sale_replay_labels_each_sale_by_the_reference():
    # given one lot sold at a gain (no wash sale): the sale's term is its own holding period's
    from decimal import Decimal as D

    for acquired, sold in random_pairs(31, 2_000):
        draw = Draw(sale="S", sold=sold, named="L", quantity=D(1), proceeds=D(150), unadjusted=D(100))
        replay = household_replay([Lot("L", "A", True, "L", acquired, D(0), D(0), (draw,))])
        [piece] = replay.pieces
        assert piece.term == term_of(acquired, sold), (acquired, sold)


def reference_replacement_start(purchased: date, sold: date, sold_start: date) -> date:
    """IRC §1223(3): the replacement's holding period includes the sold shares'; a day held as
    both counts once. Counted day by day: the days the sold shares were held (after their start,
    to the sale), moved to end the day before the replacement's own days begin, or, for a
    replacement bought before the sale, whichever began first."""
    held_days = {sold_start + timedelta(days=d) for d in range(1, (sold - sold_start).days + 1)}
    own_days_begin = purchased + timedelta(days=1)
    if purchased >= sold:
        return own_days_begin - timedelta(days=len(held_days)) - timedelta(days=1)
    first = min(min(held_days, default=own_days_begin), own_days_begin)
    return first - timedelta(days=1)


def test_a_replacement_bought_before_or_after_the_loss_sale_starts_where_the_ledger_and_backtest_agree():
    from rebalancing.engine.tax import replacement_start
    from rebalancing.ledger.wash_sales import tacked_start

    rng = random.Random(41)
    for _ in range(3_000):
        sold_start = date(2020, 1, 1) + timedelta(days=rng.randint(0, 1_500))
        sold = sold_start + timedelta(days=rng.randint(1, 800))
        purchased = sold + timedelta(days=rng.randint(-30, 30))
        want = reference_replacement_start(purchased, sold, sold_start)
        assert replacement_start(purchased, sold, sold_start) == want
        assert tacked_start(purchased, sold, sold_start) == want
        # the backtest's account: a loss sale, then (or first) the replacement purchase
        account = SimAccount(cash=10**9)
        old = account.buy("X", 10, 100.0, sold_start)
        if purchased < sold:
            account.buy("X", 10, 90.0, purchased)
            account.sell(old.id, 10, 80.0, sold)
        else:
            account.sell(old.id, 10, 80.0, sold)
            account.buy("X", 10, 90.0, purchased)
        [replacement] = [lot for lot in account.lots.values() if lot.replacement]
        assert replacement.acquired == want, (sold_start, sold, purchased)


def test_a_replacement_of_a_long_held_lot_is_long_term_at_once():
    # bought 2020-01-02, sold at a loss 2026-06-01, bought back 2026-06-10 and sold 2026-06-20
    start = replacement_start_of(date(2026, 6, 10), date(2026, 6, 1), date(2020, 1, 2))
    assert term(start, date(2026, 6, 20)) == "long"


def replacement_start_of(purchased, sold, sold_start):
    from rebalancing.engine.tax import replacement_start

    return replacement_start(purchased, sold, sold_start)
