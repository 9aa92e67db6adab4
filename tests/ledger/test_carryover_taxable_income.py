"""The Capital Loss Carryover Worksheet's taxable-income test (Schedule D instructions; IRC §1212(b)(2);
IRS Pub. 550 "Capital Losses"): the year's deduction counts against the loss carried on only as far as
it reduced taxable income. Line 1 the return's taxable income (Form 1040 line 15, negative when
deductions exceed income), line 2 the deduction (Schedule D line 21), line 3 lines 1 + 2 (0 if less),
line 4 the smaller of lines 2 and 3; lines 5-13 use line 4. Without the taxable income the test is
taken as met (line 4 = line 2). Worked examples, a plain worksheet over random cases, the chain, the
service's refusals and its audit."""

import random
from decimal import Decimal as D

import pytest
from django.utils import timezone

from rebalancing.ledger.carryover import household_years, loss_carried_into
from rebalancing.ledger.filing_years import household_sheets
from rebalancing.ledger.reports import schedule_d_csv, schedules_d
from rebalancing.ledger.schedule_d import ScheduleD
from rebalancing.models import Household, ReturnTaxableIncome
from rebalancing.services.tax_returns import household_tax_set
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed

ZERO = D(0)


def _sheet(short: D, long: D, *, taxable_income=None, limit=D(3000), status="single") -> ScheduleD:
    return ScheduleD(2025, short, long, ZERO, ZERO, limit, status, taxable_income=taxable_income)


# --- worked examples --------------------------------------------------------------------------------

def test_taxable_income_1000_with_a_10000_short_term_loss_keeps_the_whole_deduction():
    # Line 1 1,000 (after the deduction), line 2 3,000, line 3 4,000, line 4 3,000: 7,000 carried.
    sheet = _sheet(D(-10000), ZERO, taxable_income=D(1000))
    assert (sheet.deduction, sheet.deduction_used) == (3000, 3000)
    assert (sheet.carried_out_short, sheet.carried_out_long) == (7000, 0)


def test_negative_taxable_income_carries_the_unused_deduction_forward():
    # Line 1 (1,000), line 2 3,000, line 3 2,000, line 4 2,000: 10,000 - 2,000 = 8,000 carried short-term.
    sheet = _sheet(D(-10000), ZERO, taxable_income=D(-1000))
    assert (sheet.deduction, sheet.deduction_used) == (3000, 2000)
    assert (sheet.carried_out_short, sheet.carried_out_long) == (8000, 0)


def test_taxable_income_below_minus_the_deduction_uses_none_of_it():
    # Line 1 (5,000), line 3 = max(-2,000, 0) = 0, line 4 0: the whole 10,000 carried.
    sheet = _sheet(D(-10000), ZERO, taxable_income=D(-5000))
    assert sheet.deduction_used == 0
    assert (sheet.carried_out_short, sheet.carried_out_long) == (10000, 0)


def test_a_loss_within_the_limit_carries_what_negative_income_left_unused():
    # Net loss 2,000 (less than the limit): deducted whole (line 21 2,000); taxable income (1,500):
    # line 3 500, line 4 500, so 1,500 of the loss carries on (before: nothing).
    sheet = _sheet(D(-2000), ZERO, taxable_income=D(-1500))
    assert (sheet.deduction, sheet.deduction_used) == (2000, 500)
    assert (sheet.carried_out_short, sheet.carried_out_long) == (1500, 0)


def test_married_filing_separately_the_limit_is_1500():
    # 2,500 short-term, 1,500 long-term loss; line 1 (500); line 2 1,500; line 3 1,000; line 4 1,000.
    # Line 8: 2,500 - (1,000 + 0) = 1,500; line 11: max(1,000 - 2,500, 0) = 0; line 13: 1,500 - 0 = 1,500.
    sheet = _sheet(D(-2500), D(-1500), taxable_income=D(-500), limit=D(1500), status="married_separate")
    assert (sheet.deduction, sheet.deduction_used) == (1500, 1000)
    assert (sheet.carried_out_short, sheet.carried_out_long) == (1500, 1500)


