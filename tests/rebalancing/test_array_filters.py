import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rebalancing.array_filters import any_of
from rebalancing.models import Account, TaxLot

from .book import make_book

pytestmark = pytest.mark.django_db


def test_any_of_matches_the_rows_in_matches_with_one_parameter(firm_a):
    # Given a book, and ids with a repeat, a None and one that is no account
    with tenant_context(firm_a):
        accounts = make_book(4)["accounts"]
        ids = [accounts[0].pk, accounts[2].pk, accounts[2].pk, None, 10**12]
        households = [accounts[1].household_id, accounts[3].household_id]
        # When rows are filtered by them as one array, directly and through a foreign key
        with CaptureQueriesContext(connection) as queries:
            by_array = sorted(Account.objects.filter(any_of("pk", ids)).values_list("pk", flat=True))
            lots_by_array = sorted(TaxLot.objects.filter(any_of("account__household_id", households))
                                   .values_list("pk", flat=True))
        by_in = sorted(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
        lots_by_in = sorted(TaxLot.objects.filter(account__household_id__in=households).values_list("pk", flat=True))
    # Then they are the rows ``__in`` gives, each id list sent as one array
    assert by_array == by_in == [accounts[0].pk, accounts[2].pk]
    assert lots_by_array == lots_by_in and len(lots_by_in) == 4
    assert all("= ANY(" in q["sql"] and " IN (" not in q["sql"] for q in queries.captured_queries)


def test_any_of_nothing_matches_nothing_without_a_query(firm_a):
    with tenant_context(firm_a):
        make_book(1)
        with CaptureQueriesContext(connection) as queries:
            found = list(Account.objects.filter(any_of("pk", [])))
            found += list(Account.objects.filter(any_of("household_id", [None])))
    assert found == [] and not queries.captured_queries
