"""The required minimum distribution of a traditional IRA for one calendar year.

The rule, from its sources (IRC §401(a)(9) as amended by SECURE 2.0 §107, applied to IRAs by
§408(a)(6); Treas. Reg. §1.401(a)(9)-5 and -9; IRS Publication 590-B):

- **When they start.** The *applicable age* depends on the owner's date of birth: 70½ if born before
  1 July 1949, 72 if born from 1 July 1949 to the end of 1950, 73 if born 1951-1959, 75 if born in
  1960 or later.  The first RMD is for the year the owner reaches it and may wait until 1 April of
  the next year; every later one is due by 31 December.
- **How much.** The account's fair market value on 31 December of the year before (the custodian's
  Form 5498, box 5), divided by the distribution period of the Uniform Lifetime Table (Treas. Reg.
  §1.401(a)(9)-9(c), in force from 2022; the one before it for 2021) at the age the owner reaches on
  their birthday in the year.
- **The exception.** When the owner's spouse is the sole beneficiary and more than 10 years younger,
  the Joint and Last Survivor Table applies instead (a longer period, a smaller RMD).  This module does
  not carry that table: it refuses, naming the reason, unless the RMD the custodian computed for the
  year is entered (``entered_amount``), which it then takes as the year's RMD.  It never falls back on
  the Uniform Lifetime Table there: its shorter period would overstate the minimum.

- **A missed RMD.** What is not taken by the deadline (the shortfall) bears an excise tax of 25%
  (§4974(a) as amended by SECURE 2.0 §302), 10% of what is taken to make it up within the
  correction window (§4974(e)): from the deadline to the end of the second taxable year after the
  year the tax is imposed (the deadline's year), unless the IRS mails a deficiency notice or assesses
  the tax first (which the product cannot know). The owner may ask for it to be waived for
  reasonable error (Form 5329). A make-up distribution is for the missed year: the product never
  counts it for the year it is taken in as well (the owner takes that year's RMD besides).

**Years before 2022.** 2021's RMD is divided by the Uniform Lifetime Table in force before 2022
(Treas. Reg. §1.401(a)(9)-9, Q&A-2 before the 2020 amendment: 25.6 at 72, where today's gives 27.4):
an owner born from 1 July to 31 December 1949 has 2021 as the first year, and what is taken by
1 April 2022 counts for 2021 only up to that amount.  2020's RMDs were waived (CARES Act §2203): none
is due for 2020, and no owner's first year is 2020 (70½ was reached in 2019 at the latest by an owner
born before 1 July 1949, 72 in 2021 at the earliest by one born after).  Earlier years are refused,
naming the year: the product does not check them, and 2009's were waived too.  The RMD is
rounded up to the cent, so that taking it never leaves the owner a cent short (the shortfall is what
the excise tax of §4974 falls on).  Lifetime RMDs only: an inherited IRA follows other rules, and a
Roth IRA has none while its owner lives (§408A(c)(5)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from .errors import InvalidRequest

__all__ = ["CORRECTED_EXCISE_RATE", "EXCISE_RATE", "PRE_SECURE_2_EXCISE_RATE", "UNIFORM_LIFETIME_TABLE",
           "UNIFORM_LIFETIME_TABLE_BEFORE_2022",
           "RequiredDistribution", "applicable_age", "correction_window_end", "distributions_credited", "first_distribution_year", "missed_rmd_excise",
           "required_minimum_distribution", "spouse_table_applies"]

#: Treas. Reg. §1.401(a)(9)-9(c): age reached in the year -> distribution period (years), 2022 onwards.
UNIFORM_LIFETIME_TABLE: dict[int, Decimal] = {age: Decimal(p) for age, p in {
    72: "27.4", 73: "26.5", 74: "25.5", 75: "24.6", 76: "23.7", 77: "22.9", 78: "22.0", 79: "21.1",
    80: "20.2", 81: "19.4", 82: "18.5", 83: "17.7", 84: "16.8", 85: "16.0", 86: "15.2", 87: "14.4",
    88: "13.7", 89: "12.9", 90: "12.2", 91: "11.5", 92: "10.8", 93: "10.1", 94: "9.5", 95: "8.9",
    96: "8.4", 97: "7.8", 98: "7.3", 99: "6.8", 100: "6.4", 101: "6.0", 102: "5.6", 103: "5.2",
    104: "4.9", 105: "4.6", 106: "4.3", 107: "4.1", 108: "3.9", 109: "3.7", 110: "3.5", 111: "3.4",
    112: "3.3", 113: "3.1", 114: "3.0", 115: "2.9", 116: "2.8", 117: "2.7", 118: "2.5", 119: "2.3",
    120: "2.0",  # and every age above
}.items()}
FIRST_TABLE_YEAR = 2022
#: Treas. Reg. §1.401(a)(9)-9, Q&A-2, as in force for distribution calendar years before 2022 (replaced by
#: T.D. 9930): age reached in the year -> distribution period (years); 1.9 from 115 on.
UNIFORM_LIFETIME_TABLE_BEFORE_2022: dict[int, Decimal] = {age: Decimal(p) for age, p in {
    70: "27.4", 71: "26.5", 72: "25.6", 73: "24.7", 74: "23.8", 75: "22.9", 76: "22.0", 77: "21.2", 78: "20.3",
    79: "19.5", 80: "18.7", 81: "17.9", 82: "17.1", 83: "16.3", 84: "15.5", 85: "14.8", 86: "14.1", 87: "13.4",
    88: "12.7", 89: "12.0", 90: "11.4", 91: "10.8", 92: "10.2", 93: "9.6", 94: "9.1", 95: "8.6", 96: "8.1",
    97: "7.6", 98: "7.1", 99: "6.7", 100: "6.3", 101: "5.9", 102: "5.5", 103: "5.2", 104: "4.9", 105: "4.5",
    106: "4.2", 107: "3.9", 108: "3.7", 109: "3.4", 110: "3.1", 111: "2.9", 112: "2.6", 113: "2.4", 114: "2.1",
    115: "1.9",  # and every age above
}.items()}
#: CARES Act §2203: no RMD for calendar year 2020.
WAIVED_YEAR = 2020
FIRST_COMPUTED_YEAR = WAIVED_YEAR  # 2020 (waived) and 2021 (the table before 2022) are answered; earlier refused
_CENT = Decimal("0.01")
#: IRC §4974(a) and (e), as amended by SECURE 2.0 §302 (taxable years from 2023).
EXCISE_RATE = Decimal("0.25")
CORRECTED_EXCISE_RATE = Decimal("0.10")
#: §4974(a) before that amendment, which applies to taxable years beginning after 29 December 2022
#: (SECURE 2.0 §302(c)): an RMD required to be taken in 2022 bears 50%, and there is no correction
#: window (only a waiver for reasonable error, Form 5329).
PRE_SECURE_2_EXCISE_RATE = Decimal("0.50")
SECURE_2_EXCISE_FIRST_YEAR = 2023


@dataclass(frozen=True, slots=True)
class RequiredDistribution:
    """One IRA's RMD for ``year``: ``amount`` is 0 before the first year and in 2020, waived (``due`` False)."""

    year: int
    age: int  # reached on the owner's birthday in ``year``
    applicable_age: str  # "70½", "72", "73" or "75"
    first_year: int
    due: bool
    year_end_value: Decimal  # 31 December of ``year - 1``
    distribution_period: Decimal | None
    amount: Decimal
    deadline: date | None
    explanation: str
    entered: bool = False  # ``amount`` is the custodian's, entered (the Joint and Last Survivor Table's)