def test_the_deduction_used_takes_the_short_term_loss_first():
    # 1,000 short-term, 5,000 long-term loss; line 1 (2,500): line 4 500. Line 8 500, line 11 0, line 13 5,000.
    sheet = _sheet(D(-1000), D(-5000), taxable_income=D(-2500))
    assert sheet.deduction_used == 500
    assert (sheet.carried_out_short, sheet.carried_out_long) == (500, 5000)


def test_without_the_taxable_income_the_test_is_taken_as_met():
    sheet = _sheet(D(-10000), ZERO)
    assert sheet.taxable_income is None
    assert (sheet.deduction_used, sheet.carried_out_short) == (3000, 7000)


# --- a plain worksheet over random cases -------------------------------------------------------------

def _worksheet(line7: D, line15: D, limit: D, taxable_income) -> tuple[D, D]:
    """The Capital Loss Carryover Worksheet line by line, as the instructions state it."""
    line16 = line7 + line15
    if line16 >= 0:
        return ZERO, ZERO  # no loss on line 21: no carryover
    line21 = min(-line16, limit)  # the loss deducted, as a positive amount
    line1 = line21 if taxable_income is None else taxable_income  # not known: enough income (test met)
    line2 = line21
    line3 = max(line1 + line2, ZERO)
    line4 = min(line2, line3)
    line5 = -line7 if line7 < 0 else ZERO
    line6 = line15 if line15 > 0 else ZERO
    line7w = line4 + line6
    line8 = max(line5 - line7w, ZERO)
    line9 = -line15 if line15 < 0 else ZERO
    line10 = line7 if line7 > 0 else ZERO
    line11 = max(line4 - line5, ZERO)
    line12 = line10 + line11
    line13 = max(line9 - line12, ZERO)
    return line8, line13


def _amount(rng: random.Random, low: int, high: int) -> D:
    return D(rng.randint(low * 100, high * 100)) / 100


@pytest.mark.parametrize("seed", range(8))
def test_the_carryover_matches_a_plain_worksheet_over_random_returns(seed):
    rng = random.Random(seed)
    for _ in range(500):
        short, long = _amount(rng, -20000, 8000), _amount(rng, -20000, 8000)
        carried_short, carried_long = max(_amount(rng, -5000, 6000), ZERO), max(_amount(rng, -5000, 6000), ZERO)
        limit = rng.choice([D(3000), D(1500)])
        income = rng.choice([None, _amount(rng, -8000, 8000), _amount(rng, -3500, 500), ZERO])
        sheet = ScheduleD(2025, short, long, carried_short, carried_long, limit, taxable_income=income)
        expected = _worksheet(short - carried_short, long - carried_long, limit, income)
        assert (sheet.carried_out_short, sheet.carried_out_long) == expected, (short, long, carried_short,
                                                                                 carried_long, limit, income)
        if sheet.net < 0:  # what is not used against income is carried, nothing lost or made up
            assert sheet.carried_out_short + sheet.carried_out_long == -sheet.net - sheet.deduction_used


# --- the chain (pure) --------------------------------------------------------------------------------

def test_the_chain_carries_into_the_next_year_what_the_years_income_left_unused():
    results = {2024: {"first": (D(-10000), ZERO)}}
    before = household_sheets(results, status_of=lambda y: "single", through=2025)
    after = household_sheets(results, status_of=lambda y: "single", through=2025,
                             taxable_income={(2024, ""): D(-2000)})
    assert before[2025][""].carried_in_short == 7000
    assert (after[2024][""].deduction_used, after[2025][""].carried_in_short) == (1000, 9000)


