"""The RMD of a traditional IRA: worked examples from the rule's sources, and a deliberately simple
second implementation (integer cents, the table as a list, start ages as date comparisons) over
random owners, years and balances."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import InvalidRequest
from rebalancing.engine.rmd import (
    applicable_age,
    correction_window_end,
    distributions_credited,
    first_distribution_year,
    missed_rmd_excise,
    required_minimum_distribution,
)

# Treas. Reg. §1.401(a)(9)-9(c), in tenths of a year, ages 72, 73, ... 120.
PERIODS_IN_TENTHS = [274, 265, 255, 246, 237, 229, 220, 211, 202, 194, 185, 177, 168, 160, 152, 144, 137, 129, 122,
                     115, 108, 101, 95, 89, 84, 78, 73, 68, 64, 60, 56, 52, 49, 46, 43, 41, 39, 37, 35, 34, 33, 31,
                     30, 29, 28, 27, 25, 23, 20]


def rmd(birth, year, value, spouse=None):
    return required_minimum_distribution(birth_date=birth, year=year, year_end_value=Decimal(value),
                                         spouse_birth_date=spouse)


# -- worked examples --------------------------------------------------------------------------------

@pytest.mark.parametrize(("birth", "start", "first"), [
    (date(1949, 6, 30), "70½", 2019),  # 70½ on 30 December 2019
    (date(1949, 1, 15), "70½", 2019),
    (date(1948, 7, 1), "70½", 2019),  # 70½ on 1 January 2019
    (date(1949, 7, 1), "72", 2021),  # SECURE Act: from 1 July 1949
    (date(1950, 12, 31), "72", 2022),
    (date(1951, 1, 1), "73", 2024),  # SECURE 2.0 §107
    (date(1959, 12, 31), "73", 2032),
    (date(1960, 1, 1), "75", 2035),
])
def test_rmds_start_at_the_age_the_owners_date_of_birth_sets(birth, start, first):
    assert applicable_age(birth) == start
    assert first_distribution_year(birth) == first


def test_the_rmd_is_the_year_end_value_over_the_uniform_lifetime_period_rounded_up_to_the_cent():
    # Born in October 1952: 73 in 2025, the first year; 100,000 / 26.5 = 3,773.5849...
    first = rmd(date(1952, 10, 1), 2025, "100000")
    assert (first.age, first.distribution_period, first.amount) == (73, Decimal("26.5"), Decimal("3773.59"))
    assert first.due and first.deadline == date(2026, 4, 1)  # the first may wait until 1 April
    later = rmd(date(1952, 10, 1), 2026, "96226.41")  # 74: 25.5, due by 31 December
    assert (later.amount, later.deadline) == (Decimal("3773.59"), date(2026, 12, 31))
    assert "25.5" in later.explanation and "31 December 2025" in later.explanation


def test_the_age_is_the_one_reached_on_the_birthday_in_the_year_even_after_the_distribution():
    # Born on 31 December 1950: 75 on 31 December 2025, so 2025's period is 24.6 even in January.
    assert rmd(date(1950, 12, 31), 2025, "24600").amount == Decimal("1000.00")


def test_past_120_the_period_stays_two_years():
    assert rmd(date(1900, 3, 3), 2026, "1000").amount == Decimal("500.00")
    assert rmd(date(1906, 3, 3), 2026, "1000").distribution_period == Decimal("2.0")


def test_before_the_first_year_nothing_is_due_and_the_owner_is_told_when():
    early = rmd(date(1953, 5, 5), 2025, "500000")  # 72 in 2025; 73 in 2026
    assert not early.due and early.amount == 0 and early.deadline is None
    assert "2026" in early.explanation and "1 April 2027" in early.explanation
    assert rmd(date(1960, 2, 2), 2034, "1").amount == 0  # 74 in 2034: 75 starts it


def test_a_spouse_exactly_ten_years_younger_keeps_the_uniform_table():
    # The ages reached in the year differ by 10: the Uniform Lifetime Table is built on that case.
    assert rmd(date(1950, 1, 1), 2026, "76000", spouse=date(1960, 12, 31)).amount == Decimal("3206.76")


def test_a_spouse_sole_beneficiary_more_than_ten_years_younger_is_refused_not_guessed():
    with pytest.raises(InvalidRequest, match="Joint and Last Survivor") as refused:
        rmd(date(1950, 12, 31), 2026, "76000", spouse=date(1961, 1, 1))  # a day over 10 years, 11 by the ages
    assert refused.value.detail == {"field": "spouse_birth_date"}


@pytest.mark.parametrize(("birth", "year", "value", "field"), [
    (date(1945, 1, 1), 2019, "1000", "year"),  # before 2020: not carried (2020's were waived)
    (date(2026, 1, 1), 2026, "1000", "owner_birth_date"),
    (date(1950, 1, 1), 2026, "-1", "year_end_value"),
    (date(1950, 1, 1), 2026, "NaN", "year_end_value"),
])
def test_what_the_table_cannot_answer_is_refused_naming_the_field(birth, year, value, field):
    with pytest.raises(InvalidRequest) as refused:
        rmd(birth, year, value)
    assert refused.value.detail == {"field": field}


# Treas. Reg. §1.401(a)(9)-9, Q&A-2 as in force before 2022 (before T.D. 9930), in tenths, ages 70 ... 115.
OLD_PERIODS_IN_TENTHS = [274, 265, 256, 247, 238, 229, 220, 212, 203, 195, 187, 179, 171, 163, 155, 148, 141, 134,
                         127, 120, 114, 108, 102, 96, 91, 86, 81, 76, 71, 67, 63, 59, 55, 52, 49, 45, 42, 39, 37,
                         34, 31, 29, 26, 24, 21, 19]


def test_2021_is_divided_by_the_table_in_force_before_2022():
    # Born 15 September 1949: 72 in 2021 (SECURE Act), the first year; 100,000 / 25.6 = 3,906.25, due by
    # 1 April 2022 (today's table would say 27.4)
    first = rmd(date(1949, 9, 15), 2021, "100000")
    assert (first.due, first.distribution_period, first.amount, first.deadline) == (
        True, Decimal("25.6"), Decimal("3906.25"), date(2022, 4, 1))
    assert "Uniform Lifetime Table before 2022, age 72" in first.explanation
    # and 2022 is today's table: 26.5 at 73
    assert rmd(date(1949, 9, 15), 2022, "100000").amount == Decimal("3773.59")
    # An owner of 70½ (born 1945): 76 in 2021, 22.0; due by 31 December
    later = rmd(date(1945, 3, 3), 2021, "22000")
    assert (later.amount, later.deadline) == (Decimal("1000.00"), date(2021, 12, 31))
    # 115 and older: 1.9
    assert rmd(date(1900, 1, 1), 2021, "19000").amount == Decimal("10000.00")


@pytest.mark.parametrize("birth", [date(1945, 3, 3), date(1948, 12, 31), date(1949, 6, 30)])
def test_2020s_rmd_was_waived_and_no_owner_has_2020_as_the_first_year(birth):
    # CARES Act §2203; 70½ was reached by 2019 (born before 1 July 1949), 72 from 2021 (born after)
    waived = rmd(birth, 2020, "500000")
    assert (waived.due, waived.amount, waived.deadline) == (False, Decimal("0.00"), None)
    assert "CARES Act" in waived.explanation
    assert first_distribution_year(birth) <= 2019 and first_distribution_year(date(1949, 7, 1)) == 2021


@settings(max_examples=200, deadline=None)
@given(birth=st.dates(date(1895, 1, 1), date(1950, 12, 31)), value_cents=st.integers(0, 10**13))
def test_2021_agrees_with_the_old_table_as_a_list(birth, value_cents):
    got = rmd(birth, 2021, Decimal(value_cents).scaleb(-2))
    due = first_distribution_year(birth) <= 2021
    tenths = OLD_PERIODS_IN_TENTHS[min(2021 - birth.year, 115) - 70] if due else None
    assert (got.due, got.amount) == (due, Decimal(-(-value_cents * 10 // tenths) if due else 0).scaleb(-2))


def test_a_2022_rmd_taken_by_1_april_2022_counts_for_2022_once_2021s_is_taken():
    # The audit's case: 2021's 3,906.25 taken in 2021, 2022's 3,773.59 on 15 February 2022; with
    # 2021's amount known, nothing of February's is 2021's
    got = distributions_credited([(date(2021, 11, 1), Decimal("3906.25")), (date(2022, 2, 15), Decimal("3773.59"))],
                                 first_year=2021, first_year_amount=rmd(date(1949, 9, 15), 2021, "100000").amount)
    assert got == {2021: Decimal("3906.25"), 2022: Decimal("3773.59")}


# -- a second implementation --------------------------------------------------------------------------

def simple_rmd_cents(birth: date, year: int, value_cents: int, spouse: date | None):
    """None: refused for the spouse; otherwise (due, the RMD in cents)."""
    if (birth.year, birth.month) < (1949, 7):
        reaches = birth.year + 70 if birth.month <= 6 else birth.year + 71
    elif birth.year < 1951:
        reaches = birth.year + 72
    elif birth.year < 1960:
        reaches = birth.year + 73
    else:
        reaches = birth.year + 75
    if year < reaches:
        return False, 0
    age = year - birth.year
    if spouse is not None and spouse.year - birth.year >= 11:
        return None
    tenths = PERIODS_IN_TENTHS[min(age, 120) - 72]
    return True, -(-value_cents * 10 // tenths)  # ceiling of cents / period


@settings(max_examples=500, deadline=None)
@given(birth=st.dates(date(1895, 1, 1), date(1975, 12, 31)), year=st.integers(2022, 2060),
       value_cents=st.integers(0, 10**13), spouse=st.none() | st.dates(date(1900, 1, 1), date(2000, 12, 31)))
def test_the_rmd_agrees_with_a_simple_implementation(birth, year, value_cents, spouse):
    value = Decimal(value_cents).scaleb(-2)
    expected = simple_rmd_cents(birth, year, value_cents, spouse)
    if expected is None:
        with pytest.raises(InvalidRequest):
            rmd(birth, year, value, spouse)
        return
    got = rmd(birth, year, value, spouse)
    assert (got.due, got.amount) == (expected[0], Decimal(expected[1]).scaleb(-2))
    if got.due:  # never a cent short, never a cent over
        assert got.amount * got.distribution_period >= value > (got.amount - Decimal("0.01")) * got.distribution_period


# -- which RMD a distribution counts for ------------------------------------------------------------

def credited(distributions, first_year=2025, amount="3773.59"):
    return distributions_credited([(day, Decimal(a)) for day, a in distributions], first_year=first_year,
                                  first_year_amount=Decimal(amount))


def test_what_is_taken_by_1_april_after_the_first_year_counts_for_the_first_year_first():
    # Pub. 590-B: an owner who waits until 1 April takes two RMDs that year; what comes out by then
    # is the first year's (Treas. Reg. §1.401(a)(9)-5, Q&A-1(c)), the rest counts for its own year.
    got = credited([(date(2025, 12, 10), "1000"), (date(2026, 3, 15), "3000"), (date(2026, 4, 2), "500")])
    assert got == {2025: Decimal("3773.59"), 2026: Decimal("726.41")}
    assert credited([(date(2026, 4, 1), "100")]) == {2025: Decimal("100")}  # 1 April itself is in time
    assert credited([(date(2026, 4, 2), "100")]) == {2026: Decimal("100")}
    # the first year all taken in it: what follows is the next year's
    assert credited([(date(2025, 6, 1), "4000"), (date(2026, 1, 5), "10")]) == {2025: Decimal("4000"),
                                                                               2026: Decimal("10")}
    # later years are calendar years, whatever the first year left
    assert credited([(date(2027, 2, 1), "10")]) == {2027: Decimal("10")}


def simple_credited_cents(distributions, first_year, amount_cents):
    """Day by day: a distribution in the first year counts for it; one in the next year by 1 April
    fills the first year's shortfall as it stands that day, and only the rest counts for its year."""
    out = {}
    for day, cents in sorted(distributions):
        year = day.year
        if year == first_year + 1 and (day.month, day.day) <= (4, 1):
            to_first = max(0, min(cents, amount_cents - out.get(first_year, 0)))
            out[first_year] = out.get(first_year, 0) + to_first
            cents -= to_first
        if cents:
            out[year] = out.get(year, 0) + cents
    return {y: c for y, c in out.items() if c}


