"""The household's tax page takes a filed return's taxable income (the Capital Loss Carryover
Worksheet's line 1), shows it, refuses a bad one beside its field with nothing written, and says where
it is not entered that the worksheet's test is taken as met; the Schedule D report shows lines 1 and 4."""

from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Household, ReturnTaxableIncome
from rebalancing.services.tax_returns import household_tax_set
from tenants.roles import FirmRole
from tests.rebalancing.book import make_account, make_model, make_securities

pytestmark = pytest.mark.django_db


@pytest.fixture
def okafors(firm_a, firm_user, client_for):
    filed = timezone.localdate().year - 2
    pm_user = firm_user(firm_a, "pm@income.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        household = Household.objects.create(name="The Okafors", external_id="HH-OKA", filing_status="married_joint")
        make_securities()
        make_account("OK-1", model=make_model(), household=household)  # the report shows households with accounts
        household_tax_set(user=pm_user, household=household,
                          facts={"carryforward_year": filed, "carryforward_short_term": D(10000)})
    return {"filed": filed, "household": household, "pm": client_for(firm_a, pm_user),
            "compliance": client_for(firm_a, firm_user(firm_a, "cco@income.example", FirmRole.COMPLIANCE))}


def _form(filed: int, **typed) -> dict:
    return {"filing_status": "married_joint", "filing_status_from": "1900", "carryforward_year": str(filed),
            "carryforward_short_term": "10000.00", "carryforward_long_term": "0", "carryforward_second_short_term": "0",
            "carryforward_second_long_term": "0", **typed}


def test_the_pm_enters_a_years_taxable_income_and_the_report_shows_lines_1_and_4(okafors, firm_a):
    pm, filed, household = okafors["pm"], okafors["filed"], okafors["household"]
    page = pm.get(f"/households/{household.pk}/").content.decode()
    assert "Taxable income of filed years ($, the capital loss carryover worksheet's line 1)" in page
    done = pm.post(f"/households/{household.pk}/tax/", _form(filed, taxable_income_year=str(filed),
                                                              taxable_income_spouse="", taxable_income="(1,000)"),
                   follow=True).content.decode()
    assert "Tax returns saved" in done
    with tenant_context(firm_a):
        assert list(ReturnTaxableIncome.objects.values_list("year", "spouse", "amount")) == [(filed, "", -1000)]
    # Shown in its own field, by its return; the report shows the worksheet's lines
    assert (f'<label for="t-ti-{filed}-one">{filed}: the household&#x27;s return</label><input type="text" '
            f'id="t-ti-{filed}-one" name="taxable_income:{filed}:" inputmode="decimal" value="-1000.00"') in done
    report = pm.get("/reports/realised/", {"start": f"{filed}-01-01", "end": f"{filed}-12-31"}).content.decode()
    assert ("Carryover worksheet: taxable income (line 1) −$1,000.00, deduction used (line 4) $2,000.00" in report
            or "Carryover worksheet: taxable income (line 1) -$1,000.00, deduction used (line 4) $2,000.00" in report)
    # Changed, then emptied: removed
    pm.post(f"/households/{household.pk}/tax/", _form(filed, **{f"taxable_income:{filed}:": "-2,500"}))
    with tenant_context(firm_a):
        assert ReturnTaxableIncome.objects.get().amount == -2500
    pm.post(f"/households/{household.pk}/tax/", _form(filed, **{f"taxable_income:{filed}:": ""}))
    with tenant_context(firm_a):
        assert not ReturnTaxableIncome.objects.exists()


def test_without_it_the_page_and_the_report_say_the_test_is_taken_as_met(okafors):
    filed = okafors["filed"]
    shown = okafors["compliance"].get(f"/households/{okafors['household'].pk}/").content.decode()
    assert ("No taxable income of a filed year entered: every year is figured as if the return's income "
            "absorbed the whole capital loss deduction") in shown
    report = okafors["pm"].get("/reports/realised/", {"start": f"{filed}-01-01", "end": f"{filed}-12-31"})
    assert ("Taxable income not entered: the whole deduction is taken as used (the carryover worksheet's test "
            "taken as met)") in report.content.decode()


@pytest.mark.parametrize("typed, field, error_id, says", [
    ({"taxable_income": "12.345"}, "taxable_income", "t-ti-amount", "has more than two decimal places"),
    ({"taxable_income": "abc"}, "taxable_income", "t-ti-amount", "must be an amount in dollars"),
    ({"taxable_income_year": "9999"}, "taxable_income_year", "t-ti-year", "must be a filed year"),
    ({"taxable_income_spouse": "first"}, "taxable_income_spouse", "t-ti-spouse",
     "a spouse&#x27;s own taxable income is for a year filed separately"),
])
def test_a_refused_taxable_income_is_said_beside_its_field_and_nothing_is_written(okafors, firm_a, typed, field,
                                                                                   error_id, says):
    pm, filed, household = okafors["pm"], okafors["filed"], okafors["household"]
    form = _form(filed, filing_status="single", taxable_income_year=str(filed), taxable_income_spouse="",
                 taxable_income="1000")
    html = pm.post(f"/households/{household.pk}/tax/", {**form, **typed}, follow=True).content.decode()
    assert "Tax returns saved" not in html
    error = html.split(f'<div class="error" id="{error_id}-error" role="alert">', 1)[1].split("</div>", 1)[0]
    assert says in error, error
    assert 'aria-invalid="true"' in html.split(f'id="{error_id}"', 1)[1].split(">", 1)[0]
    with tenant_context(firm_a):
        assert not ReturnTaxableIncome.objects.exists()
        assert Household.objects.get(pk=household.pk).filing_status == "married_joint"


def test_a_stored_amount_refused_is_said_beside_its_own_field(okafors, firm_a):
    pm, filed, household = okafors["pm"], okafors["filed"], okafors["household"]
    pm.post(f"/households/{household.pk}/tax/", _form(filed, taxable_income_year=str(filed), taxable_income="5"))
    html = pm.post(f"/households/{household.pk}/tax/", _form(filed, **{f"taxable_income:{filed}:": "1.234"}),
                   follow=True).content.decode()
    error = html.split(f'<div class="error" id="t-ti-{filed}-one-error" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "has more than two decimal places" in error
    with tenant_context(firm_a):
        assert ReturnTaxableIncome.objects.get().amount == 5