def applicable_age(birth_date: date) -> str:
    """The age at which RMDs start, by date of birth (§401(a)(9)(C)(v), SECURE 2.0 §107)."""
    if birth_date < date(1949, 7, 1):
        return "70½"
    if birth_date.year <= 1950:
        return "72"
    return "73" if birth_date.year <= 1959 else "75"


def first_distribution_year(birth_date: date) -> int:
    """The year the owner reaches the applicable age: the year of the first RMD."""
    start = applicable_age(birth_date)
    if start == "70½":  # six months after the 70th birthday: the next year for a birthday from 1 July
        return birth_date.year + 70 + (birth_date.month >= 7)
    return birth_date.year + int(start)


def spouse_table_applies(*, birth_date: date, year: int, spouse_birth_date: date | None) -> bool:
    """Whether the spouse, sole beneficiary, is more than 10 years younger than the owner by the ages
    they reach in ``year``: the Joint and Last Survivor Table then gives the period (Treas. Reg.
    §1.401(a)(9)-5, Q&A-4(b); Pub. 590-B, Table II), which this module does not carry."""
    return spouse_birth_date is not None and (year - birth_date.year) - (year - spouse_birth_date.year) > 10


def required_minimum_distribution(*, birth_date: date, year: int, year_end_value: Decimal,
                                  spouse_birth_date: date | None = None,
                                  entered_amount: Decimal | None = None) -> RequiredDistribution:
    """The RMD of ``year`` from a traditional IRA worth ``year_end_value`` on 31 December of the year
    before, for an owner born on ``birth_date``; ``spouse_birth_date`` only when the spouse is the
    sole beneficiary.  Refused, naming the reason, where this table does not give the answer - the
    Joint and Last Survivor Table's years, unless ``entered_amount`` gives the custodian's RMD for
    ``year`` (more than 0, dollars and cents, at most ``year_end_value``); elsewhere it is not read."""
    year_end_value = Decimal(year_end_value)
    if not year_end_value.is_finite() or year_end_value < 0:
        raise InvalidRequest(f"The 31 December value must be 0 or more (it is {year_end_value}).",
                             {"field": "year_end_value"})
    if birth_date.year >= year:
        raise InvalidRequest(f"The owner's date of birth ({birth_date}) must be before {year}.",
                             {"field": "owner_birth_date"})
    if year < FIRST_COMPUTED_YEAR:
        raise InvalidRequest(f"The product computes RMDs from {FIRST_COMPUTED_YEAR + 1} ({FIRST_COMPUTED_YEAR}'s were "
                             f"waived); enter the amount for {year}.", {"field": "year"})
    start, first_year = applicable_age(birth_date), first_distribution_year(birth_date)
    age = year - birth_date.year
    if year < first_year:
        return RequiredDistribution(
            year=year, age=age, applicable_age=start, first_year=first_year, due=False, year_end_value=year_end_value,
            distribution_period=None, amount=Decimal("0.00"), deadline=None,
            explanation=f"None due for {year}: RMDs start at {start} for an owner born on {birth_date:%d %B %Y}; "
                        f"the first is for {first_year}, by 1 April {first_year + 1}.")
    if year == WAIVED_YEAR:
        return RequiredDistribution(
            year=year, age=age, applicable_age=start, first_year=first_year, due=False, year_end_value=year_end_value,
            distribution_period=None, amount=Decimal("0.00"), deadline=None,
            explanation=f"None due for {year}: the CARES Act (§2203) waived every RMD for {year}.")
    deadline = date(year + 1, 4, 1) if year == first_year else date(year, 12, 31)
    if spouse_table_applies(birth_date=birth_date, year=year, spouse_birth_date=spouse_birth_date):
        why = (f"the spouse, sole beneficiary, is more than 10 years younger than the owner ({age} and "
               f"{year - spouse_birth_date.year} in {year}): the Joint and Last Survivor Table applies, which the "
               "product does not carry")
        if entered_amount is None:
            raise InvalidRequest(f"{why[0].upper()}{why[1:]}; enter the RMD the custodian computed for {year}.",
                                 {"field": "spouse_birth_date"})
        amount = _entered_checked(Decimal(entered_amount), year=year, year_end_value=year_end_value)
        return RequiredDistribution(
            year=year, age=age, applicable_age=start, first_year=first_year, due=True, year_end_value=year_end_value,
            distribution_period=None, amount=amount, deadline=deadline, entered=True,
            explanation=f"${amount:,.2f} entered from the custodian ({why}), due by {deadline:%d %B %Y}"
                        + (" (the first RMD may wait until 1 April of the next year)." if year == first_year else "."))
    if year < FIRST_TABLE_YEAR:
        period, table = UNIFORM_LIFETIME_TABLE_BEFORE_2022[min(age, 115)], f"Uniform Lifetime Table before {FIRST_TABLE_YEAR}"
    else:
        period, table = UNIFORM_LIFETIME_TABLE[min(age, 120)], "Uniform Lifetime Table"
    amount = (year_end_value / period).quantize(_CENT, rounding=ROUND_CEILING)
    return RequiredDistribution(
        year=year, age=age, applicable_age=start, first_year=first_year, due=True, year_end_value=year_end_value,
        distribution_period=period, amount=amount, deadline=deadline,
        explanation=f"${year_end_value:,.2f} on 31 December {year - 1} / {period} ({table}, "
                    f"age {age}) = ${amount:,.2f}, due by {deadline:%d %B %Y}"
                    + (" (the first RMD may wait until 1 April of the next year)." if year == first_year else "."))