@settings(max_examples=int(__import__("os").environ.get("PROP_N", 300)), deadline=None)
@given(first_year=st.integers(2022, 2040), amount_cents=st.integers(0, 10**9),
       taken=st.lists(st.tuples(st.integers(-1, 2), st.integers(1, 365), st.integers(1, 10**9)), max_size=8))
def test_crediting_agrees_with_a_day_by_day_implementation(first_year, amount_cents, taken):
    distributions = [(date(first_year + dy, 1, 1) + timedelta(days=min(d, 364) - 1), cents)
                     for dy, d, cents in taken]
    got = distributions_credited([(day, Decimal(c).scaleb(-2)) for day, c in distributions], first_year=first_year,
                                 first_year_amount=Decimal(amount_cents).scaleb(-2))
    assert {y: v for y, v in got.items() if v} == {
        y: Decimal(c).scaleb(-2) for y, c in simple_credited_cents(distributions, first_year, amount_cents).items()}
    assert sum(got.values()) == sum(Decimal(c).scaleb(-2) for _, c in distributions)  # nothing lost or doubled


def test_a_missed_rmd_bears_25_percent_and_10_percent_of_what_is_made_up_in_the_window():
    # IRC §4974(a), (e) as amended by SECURE 2.0 §302: $15,000 missed, nothing made up: $3,750;
    # all made up within the window: $1,500; $6,000 of it: 600 + 2,250
    assert missed_rmd_excise(Decimal("15000"), Decimal("0")) == Decimal("3750.00")
    assert missed_rmd_excise(Decimal("15000"), Decimal("15000")) == Decimal("1500.00")
    assert missed_rmd_excise(Decimal("15000"), Decimal("6000")) == Decimal("2850.00")
    # More than the shortfall made up changes nothing; nothing missed, nothing owed
    assert missed_rmd_excise(Decimal("15000"), Decimal("20000")) == Decimal("1500.00")
    assert missed_rmd_excise(Decimal("0"), Decimal("0")) == Decimal("0.00")


