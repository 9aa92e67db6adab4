"""A withdrawal from a household one of whose accounts has no model (an accounts file row with an
empty model column) is refused naming that account and what to do, by the API and the page alike,
and nothing is written. It was refused as "model None has no version yet"."""

from datetime import date
from html import unescape

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow, Household, Proposal, RebalanceRun
from rebalancing.services.people import advisor_assign
from tests.rebalancing.book import make_account, make_model, make_securities, make_template

from .conftest import error_of
from .test_households_api import _json

pytestmark = pytest.mark.django_db
SAID = ("H5-NOMODEL has no model: a withdrawal is planned over all of Okafor family's accounts against their "
        "models, so give it a model (or move it out of the household), then enter the withdrawal again.")


@pytest.fixture
def okafors(firm_a, people):
    with tenant_context(firm_a):
        make_securities()
        household = Household.objects.create(name="Okafor family", external_id="HH-OK", template=make_template(),
                                             managed_as=Household.ManagedAs.ACCOUNTS)
        advisor_assign(household=household, advisor=people["advisor"], by=None)
        managed = make_account("OK-1", model=make_model(), household=household, cash="5000",
                               holdings=[("VTI", 100, 8000, date(2020, 1, 2))])
        unmanaged = make_account("H5-NOMODEL", model=None, household=household, cash="1000")
        yield {"household": household, "managed": managed, "unmanaged": unmanaged}


def _nothing_written(firm) -> None:
    with tenant_context(firm):
        assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists() and not Proposal.objects.exists()
        assert dict(Account.objects.values_list("custodian_number", "cash")) == {"OK-1": 5000, "H5-NOMODEL": 1000}


def test_the_api_names_the_account_without_a_model_and_what_to_do(okafors, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", "cash-flows/", {"household": okafors["household"].pk, "kind": "withdrawal",
                                                    "amount": "500"})

    assert answer.status_code == 400, answer.content
    assert (error_of(answer)["message"], error_of(answer)["detail"]) == (SAID, {"accounts": ["H5-NOMODEL"]})
    _nothing_written(firm_a)


def test_the_household_page_says_the_same(okafors, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])

    answer = advisor.post(f"/households/{okafors['household'].pk}/cash-flows/",
                          {"kind": "withdrawal", "amount": "500", "account": ""}, follow=True)

    assert answer.status_code == 200 and SAID in unescape(answer.content.decode())
    _nothing_written(firm_a)


def test_once_it_has_a_model_the_withdrawal_is_planned(okafors, people, firm_a, client_for):
    with tenant_context(firm_a):
        Account.objects.filter(pk=okafors["unmanaged"].pk).update(model=okafors["managed"].model)
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", "cash-flows/", {"household": okafors["household"].pk, "kind": "withdrawal",
                                                    "amount": "500"})

    assert answer.status_code == 201, answer.content