def _entered_checked(amount: Decimal, *, year: int, year_end_value: Decimal) -> Decimal:
    """The custodian's RMD for ``year`` as entered, refused in words where it cannot be one: an RMD is
    the 31 December value divided by a period of more than one year, so more than 0 and less than
    that value (at most it, in the check), in dollars and cents."""
    field = {"field": "rmd_amount", "year": year}
    if not amount.is_finite() or amount <= 0:
        raise InvalidRequest(f"The {year} RMD entered must be more than 0 (it is {amount}).", field)
    if amount > year_end_value:
        raise InvalidRequest(f"The {year} RMD entered, ${amount:,.2f}, is more than the IRA's value on 31 December "
                             f"{year - 1} (${year_end_value:,.2f}) it is computed from: check the custodian's figure "
                             "and the value.", field)
    if amount != amount.quantize(_CENT):
        raise InvalidRequest(f"The {year} RMD entered is dollars and cents: {amount} has more than 2 decimal places.",
                             field)
    return amount.quantize(_CENT)


def distributions_credited(distributions, *, first_year: int, first_year_amount: Decimal) -> dict[int, Decimal]:
    """Year -> what of ``distributions`` (``(day, amount)`` pairs out of one owner's IRAs) counts
    towards that year's RMD.

    A distribution counts for the calendar year it is made in, with one exception: what the owner
    takes in the year after the first distribution year, on or before 1 April (the required
    beginning date), counts first for the first year, up to what the first year's own distributions
    left of its ``first_year_amount`` (Treas. Reg. §1.401(a)(9)-5, Q&A-1(c): the distribution required
    by the required beginning date is the first year's).  The rest counts for its own year, which
    is why an owner who waits takes two RMDs that year."""
    credited: dict[int, Decimal] = {}
    early = Decimal(0)  # taken in first_year + 1 by 1 April
    for day, amount in distributions:
        if day.year == first_year + 1 and day <= date(first_year + 1, 4, 1):
            early += amount
        else:
            credited[day.year] = credited.get(day.year, Decimal(0)) + amount
    if early:
        short = max(first_year_amount - credited.get(first_year, Decimal(0)), Decimal(0))
        to_first = min(early, short)
        if to_first:
            credited[first_year] = credited.get(first_year, Decimal(0)) + to_first
        if early - to_first:
            credited[first_year + 1] = credited.get(first_year + 1, Decimal(0)) + early - to_first
    return credited


