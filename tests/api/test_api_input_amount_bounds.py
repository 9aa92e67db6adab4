"""The API took amounts the accounts file refuses as implausible: a loss of $99,999,999,999,999.99 carried in
(PATCH households/{id}/tax/: 200, and Schedule D then netted it) and a 31 December IRA value as large (PATCH
accounts/{id}/rmd-facts/: 200). The file refuses more than ``imports.cells.MAX_AMOUNT`` ($100 billion) in
either column - a value from another column, or cents - and the services now apply the same bound, so the
API and the pages meet it too, naming the field, as ``services.cash_flows`` does for a cash flow."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.imports.cells import MAX_AMOUNT
from rebalancing.models import Account, Household
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

# Around the bound, and the audit's value: accepted exactly where a plain reading of the rule says so.
AMOUNTS = ["0.00", "1500.00", str(MAX_AMOUNT) + ".00", str(MAX_AMOUNT) + ".01", "100000000001", "99999999999999.99"]


def _plausible(text: str) -> bool:
    return Decimal(text) <= Decimal(100_000_000_000)


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        made = make_unit_household(advisor=people["advisor"])
        Account.objects.filter(pk=made["ira"].pk).update(owner_birth_date=date(1950, 6, 1))
        return made


@pytest.mark.parametrize("field", ["carryforward_short_term", "carryforward_long_term"])
@pytest.mark.parametrize("amount", AMOUNTS)
def test_a_carryover_is_bounded_as_the_accounts_file_bounds_it(firm_a, people, lees, client_for, field, amount):
    household = lees["household"]
    answer = client_for(firm_a, people["advisor"]).patch(
        f"{API}/households/{household.pk}/tax/", {"carryforward_year": timezone.localdate().year, field: amount},
        content_type="application/json")

    with tenant_context(firm_a):
        kept = getattr(Household.objects.get(pk=household.pk), field)
    if _plausible(amount):
        assert answer.status_code == 200, answer.content
        assert kept == Decimal(amount)
    else:
        assert answer.status_code == 400, answer.content
        refused = error_of(answer)
        assert refused["detail"] == {"field": field}
        assert "at most $100,000,000,000" in refused["message"]
        assert kept == 0


@pytest.mark.parametrize("amount", AMOUNTS)
def test_a_year_end_value_is_bounded_as_the_accounts_file_bounds_it(firm_a, people, lees, client_for, amount):
    ira, year = lees["ira"], timezone.localdate().year - 1
    with tenant_context(firm_a):
        before = Account.objects.get(pk=ira.pk).year_end_values
    answer = client_for(firm_a, people["advisor"]).patch(
        f"{API}/accounts/{ira.pk}/rmd-facts/", {"year_end_value": amount, "year_end_year": year},
        content_type="application/json")

    with tenant_context(firm_a):
        kept = Account.objects.get(pk=ira.pk).year_end_values
    if _plausible(amount):
        assert answer.status_code == 200, answer.content
        assert Decimal(kept[str(year)]) == Decimal(amount)
    else:
        assert answer.status_code == 400, answer.content
        refused = error_of(answer)
        assert refused["detail"] == {"field": "year_end_value"}
        assert "at most $100,000,000,000" in refused["message"]
        assert kept == before