def test_filing_separately_each_spouses_taxable_income_is_their_returns_own():
    results = {2024: {"first": (D(-10000), ZERO), "second": (D(-10000), ZERO)}}
    sheets = household_sheets(results, status_of=lambda y: "married_separate", through=2025,
                              taxable_income={(2024, "first"): D(-1000), (2024, ""): D(-9000)})
    # The first's (500 of 1,500 used) counts; the household's one return's is no return of 2024.
    assert (sheets[2025]["first"].carried_in_short, sheets[2025]["second"].carried_in_short) == (9500, 8500)


# --- stored per return, read by the chain, the engine's carried loss and the report ------------------

@pytest.fixture
def years():
    this_year = timezone.localdate().year
    return this_year - 2, this_year - 1


def _retiree(pm, year: int, status="single") -> Household:
    household = Household.objects.create(name="The Okafors", external_id="HH-OKA", filing_status=status)
    return household_tax_set(user=pm, household=household,
                             facts={"carryforward_year": year, "carryforward_short_term": D(10000)})


def test_a_retirees_negative_taxable_income_carries_more_into_the_next_year(book, pm, years):
    filed, carried_into = years
    household = _retiree(pm, filed)
    assert loss_carried_into([household], carried_into) == {(household.pk, ""): (7000, 0)}
    household_tax_set(user=pm, household=Household.objects.get(pk=household.pk),
                      taxable_incomes=[{"year": filed, "spouse": "", "amount": "-1,000"}])
    household = Household.objects.get(pk=household.pk)
    assert loss_carried_into([household], carried_into) == {(household.pk, ""): (8000, 0)}
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=filed)
    assert (row.sheet.taxable_income, row.sheet.deduction_used) == (-1000, 2000)
    line = schedule_d_csv([row]).splitlines()
    header, values = line[0].split(","), line[1].split(",")
    assert dict(zip(header, values, strict=True))["short_term_carried_out"] == "8000"
    event = AuditEvent.objects.filter(action="household.tax").order_by("-id").first()
    assert event.before["taxable_income"] == {str(filed): None}
    assert event.after["taxable_income"] == {str(filed): "-1000.00"}


def test_parentheses_are_a_negative_amount_and_an_empty_one_removes_it(book, pm, years):
    filed, carried_into = years
    household = _retiree(pm, filed)
    household_tax_set(user=pm, household=household, taxable_incomes=[{"year": filed, "amount": "(5,000.00)"}])
    assert ReturnTaxableIncome.objects.get(household=household).amount == -5000
    assert loss_carried_into([Household.objects.get(pk=household.pk)], carried_into) == {(household.pk, ""): (10000, 0)}
    household_tax_set(user=pm, household=household, taxable_incomes=[{"year": filed, "amount": ""}])
    assert not ReturnTaxableIncome.objects.filter(household=household).exists()
    event = AuditEvent.objects.filter(action="household.tax").order_by("-id").first()
    assert (event.before["taxable_income"], event.after["taxable_income"]) == ({str(filed): "-5000.00"},
                                                                              {str(filed): None})


def test_filing_separately_each_spouse_has_their_own(book, pm, years):
    filed, carried_into = years
    household = Household.objects.create(name="The Okafors", external_id="HH-OKA", filing_status="married_separate")
    household_tax_set(user=pm, household=household, facts={
        "carryforward_year": filed, "carryforward_short_term": D(4000), "carryforward_second_short_term": D(4000)},
        taxable_incomes=[{"year": filed, "spouse": "first", "amount": "-500"}])
    household = Household.objects.get(pk=household.pk)
    # First: 1,500 deducted, 1,000 of it used (line 3 = -500 + 1,500): 3,000 carried; second: test met, 2,500.
    assert loss_carried_into([household], carried_into) == {(household.pk, "first"): (3000, 0),
                                                           (household.pk, "second"): (2500, 0)}
    assert household_years([household], filed)[household.pk][filed]["first"].deduction_used == 1000


