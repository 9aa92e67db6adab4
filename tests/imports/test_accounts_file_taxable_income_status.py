"""The accounts file's change of a household's filing status is refused, naming its line, when it
would leave a filed year's taxable income (``ReturnTaxableIncome``) on a return that year no longer
has - the household's one return in a year now filed separately, a spouse's own in a year now filed
as one return - as the household page and the API refuse it (``services.tax_returns``). Nothing is
written then."""

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from rebalancing.imports import ImportRejected, accounts_import
from rebalancing.models import Account, Household, PastFilingStatus, ReturnTaxableIncome

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 26)
STATUSES = ("single", "married_joint", "married_separate", "head_of_household")


@pytest.fixture
def household(firm_a):
    """The Ngs (H-1), filing jointly, with one taxable account (A-1)."""
    with schema_context(firm_a.schema_name):
        household = Household.objects.create(name="Ng family", external_id="H-1", filing_status="married_joint")
        Account.objects.create(custodian_number="A-1", name="Ng joint", household=household)
        yield household


def _file(status: str, from_year: int | None = None) -> bytes:
    return (b"account_number,account_name,household_id,filing_status,filing_status_from\n"
            + f"A-1,Ng joint,H-1,{status},{from_year or ''}\n".encode())


def _stored(household: Household):
    household.refresh_from_db()
    return (household.filing_status,
            sorted(PastFilingStatus.objects.filter(household=household).values_list("last_year", "filing_status")),
            sorted(ReturnTaxableIncome.objects.filter(household=household).values_list("year", "spouse", "amount")))


def test_filing_separately_from_a_year_with_the_households_return_income_is_refused_naming_it(household):
    ReturnTaxableIncome.objects.create(household=household, year=2025, spouse="", amount=Decimal("184000.00"))
    before = _stored(household)

    with pytest.raises(ImportRejected) as refused:
        accounts_import(source=_file("married_separate", 2025), as_of=AS_OF)

    [problem] = refused.value.detail["problems"]
    assert (problem["row"], problem["column"]) == (2, "filing_status")
    assert "leaves a taxable income on a return its year no longer has" in problem["problem"]
    assert "The taxable income of 2025 is the household's return's, but 2025 is filed married filing separately" \
        in problem["problem"]
    assert _stored(household) == before  # nothing written

    # From 2026 on the 2025 return is still the household's one: the change is made.
    accounts_import(source=_file("married_separate", 2026), as_of=AS_OF)
    assert _stored(household)[:2] == ("married_separate", [(2025, "married_joint")])


def test_filing_as_one_return_again_with_a_spouses_own_income_stored_is_refused(household):
    household.filing_status = "married_separate"
    household.save()
    ReturnTaxableIncome.objects.create(household=household, year=2024, spouse="second", amount=Decimal("-1200.00"))
    before = _stored(household)

    with pytest.raises(ImportRejected) as refused:
        accounts_import(source=_file("single", 1900), as_of=AS_OF)  # 1900: a correction of every year

    [problem] = refused.value.detail["problems"]
    assert (problem["row"], problem["column"]) == (2, "filing_status")
    assert "The taxable income of 2024 is the second spouse's return's" in problem["problem"]
    assert _stored(household) == before


def _returns(status: str) -> set[str]:
    # Simple on purpose: a year filed separately has the spouses' own returns, any other the household's one.
    return {"first", "second"} if status == "married_separate" else {""}


class _Undo(Exception):
    pass


def test_a_file_is_refused_exactly_when_a_stored_income_is_left_on_a_return_its_year_lacks(household):
    """Many random households (a status, perhaps another one up to a year), incomes stored on the
    returns their years have, and a file changing the status from a year: refused iff a stored
    income's year, under the status the file leaves it, has no such return."""
    rng = random.Random(20261207)
    outcomes = set()
    for _case in range(60):
        current, earlier = rng.choice(STATUSES), rng.choice(STATUSES)
        last_earlier = rng.choice([None, 2022, 2023, 2024])
        new, from_year = rng.choice(STATUSES), rng.choice([None, 1900, 2021, 2023, 2024, 2025, 2026])

        def status_before(year, current=current, earlier=earlier, last_earlier=last_earlier):
            return earlier if last_earlier is not None and year <= last_earlier else current

        def status_after(year, new=new, from_year=from_year, status_before=status_before):
            return new if year >= (from_year or AS_OF.year) else status_before(year)

        incomes = {(year, spouse) for year in range(2021, 2027) if rng.random() < 0.4
                   for spouse in [rng.choice(sorted(_returns(status_before(year))))]}
        expect_refused = any(spouse not in _returns(status_after(year)) for year, spouse in incomes)
        try:
            with transaction.atomic():
                Household.objects.filter(pk=household.pk).update(filing_status=current)
                if last_earlier is not None and earlier != current:
                    PastFilingStatus.objects.create(household=household, last_year=last_earlier, filing_status=earlier)
                for year, spouse in incomes:
                    ReturnTaxableIncome.objects.create(household=household, year=year, spouse=spouse,
                                                       amount=Decimal(rng.randint(-5000, 400000)))
                before = _stored(household)
                try:
                    accounts_import(source=_file(new, from_year), as_of=AS_OF)
                    refused = False
                except ImportRejected as exc:
                    refused = True
                    assert [p["column"] for p in exc.detail["problems"]] == ["filing_status"]
                    assert _stored(household) == before
                assert refused == expect_refused, (current, earlier, last_earlier, new, from_year, sorted(incomes))
                if not refused:
                    assert _stored(household)[0] == new
                outcomes.add(refused)
                raise _Undo
        except _Undo:
            pass
    assert outcomes == {True, False}  # both kinds of case were met
