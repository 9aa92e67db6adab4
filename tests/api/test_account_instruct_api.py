"""A one-off instruction through the API (POST accounts/{id}/instruct/), through the same service as the
account page: what it answers, what it refuses, who may, retries."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal, RebalanceRun

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _instruct(client, account, body, **headers):
    return client.post(f"{API}/accounts/{account.pk}/instruct/", body, content_type="application/json", **headers)


def _written(firm) -> tuple[int, int]:
    with tenant_context(firm):
        return Proposal.objects.count(), RebalanceRun.objects.count()


def test_a_portfolio_manager_sells_an_amount_and_buys_another_with_a_key(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))
    old = book["own_proposal"]

    answer = _instruct(client, book["own"], {"instructions": [
        {"action": "sell", "symbol": "bnd", "buy": "agg", "amount": "4000"}]})

    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert new["status"] == "pending_approval" and new["revised_into"] is None
    assert new["revision"]["instructions"] == ["sell $4,000.00 of BND and buy AGG"]
    assert new["revision"]["revised_from"] is None and new["revision"]["revised_by"] == people["pm"].username
    trades = {t["symbol"]: t for t in new["trades"]}
    assert trades["BND"]["side"] == "sell" and trades["BND"]["quantity"] == pytest.approx(50)
    assert client.get(f"{API}/proposals/{old.pk}/").json()["status"] == "superseded"
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=new["id"]).run.kind == RebalanceRun.Kind.INSTRUCTION
        assert Account.objects.get(pk=book["own"].pk).overrides == {}


@pytest.mark.parametrize(("body", "status", "code", "says"), [
    ({"instructions": []}, 400, "invalid", "instructions"),
    ({"instructions": [{"action": "hold", "symbol": "VTI"}]}, 400, "invalid", "instructions"),
    ({"instructions": [{"action": "sell", "symbol": "ZZZ"}]}, 400, "invalid", "Instruction 1: ZZZ is not in the security master."),
    ({"instructions": [{"action": "sell", "symbol": "BND", "amount": "90000"}]}, 400, "invalid",
     "it cannot sell $90,000.00"),
    ({"instructions": [{"action": "liquidate", "amount": "5"}]}, 400, "invalid", "an amount is for a sale"),
    ({"instructions": [{"action": "raise_cash", "amount": "-5"}]}, 400, "invalid", "instructions"),
    ({"instructions": [{"action": "liquidate"}], "extra": 1}, 400, "invalid", "extra"),
])
def test_bad_bodies_are_refused_by_name_and_write_nothing(firm_a, people, book, client_for, body, status, code, says):
    client = client_for(firm_a, people["pm"])
    written = _written(firm_a)
    answer = _instruct(client, book["own"], body)
    assert answer.status_code == status, answer.content
    error = error_of(answer)
    assert error["code"] == code and (says in error["message"] or says in str(error["detail"])), error
    assert _written(firm_a) == written


def test_advisors_may_not_and_a_retry_replays(firm_a, people, book, client_for):
    written = _written(firm_a)
    refused = _instruct(client_for(firm_a, people["advisor"]), book["own"], {"instructions": [{"action": "liquidate"}]})
    assert refused.status_code == 403 and _written(firm_a) == written

    client = client_for(firm_a, people["pm"])
    body = {"instructions": [{"action": "liquidate"}]}
    first = _instruct(client, book["own"], body, HTTP_IDEMPOTENCY_KEY="liquidate-T-000")
    second = _instruct(client, book["own"], body, HTTP_IDEMPOTENCY_KEY="liquidate-T-000")
    assert first.status_code == second.status_code == 201 and second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.INSTRUCTION).count() == 1


def test_an_account_of_a_household_unit_is_liquidated_through_the_households_solve(firm_a, people, book,
                                                                                   client_for):
    from rebalancing.models import Household

    with tenant_context(firm_a):
        account = Account.objects.get(pk=book["own"].pk)
        Household.objects.filter(pk=account.household_id).update(managed_as=Household.ManagedAs.HOUSEHOLD,
                                                                   model=account.model)
    answer = _instruct(client_for(firm_a, people["pm"]), book["own"], {"instructions": [{"action": "liquidate"}]})
    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert new["revision"]["instructions"] == ["sell everything"]
    assert new["trades"] and all(t["side"] == "sell" for t in new["trades"])
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=new["id"]).household_proposal_id is not None


def test_harvest_now_through_the_api_and_its_refusals(firm_a, people, book, client_for):
    """T-000's BND is $1,000 down (harvesting off in its template): harvested once; a harvest naming a
    security, in an IRA, or where no loss passes the thresholds is refused by name, writing nothing."""
    from datetime import date

    from rebalancing.models import Security

    from ..rebalancing.book import make_account

    client = client_for(firm_a, people["pm"])
    with tenant_context(firm_a):
        Security.objects.filter(symbol="BND").update(harvest_substitute=Security.objects.get(symbol="AGG"))
        gains = make_account("T-GAIN", model=book["model"], template=book["template"],
                             holdings=[("VTI", 100, 5000, date(2020, 1, 2))])
        ira = make_account("T-IRA", model=book["model"], template=book["template"],
                           holdings=[("BND", 100, 9000, date(2026, 6, 1))])
        Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    written = _written(firm_a)
    for account, body, status, code, says in [
        (book["own"], {"action": "harvest", "symbol": "BND"}, 400, "invalid", "names no security"),
        (ira, {"action": "harvest"}, 400, "not_taxable", "T-IRA is a traditional IRA"),
        (gains, {"action": "harvest"}, 409, "nothing_to_harvest", "T-GAIN has no loss to harvest now"),
    ]:
        answer = _instruct(client, account, {"instructions": [body]})
        assert answer.status_code == status, answer.content
        assert error_of(answer)["code"] == code and says in error_of(answer)["message"]
    assert _written(firm_a) == written

    answer = _instruct(client, book["own"], {"instructions": [{"action": "harvest"}]})
    assert answer.status_code == 201, answer.content
    trades = {t["symbol"]: t for t in answer.json()["trades"]}
    assert "harvest" in trades["BND"]["reasons"] and trades["AGG"]["side"] == "buy"
    assert answer.json()["revision"]["instructions"] == ["harvest the losses past the harvest thresholds"]
