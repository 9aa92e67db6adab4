"""The RMD rule against a plain reading of its sources over random owners (Treas. Reg.
§1.401(a)(9)-5 and -9(c), SECURE 2.0 §107 applicable ages, Pub. 590-B)."""

import random
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from rebalancing.engine.errors import InvalidRequest
from rebalancing.engine.rmd import required_minimum_distribution

# Treas. Reg. §1.401(a)(9)-9(c), Uniform Lifetime Table (2022 on), typed from Pub. 590-B Appendix B, Table III.
ULT = [27.4, 26.5, 25.5, 24.6, 23.7, 22.9, 22.0, 21.1, 20.2, 19.4, 18.5, 17.7, 16.8, 16.0, 15.2, 14.4, 13.7, 12.9,
       12.2, 11.5, 10.8, 10.1, 9.5, 8.9, 8.4, 7.8, 7.3, 6.8, 6.4, 6.0, 5.6, 5.2, 4.9, 4.6, 4.3, 4.1, 3.9, 3.7, 3.5,
       3.4, 3.3, 3.1, 3.0, 2.9, 2.8, 2.7, 2.5, 2.3, 2.0]  # ages 72..120


def reference(born: date, year: int, value: Decimal):
    # The applicable age and the day it is reached.
    if born < date(1949, 7, 1):
        m = born.month + 6
        reach = date(born.year + 70 + (m > 12), (m - 1) % 12 + 1, 1)  # the day does not move the year
    elif born <= date(1950, 12, 31):
        reach = date(born.year + 72, 1, 1)
    elif born.year <= 1959:
        reach = date(born.year + 73, 1, 1)
    else:
        reach = date(born.year + 75, 1, 1)
    first = reach.year
    if year < first or year == 2020:
        return Decimal("0.00"), None, first
    age = year - born.year
    period = Decimal(str(ULT[min(age, 120) - 72]))
    amount = (value / period).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return amount, date(year + 1, 4, 1) if year == first else date(year, 12, 31), first


@pytest.mark.parametrize("seed", range(400))
def test_the_rmd_matches_a_plain_reading_of_the_rules(seed):
    rng = random.Random(seed)
    born = date(1935, 1, 1) + timedelta(days=rng.randint(0, 365 * 32))
    year = rng.randint(2022, 2040)
    if born.year >= year:
        return
    value = Decimal(rng.randint(0, 3_000_000)) / 100
    got = required_minimum_distribution(birth_date=born, year=year, year_end_value=value)
    amount, deadline, first = reference(born, year, value)
    assert (got.amount, got.deadline, got.first_year) == (amount, deadline, first), (born, year)


def test_a_spouse_more_than_ten_years_younger_is_refused_without_the_custodians_figure():
    with pytest.raises(InvalidRequest, match="Joint and Last Survivor"):
        required_minimum_distribution(birth_date=date(1950, 3, 1), year=2026, year_end_value=Decimal(500000),
                                      spouse_birth_date=date(1961, 1, 1))
    # Exactly 10 years apart by the ages reached in the year: the Uniform Lifetime Table applies.
    got = required_minimum_distribution(birth_date=date(1950, 3, 1), year=2026, year_end_value=Decimal(500000),
                                        spouse_birth_date=date(1960, 12, 31))
    assert got.distribution_period == Decimal("23.7")  # age 76