def test_an_rmd_due_before_2023_bears_the_50_percent_of_before_secure_2_made_up_or_not():
    # IRC §4974(a) before SECURE 2.0 §302, whose amendments apply to taxable years beginning after
    # 29 December 2022 (§302(c)): $15,000 of a 2022 RMD missed is $7,500, made up or not, with no
    # correction window; a first RMD of 2022, due 1 April 2023, is of 2023's tax: 25% / 10%
    assert missed_rmd_excise(Decimal("15000"), Decimal("0"), deadline=date(2022, 12, 31)) == Decimal("7500.00")
    assert missed_rmd_excise(Decimal("15000"), Decimal("15000"), deadline=date(2022, 12, 31)) == Decimal("7500.00")
    assert correction_window_end(date(2022, 12, 31)) is None
    assert missed_rmd_excise(Decimal("15000"), Decimal("15000"), deadline=date(2023, 4, 1)) == Decimal("1500.00")
    assert correction_window_end(date(2023, 4, 1)) == date(2025, 12, 31)


@settings(max_examples=int(__import__("os").environ.get("PROP_N", 300)), deadline=None)
@given(shortfall=st.integers(0, 10**10), made_up=st.integers(-10**6, 2 * 10**10),
       deadline=st.dates(date(2020, 1, 1), date(2035, 12, 31)))
