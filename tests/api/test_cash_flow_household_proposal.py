"""docs/api.md cash-flows/: a withdrawal's sales wait as a household proposal, decided on
household-proposals/{id}/. The answer names it (id and status), and household-proposals/?run= finds it."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal

from ..rebalancing.book import AS_OF
from ..rebalancing.household_book import make_unit_household
from ..rebalancing.workflow import policy
from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        return make_unit_household(advisor=people["advisor"])


def test_a_withdrawal_entered_through_the_api_names_the_household_proposal_carrying_its_sales(
        firm_a, people, client_for, household):
    client = client_for(firm_a, people["advisor"])
    entered = client.post(f"{API}/cash-flows/", {"household": household["household"].pk, "kind": "withdrawal",
                                                  "amount": "4000", "as_of": str(AS_OF)}, content_type="application/json")
    assert entered.status_code == 201, entered.json()
    with tenant_context(firm_a):
        carrying = HouseholdProposal.objects.get(run_id=entered.json()["run"])
        assert set(carrying.proposals.values_list("status", flat=True)) == {"pending_approval"}
    assert entered.json()["household_proposal"] == {"id": carrying.pk, "status": "pending_approval"}

    # Decided there, the cash flow says so (its list too).
    decided = client.post(f"{API}/household-proposals/{carrying.pk}/approve/", {"comment": ""},
                          content_type="application/json")
    assert decided.status_code == 200, decided.json()
    with tenant_context(firm_a):
        now = set(carrying.proposals.values_list("status", flat=True))
    expected = now.pop() if len(now) == 1 else "mixed"
    assert expected != "pending_approval"
    again = client.get(f"{API}/cash-flows/{entered.json()['id']}/").json()["household_proposal"]
    assert again == {"id": carrying.pk, "status": expected}
    listed = client.get(f"{API}/cash-flows/").json()["results"]
    assert [f["household_proposal"] for f in listed if f["id"] == entered.json()["id"]] == [again]

    by_run = client.get(f"{API}/household-proposals/", {"run": entered.json()["run"]})
    assert by_run.status_code == 200, by_run.json()
    assert [hp["id"] for hp in by_run.json()["results"]] == [carrying.pk]
    assert client.get(f"{API}/household-proposals/", {"run": entered.json()["run"] + 1000}).json()["results"] == []


def test_a_deposit_has_no_household_proposal(firm_a, people, client_for, household):
    client = client_for(firm_a, people["advisor"])
    entered = client.post(f"{API}/cash-flows/", {"household": household["household"].pk, "kind": "deposit",
                                                  "amount": "1000", "account": household["joint"].pk,
                                                  "as_of": str(AS_OF)}, content_type="application/json")
    assert entered.status_code == 201, entered.json()
    assert entered.json()["household_proposal"] is None


def test_a_run_filter_that_is_no_id_is_refused_naming_it(firm_a, people, client_for, household):
    answer = client_for(firm_a, people["advisor"]).get(f"{API}/household-proposals/", {"run": "x"})
    assert answer.status_code == 400
    assert list(error_of(answer)["detail"]["fields"]) == ["run"]