@pytest.mark.parametrize("entry, field, words", [
    ({"year": 9999, "amount": "1000"}, "taxable_income_year", "must be a filed year, from 1900 to"),
    ({"year": "2024", "amount": "1000"}, "taxable_income_year", "must be a filed year"),
    ({"year": None, "amount": "1000"}, "taxable_income_year", "must be a filed year"),
    ({"amount": "1000", "spouse": "third"}, "taxable_income_spouse", "the first or the second spouse's, not 'third'"),
    ({"amount": "1000", "spouse": "first"}, "taxable_income_spouse", "files single in"),
    ({"amount": "12.345"}, "taxable_income", "has more than two decimal places"),
    ({"amount": "1e20"}, "taxable_income", "taxable income"),
    ({"amount": "12345678901234567"}, "taxable_income", "is too large: at most 16 digits"),
    ({"amount": "-99999999999999999"}, "taxable_income", "is too large"),
    ({"amount": "NaN"}, "taxable_income", "must be an amount in dollars"),
    ({"amount": "lots"}, "taxable_income", "must be an amount in dollars"),
])
def test_bad_taxable_income_is_refused_by_its_field_and_nothing_is_written(book, pm, years, entry, field, words):
    filed, _ = years
    household = _retiree(pm, filed)
    events = AuditEvent.objects.count()
    entry = {"year": filed, **entry}
    with pytest.raises(ValidationFailed) as refused:
        # with a change of status that alone would be saved: refused whole
        household_tax_set(user=pm, household=household, facts={"filing_status": "head_of_household"},
                          taxable_incomes=[{"year": filed, "amount": "1.00"}, entry] if field != "taxable_income_year"
                          else [entry])
    assert refused.value.detail["field"] == field
    assert words in refused.value.message
    household = Household.objects.get(pk=household.pk)
    assert household.filing_status == "single"
    assert not ReturnTaxableIncome.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_separately_filed_year_needs_the_spouse_and_a_return_is_given_once(book, pm, years):
    filed, _ = years
    household = Household.objects.create(name="The Okafors", external_id="HH-OKA", filing_status="married_separate")
    with pytest.raises(ValidationFailed) as refused:
        household_tax_set(user=pm, household=household, taxable_incomes=[{"year": filed, "amount": "100"}])
    assert refused.value.detail["field"] == "taxable_income_spouse"
    assert "two returns, one per spouse; say whose return's taxable income it is" in refused.value.message
    with pytest.raises(ValidationFailed) as twice:
        household_tax_set(user=pm, household=household, taxable_incomes=[
            {"year": filed, "spouse": "first", "amount": "100"}, {"year": filed, "spouse": "first", "amount": "200"}])
    assert "given twice" in twice.value.message
    assert not ReturnTaxableIncome.objects.exists()


def test_a_status_change_that_leaves_a_taxable_income_on_no_return_is_refused(book, pm, years):
    filed, _ = years
    household = _retiree(pm, filed, status="married_joint")
    household_tax_set(user=pm, household=household, taxable_incomes=[{"year": filed, "amount": "100"}])
    with pytest.raises(ValidationFailed) as refused:
        household_tax_set(user=pm, household=Household.objects.get(pk=household.pk),
                          facts={"filing_status": "married_separate", "filing_status_from": 1900})
    assert f"The taxable income of {filed} is the household's return's, but {filed} is filed married filing " \
           "separately" in refused.value.message
    household = Household.objects.get(pk=household.pk)
    assert (household.filing_status, household.past_statuses) == ("married_joint", ())
    # Both at once: the household's removed and the spouses' entered with the change
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_separate",
                                                           "filing_status_from": 1900},
                      taxable_incomes=[{"year": filed, "amount": None},
                                       {"year": filed, "spouse": "first", "amount": "50"}])
    assert list(ReturnTaxableIncome.objects.values_list("year", "spouse", "amount")) == [(filed, "first", 50)]
