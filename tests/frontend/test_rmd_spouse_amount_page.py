"""The household page asks for the custodian's RMD where the product cannot compute it (the spouse,
sole beneficiary, more than 10 years younger: the Joint and Last Survivor Table), keeps it for the
year, refuses a figure that cannot be the RMD by its field with what was typed, and plans it."""

from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        yield make_unit_household(advisor=people["advisor"])


def _facts(lees, year, **more):
    return {"account": lees["ira"].pk, "owner_name": "", "owner_birth_date": "1950-06-01",
            "spouse_birth_date": f"{year - 56}-03-01", "year_end_value": "100000.00", "year_end_year": str(year - 1),
            **more}


def test_the_page_asks_for_the_custodians_rmd_keeps_it_and_plans_it(lees, as_user, firm_a):
    advisor, year = as_user("advisor"), timezone.localdate().year
    url = f"/households/{lees['household'].pk}/"
    ira = lees["ira"].pk
    # given: the facts of an owner whose spouse, sole beneficiary, is 20 years younger
    saved = advisor.post(url + "rmd-facts/", _facts(lees, year), follow=True).content.decode()
    # then: no figure is computed, the row says why and where, and the field is there
    assert "Joint and Last Survivor Table applies" in saved and "Plan the $" not in saved
    assert f'href="#rmd-amount-{ira}-{year}">Enter the {year} RMD from the custodian</a>' in saved
    assert f'<label for="rmd-amount-{ira}-{year}">RMD amount from the custodian for {year} ($)</label>' in saved
    assert f'name="rmd_amount_{year}"' in saved

    # a figure above the 31 December value is refused by its field, typed as it was; nothing written
    over = advisor.post(url + "rmd-facts/", _facts(lees, year, **{f"rmd_amount_{year}": "$100,000.01"}),
                        follow=True).content.decode()
    assert f"The {year} RMD entered, $100,000.01, is more than the IRA&#x27;s value on 31 December" in over
    assert 'value="$100,000.01"' in over and 'aria-invalid="true"' in over
    for typed, said in (("lots", "must be a number"), ("12.345", "dollars and cents"), ("0", "more than 0")):
        refused = advisor.post(url + "rmd-facts/", _facts(lees, year, **{f"rmd_amount_{year}": typed}), follow=True)
        assert refused.status_code == 200 and said in refused.content.decode(), typed
    with tenant_context(firm_a):
        assert Account.objects.get(pk=ira).rmd_amounts == {}

    # when: the custodian's figure is entered
    kept = advisor.post(url + "rmd-facts/", _facts(lees, year, **{f"rmd_amount_{year}": "$3,012.05"}),
                        follow=True).content.decode()
    # then: it is the year's RMD, planned from the button like a computed one
    assert "RMD facts of LEE-IRA saved" in kept and "Plan the $3,012.05 left from LEE-IRA" in kept
    assert 'data-testid="rmd-entered">from the custodian' in kept and 'value="3012.05"' in kept
    planned = advisor.post(url + "cash-flows/", {"kind": "rmd", "account": ira, "amount": "3012.05"},
                           follow=True).content.decode()
    assert "Required minimum distribution of $3,012.05 planned" in planned and "Plan the $" not in planned
    with tenant_context(firm_a):
        assert CashFlow.objects.get(household=lees["household"]).amount == Decimal("3012.05")
        assert Account.objects.get(pk=ira).rmd_amounts == {str(year): "3012.05"}
