"""The Runs page starts a run for one household, or for accounts typed by their numbers, through
``run_start`` as the API's account_ids and household_id scopes do; a number that names no account
is refused by name and nothing starts."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _runs(firm):
    with tenant_context(firm):
        return RebalanceRun.objects.count()


def test_the_form_offers_a_household_and_typed_accounts(book, as_user):
    page = text(as_user("pm").get("/runs/"))
    assert '<option value="household">Of one household</option>' in page
    assert '<option value="accounts">Chosen accounts</option>' in page
    household = book["mine"][0].household
    assert f'<option value="{household.external_id}">{household.name} ({household.external_id})</option>' in page
    assert 'name="accounts"' in page


def test_a_run_for_one_household(book, as_user, firm_a):
    household = book["mine"][0].household
    response = as_user("pm").post("/runs/", {"scope": "household", "household": household.external_id}, follow=True)
    with tenant_context(firm_a):
        run = RebalanceRun.objects.order_by("-pk").first()
        members = sorted(household.accounts.values_list("pk", flat=True))
    assert run.scope == {"household_id": household.pk} and run.total == len(members)
    assert f"Run {run.pk} started over {run.total} account" in text(response)


def test_a_household_typed_by_its_name_is_found_and_a_shared_name_is_refused_naming_the_ids(book, as_user, firm_a):
    # A book too large to list its households offers a box: people type the name they know.
    from rebalancing.models import Household

    household = book["mine"][0].household
    client = as_user("pm")  # a portfolio manager sees every household
    client.post("/runs/", {"scope": "household", "household": f"  {household.name.upper()} "}, follow=True)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.order_by("-pk").first().scope == {"household_id": household.pk}
        Household.objects.create(name=household.name, external_id="ZZ-TWIN-1")
    before = _runs(firm_a)
    page = text(client.post("/runs/", {"scope": "household", "household": household.name}, follow=True))
    assert (f"2 households you may see are named “{household.name}” ({household.external_id}, ZZ-TWIN-1): type the "
            "ID of the one meant. No run was started.") in page
    assert _runs(firm_a) == before


def test_a_run_for_typed_account_numbers(book, as_user, firm_a):
    a, b = book["mine"][0], book["theirs"][1]
    as_user("pm").post("/runs/", {"scope": "accounts", "accounts": f" {a.custodian_number},\n{b.custodian_number}\r\n"
                                                                    f"{a.custodian_number}\n"})
    with tenant_context(firm_a):
        run = RebalanceRun.objects.order_by("-pk").first()
    assert sorted(run.scope["account_ids"]) == sorted([a.pk, b.pk]) and run.total == 2


def test_each_unknown_number_is_named_and_nothing_starts(book, as_user, firm_a):
    before = _runs(firm_a)
    a = book["mine"][0]
    response = as_user("pm").post("/runs/", {"scope": "accounts",
                                             "accounts": f"{a.custodian_number}, NOPE-1\nNOPE-2"}, follow=True)
    page = text(response)
    assert "No account numbered “NOPE-1”, “NOPE-2” among the accounts you may see" in page
    assert "No run was started." in page and a.custodian_number not in page.split("No account numbered")[1][:80]
    assert _runs(firm_a) == before
    # the form comes back as typed, the field marked
    assert "NOPE-2</textarea>" in page and 'aria-invalid="true"' in page


def test_empty_choices_are_refused_naming_the_field(book, as_user, firm_a):
    before = _runs(firm_a)
    client = as_user("pm")
    assert "Type the numbers of the accounts the run is for" in text(
        client.post("/runs/", {"scope": "accounts", "accounts": " , \n"}, follow=True))
    assert "Choose the household whose accounts the run is for." in text(
        client.post("/runs/", {"scope": "household"}, follow=True))
    assert "No household with the ID or name “nope” among those you may see." in text(
        client.post("/runs/", {"scope": "household", "household": "nope"}, follow=True))
    assert "Account numbers are chosen but the run is for the whole firm" in text(
        client.post("/runs/", {"scope": "firm", "accounts": "F-000"}, follow=True))
    assert _runs(firm_a) == before
