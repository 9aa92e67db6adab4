"""Refusals finished where they were missing:

- a model holding a security with no price is refused wherever an account or a household gets it (a
  household managed as one, on its page and at its creation; an accounts file's ``model`` column),
  as assigning it to accounts is: every run on it would fail ("no price for HTHRX");
- typed numbers of a list filter or the run form's drift threshold take only their own unit;
- a refused instruction amount says why (the typed-number problem), not only that it is refused;
- the RMD facts form's refusals name a date by its label."""

import re

import pytest
from django.http import QueryDict
from django.utils import timezone
from django_tenants.utils import tenant_context

from frontend.views.proposals import instructions_posted
from rebalancing.imports import ImportRejected, accounts_import
from rebalancing.models import Account, Household, RebalanceRun, Security
from rebalancing.services.households import household_management_set
from tenants.audit.models import AuditEvent
from tests.rebalancing.book import make_model

from . import test_household_pages as household_pages

lees = household_pages.lees  # a household managed as one, with a traditional IRA (LEE-IRA)
_url = household_pages._url

pytestmark = pytest.mark.django_db

UNPRICED = ("model “Unpriced” holds HTHRX, which has no price: every run of an account on the model would fail "
            "(“no price for HTHRX”); import a price for it on the Import page (“Closing prices by day”)")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _unpriced_model():
    Security.objects.create(symbol="HTHRX", name="Hartford fund", asset_class="bonds", is_fund=True)
    return make_model("unpriced", sleeves=(("us_equity", "0.6", {"VTI": "1"}),
                                           ("bonds", "0.4", {"BND": "0.5", "HTHRX": "0.5"})))


# 1. A model holding a security with no price, wherever it is set


def test_managing_a_household_as_one_to_a_model_without_a_price_is_refused_writing_nothing(book, as_user, firm_a):
    with tenant_context(firm_a):
        model = _unpriced_model()
        household = book["mine"][0].household
        before = (household.managed_as, household.model_id)

    response = as_user("admin").post(_url(household, "management/"),
                                     {"managed_as": "household", "model": model.pk, "template": ""}, follow=True)

    assert f"Nothing changed: {UNPRICED}, then manage the household as one to it again." in text(response)
    with tenant_context(firm_a):
        stored = Household.objects.get(pk=household.pk)
        assert (stored.managed_as, stored.model_id) == before
        assert not AuditEvent.objects.filter(action="household.change").exists()


def test_a_household_keeping_the_model_it_is_managed_to_is_not_refused_for_it(book, firm_a, people):
    # A model that lost a price's security later (its new version) is warned of where it is saved; the
    # household's other settings may still change: only a model it gets is refused.
    with tenant_context(firm_a):
        model = _unpriced_model()
        household = book["mine"][0].household
        Household.objects.filter(pk=household.pk).update(managed_as="household", model=model)
        household.refresh_from_db()

        managed = household_management_set(user=people["admin"], household=household, managed_as="household",
                                           model=model, template=book["template"])

        assert Household.objects.get(pk=managed.household.pk).template_id == book["template"].pk


def test_creating_a_household_managed_as_one_to_a_model_without_a_price_is_refused(book, as_user, firm_a):
    with tenant_context(firm_a):
        model = _unpriced_model()

    response = as_user("admin").post("/households/", {"name": "Ngata", "external_id": "H-NGATA",
                                                      "managed_as": "household", "model": model.pk, "template": ""},
                                     follow=True)

    assert (f"Nothing created: {UNPRICED}, then create the household managed as one to it again."
            in text(response))
    with tenant_context(firm_a):
        assert not Household.objects.filter(external_id="H-NGATA").exists()


def test_an_accounts_file_giving_accounts_a_model_without_a_price_is_refused_naming_the_rows(book, firm_a):
    with tenant_context(firm_a):
        _unpriced_model()
        kept = book["mine"][0]
        Account.objects.filter(pk=kept.pk).update(model=book["model"])
        header = b"account_number,account_name,household_id,model\n"

        with pytest.raises(ImportRejected) as refused:
            accounts_import(source=header
                            + f"{kept.custodian_number},{kept.name},{kept.household.external_id},unpriced\n".encode()
                            + b"N-900,New account,H-NEW,unpriced\n"
                            + f"N-901,Another,H-NEW,{book['model'].code}\n".encode())

        assert [(p["row"], p["column"], p["problem"]) for p in refused.value.detail["problems"]] == [
            (2, "model", f"{UNPRICED}, then import the file again"),
            (3, "model", f"{UNPRICED}, then import the file again")]
        assert Account.objects.get(pk=kept.pk).model_id == book["model"].pk
        assert not Account.objects.filter(custodian_number__in=["N-900", "N-901"]).exists()
        assert not Household.objects.filter(external_id="H-NEW").exists()


