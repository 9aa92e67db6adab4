"""PATCH accounts/{id}/rmd-facts/ keeps the dates it was not sent as the locked row holds them. The view
filled them from a read made BEFORE the service locked the row (``data.setdefault(...)``), so a concurrent
PATCH that set the spouse's date and committed in between was overwritten with the old value: a lost
update. Now the view passes "omitted" through (``rmd.AS_STORED``) and the service fills it under its lock."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.api.views import book as book_views
from rebalancing.models import Account
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API

pytestmark = pytest.mark.django_db


def test_a_concurrent_spouse_date_is_not_overwritten_by_a_patch_that_did_not_name_it(firm_a, people, client_for,
                                                                                    monkeypatch):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        ira = make_unit_household(advisor=people["advisor"])["ira"]
        Account.objects.filter(pk=ira.pk).update(owner_birth_date=date(1950, 6, 1), spouse_birth_date=None)
    original = book_views.account_rmd_facts_set

    def meanwhile_then_save(**kwargs):
        # Another PATCH (spouse_birth_date only) commits between this request's read and its lock.
        Account.objects.filter(pk=ira.pk).update(spouse_birth_date=date(1972, 3, 1))
        return original(**kwargs)

    monkeypatch.setattr(book_views, "account_rmd_facts_set", meanwhile_then_save)
    client = client_for(firm_a, people["advisor"])
    answer = client.patch(f"{API}/accounts/{ira.pk}/rmd-facts/",
                          {"year_end_value": "100000.00", "year_end_year": AS_OF.year - 1},
                          content_type="application/json")
    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        saved = Account.objects.get(pk=ira.pk)
    assert saved.year_end_values == {str(AS_OF.year - 1): "100000.00"}
    assert saved.spouse_birth_date == date(1972, 3, 1)  # the other PATCH's date, not the stale None