def correction_window_end(deadline: date) -> date | None:
    """The last day a missed RMD due on ``deadline`` may be made up at the lower rate (§4974(e)(2)):
    the end of the second taxable year that begins after the year the tax is imposed, which is the
    deadline's year - at the latest; a deficiency notice or an assessment closes it earlier. None for
    a deadline before 2023: the tax of that year has no lower rate (SECURE 2.0 §302(c))."""
    if deadline.year < SECURE_2_EXCISE_FIRST_YEAR:
        return None
    return date(deadline.year + 2, 12, 31)


def missed_rmd_excise(shortfall: Decimal, made_up_in_window: Decimal, *, deadline: date | None = None) -> Decimal:
    """The excise tax on a missed RMD's ``shortfall``: 10% of what was made up within the correction
    window, 25% of the rest (Form 5329, Part IX), to the cent; before any waiver. With a ``deadline``
    before 2023 (the tax of a taxable year before SECURE 2.0's): 50% of the shortfall, made up or not."""
    shortfall = max(Decimal(shortfall), Decimal(0))
    if deadline is not None and deadline.year < SECURE_2_EXCISE_FIRST_YEAR:
        return (shortfall * PRE_SECURE_2_EXCISE_RATE).quantize(_CENT, ROUND_HALF_UP)
    made_up = min(max(Decimal(made_up_in_window), Decimal(0)), shortfall)
    return (made_up * CORRECTED_EXCISE_RATE + (shortfall - made_up) * EXCISE_RATE).quantize(_CENT, ROUND_HALF_UP)