def test_an_accounts_file_keeping_the_model_an_account_has_is_not_refused_for_it(book, firm_a):
    # The nightly file repeats each account's model: a model it is already on is not set by the file.
    with tenant_context(firm_a):
        model = _unpriced_model()
        kept = book["mine"][0]
        Account.objects.filter(pk=kept.pk).update(model=model)

        summary = accounts_import(source=b"account_number,account_name,household_id,model\n"
                                  + f"{kept.custodian_number},Renamed,{kept.household.external_id},unpriced\n".encode())

        assert summary.updated == 1 and Account.objects.get(pk=kept.pk).name == "Renamed"


# 2. Each typed number in its own unit


@pytest.mark.parametrize(("who", "query", "message"), [
    ("admin", "/accounts/?min_drift=$5",
     "Minimum drift: “$5” — this setting is a percentage, not dollars (type 5 for 5%)."),
    ("admin", "/accounts/?min_cash=$5",
     "Minimum cash: “$5” — this setting is a percentage, not dollars (type 5 for 5%)."),
    ("admin", "/accounts/?min_loss=5%",
     "Minimum unrealised loss: “5%” — this setting is an amount in dollars, not a percentage."),
    ("compliance", "/approvals/?view=all&min_tax=5%",
     "Minimum estimated tax: “5%” — this setting is an amount in dollars, not a percentage."),
    ("compliance", "/approvals/?view=all&min_turnover=$5",
     "Minimum turnover: “$5” — this setting is a percentage, not dollars (type 5 for 5%)."),
])
def test_a_list_filter_refuses_the_other_unit_naming_the_field(book, as_user, who, query, message):
    response = as_user(who).get(query)

    assert response.status_code == 400
    assert message in text(response)


def test_a_list_filter_still_reads_its_own_unit(book, as_user):
    assert as_user("admin").get("/accounts/?min_drift=5%&min_loss=$1,000").status_code == 200


def test_a_run_whose_drift_threshold_is_typed_in_dollars_is_refused_naming_it(book, as_user, firm_a):
    with tenant_context(firm_a):
        before = RebalanceRun.objects.count()

    response = as_user("pm").post("/runs/", {"scope": "firm", "min_drift": "$5"}, follow=True)

    assert "Drift threshold: “$5” — this setting is a percentage, not dollars (type 5 for 5%)." in text(response)
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == before


# 3. A refused instruction amount says why


def _instruction(amount: str) -> QueryDict:
    posted = QueryDict(mutable=True)
    for name, value in (("ins_action", "raise_cash"), ("ins_symbol", ""), ("ins_buy", ""), ("ins_amount", amount)):
        posted.setlist(name, [value])
    return posted


@pytest.mark.parametrize(("amount", "why"), [
    ("1.500,00", "Amount of instruction 1: “1.500,00” — use a point for decimals and a comma only between "
                 "thousands (1,500.00, not 1.500,00)."),
    ("5%", "Amount of instruction 1: “5%” — this setting is an amount in dollars, not a percentage."),
    ("lots", "The amount of instruction 1 must be a number, not “lots”."),
])
def test_a_refused_instruction_amount_says_why(amount, why):
    with pytest.raises(ValueError) as refused:
        instructions_posted(_instruction(amount))

    assert str(refused.value) == why


def test_the_account_page_says_why_an_instruction_amount_is_refused(book, as_user):
    response = as_user("pm").post(f"/accounts/{book['mine'][0].pk}/instruct/", _instruction("0,5"), follow=True)

    assert ("Amount of instruction 1: “0,5” — use a point for decimals (0.5); a comma may only separate thousands."
            in text(response))


# 4. The RMD facts form names a date by its label


def test_an_impossible_spouses_date_of_birth_is_named_by_its_label(lees, as_user):
    year = timezone.localdate().year
    response = as_user("advisor").post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "1950-06-01", "spouse_birth_date": "2199-01-01",
        "year_end_value": "100000", "year_end_year": str(year - 1)}, follow=True)

    page = text(response)
    assert ("The spouse&#x27;s date of birth cannot be 2199-01-01: it must be from 1880 on and not in the future."
            in page)
    assert "spouse birth date" not in page