def test_the_excise_by_its_deadline_agrees_with_a_simple_implementation_in_cents(shortfall, made_up, deadline):
    # Integer cents, hundredths of a cent: half of each cent short for a deadline in 2022 or before;
    # from 2023 a tenth of each cent made up (at most the shortfall) and a quarter of each other
    if deadline.year <= 2022:
        hundredths = shortfall * 50
    else:
        made_up_cents = min(max(made_up, 0), shortfall)
        hundredths = made_up_cents * 10 + (shortfall - made_up_cents) * 25
    cents, rest = divmod(hundredths, 100)
    expected = cents + (rest >= 50)
    assert missed_rmd_excise(Decimal(shortfall) / 100, Decimal(made_up) / 100, deadline=deadline) == Decimal(expected) / 100
    window = correction_window_end(deadline)
    assert (window is None) == (deadline.year <= 2022) and (window is None or window == date(deadline.year + 2, 12, 31))


@pytest.mark.parametrize(("deadline", "end"), [
    (date(2024, 12, 31), date(2026, 12, 31)),  # a 2024 RMD missed: made up by the end of 2026
    (date(2026, 4, 1), date(2028, 12, 31)),  # a first RMD due 1 April 2026: imposed for 2026
])
def test_the_correction_window_ends_with_the_second_year_after_the_deadlines(deadline, end):
    assert correction_window_end(deadline) == end


@settings(max_examples=int(__import__("os").environ.get("PROP_N", 300)), deadline=None)
@given(shortfall=st.integers(0, 10**10), made_up=st.integers(-10**6, 2 * 10**10))
def test_the_excise_agrees_with_a_simple_implementation_in_cents(shortfall, made_up):
    # Integer cents: a tenth of each cent made up (at most the shortfall), a quarter of each other,
    # rounded half up once at the end
    made_up_cents = min(max(made_up, 0), shortfall)
    tenths_of_cents = made_up_cents * 10 + (shortfall - made_up_cents) * 25  # hundredths of a cent
    cents, rest = divmod(tenths_of_cents, 100)
    expected = cents + (rest >= 50)
    assert missed_rmd_excise(Decimal(shortfall) / 100, Decimal(made_up) / 100) == Decimal(expected) / 100
