"""A new household whose id equals another's but for capitals ("acm-hh-00009" beside
"ACM-HH-00009") is created: two households a person tells apart only by case, and a report or file
naming the id in other capitals reaches the wrong (empty) one. Model and template codes equal but for
capitals are refused (docs/frontend.md); a household id should be too."""

import html

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Household

pytestmark = pytest.mark.django_db


def test_a_household_id_equal_to_another_but_for_capitals_is_refused(firm_a, as_user):
    admin = as_user("admin")
    assert admin.post("/households/", {"name": "Diaz family", "external_id": "HH-DIAZ",
                                       "managed_as": "accounts"}).status_code == 302
    admin.post("/households/", {"name": "Other Diaz", "external_id": "hh-diaz", "managed_as": "accounts"})
    with tenant_context(firm_a):
        assert Household.objects.filter(external_id__iexact="hh-diaz").count() == 1


def test_the_refusal_names_the_other_id_and_keeps_what_was_typed(firm_a, as_user):
    admin = as_user("admin")
    assert admin.post("/households/", {"name": "Diaz family", "external_id": "HH-DIAZ",
                                       "managed_as": "accounts"}).status_code == 302
    response = admin.post("/households/", {"name": "Other Diaz", "external_id": "hh-diaz", "managed_as": "accounts"},
                          follow=True)
    page = html.unescape(response.content.decode())
    assert "The household id “hh-diaz” differs only in capitals from the id “HH-DIAZ”" in page
    assert 'value="hh-diaz"' in page


def test_the_database_refuses_it_too(firm_a):
    from django.db import IntegrityError, transaction

    with tenant_context(firm_a):
        Household.objects.create(name="Diaz family", external_id="HH-DIAZ")
        with pytest.raises(IntegrityError), transaction.atomic():
            Household.objects.create(name="Other Diaz", external_id="hh-Diaz")


def test_ids_clashing_within_one_batch_and_with_the_book(firm_a):
    from rebalancing.services.households import household_ids_clashing

    with tenant_context(firm_a):
        Household.objects.create(name="Diaz family", external_id="HH-DIAZ")
        assert household_ids_clashing(["HH-DIAZ", "hh-diaz", "NEW-1", "new-1"]) == {"hh-diaz": "HH-DIAZ",
                                                                                  "new-1": "NEW-1"}


def test_the_accounts_file_refuses_it_on_its_line_and_writes_nothing(firm_a):
    from rebalancing.imports import ImportRejected, accounts_import
    from rebalancing.models import Account

    with tenant_context(firm_a):
        Household.objects.create(name="Diaz family", external_id="HH-DIAZ")
        source = (b"account_number,account_name,household_id\n"
                  b"D-1,Diaz joint,HH-DIAZ\nD-2,Diaz other,hh-diaz\nN-1,New one,NEW-1\nN-2,New two,new-1\n")
        with pytest.raises(ImportRejected) as refused:
            accounts_import(source=source)
        problems = [(p["row"], p["column"], p["problem"]) for p in refused.value.detail["problems"]]
        assert problems == [
            (3, "household_id", "“hh-diaz” differs only in capitals from the household id “HH-DIAZ”: ids are told "
                                "apart ignoring capitals; give that id as it is, or another one"),
            (5, "household_id", "“new-1” differs only in capitals from the household id “NEW-1”: ids are told "
                                "apart ignoring capitals; give that id as it is, or another one"),
        ]
        assert not Account.objects.filter(custodian_number__in=["D-1", "D-2", "N-1", "N-2"]).exists()
        assert Household.objects.filter(external_id__iexact="new-1").count() == 0
