"""One plausibility bound on a cash flow's amount for the three ways in - the API, the household page
and the cash-flow file - said in the same words, and nothing written: the bound held for the file
only, so that the API credited $500bn to an account (201) and the page's form took up to 10^16."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow, RebalanceRun
from tests.rebalancing.household_book import make_unit_household

from .conftest import API, error_of
from .test_households_api import _json

pytestmark = pytest.mark.django_db
SAID = "The amount, $500,000,000,000, is more than any client account holds: at most $100,000,000,000 in one cash flow."


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        yield make_unit_household(advisor=people["advisor"])


def _nothing_written(firm, lees) -> None:
    with tenant_context(firm):
        assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists()
        assert Account.objects.get(pk=lees["ira"].pk).cash == lees["ira"].cash


@pytest.mark.parametrize("kind", ["deposit", "withdrawal"])
def test_the_api_refuses_an_amount_no_client_account_holds(lees, people, firm_a, client_for, kind):
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": kind,
                                                    "amount": "500000000000", "account": lees["ira"].pk})

    assert answer.status_code == 400, answer.content
    assert (error_of(answer)["message"], error_of(answer)["detail"]) == (SAID, {"field": "amount"})
    _nothing_written(firm_a, lees)


def test_the_household_page_refuses_it_in_the_same_words(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])

    answer = advisor.post(f"/households/{lees['household'].pk}/cash-flows/",
                          {"kind": "deposit", "amount": "500,000,000,000", "account": lees["ira"].pk}, follow=True)

    assert answer.status_code == 200 and SAID in answer.content.decode()
    _nothing_written(firm_a, lees)


def test_the_file_refuses_it_on_its_row_in_the_same_words(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    text = "household_id,kind,amount,account_number\nHH-LEE,deposit,500000000000,LEE-IRA\n"

    answer = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})

    assert answer.status_code == 400
    assert [(p["row"], p["column"], p["problem"]) for p in error_of(answer)["detail"]["problems"]] == [
        (2, "amount", SAID)]
    _nothing_written(firm_a, lees)


def test_the_bound_itself_is_accepted(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "deposit",
                                                    "amount": "100000000000", "account": lees["ira"].pk})

    assert answer.status_code == 201, answer.content


def test_a_deposit_the_accounts_cash_cannot_hold_is_still_refused(lees, people, firm_a, client_for):
    # (an amount within the bound, onto cash already at the column's limit)
    with tenant_context(firm_a):
        Account.objects.filter(pk=lees["ira"].pk).update(cash="9999999999999999")
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "deposit",
                                                    "amount": "100", "account": lees["ira"].pk})

    assert answer.status_code == 400 and "above what an account can hold" in error_of(answer)["message"]
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists() and Account.objects.get(pk=lees["ira"].pk).cash == 9999999999999999
