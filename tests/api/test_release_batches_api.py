"""Releasing every approved proposal through the API: started at once (202 and a Location to
follow), one at a time, followed until it names what it released and what it refused and why."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.services.release_batches import release_batch_execute

from ..rebalancing.book import make_book
from ..rebalancing.workflow import make_proposal, policy
from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _ask(client, body=None):
    return client.post(f"{API}/release-batches/", body or {}, content_type="application/json")


def test_a_portfolio_manager_releases_every_approved_proposal_and_follows_it(
        firm_a, people, client_for, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        accounts = make_book(3)["accounts"]
        fresh = [make_proposal(a, status=Proposal.Status.APPROVED) for a in accounts[:2]]
        stale = make_proposal(accounts[2], status=Proposal.Status.APPROVED, as_of=date(2010, 1, 4))
    pm = client_for(firm_a, people["pm"])
    assert _ask(client_for(firm_a, people["advisor"])).status_code == 403
    refused = error_of(_ask(pm, {"comment": "x", "accounts": [1]}))
    assert "accounts" in str(refused["detail"]) and "is not a field of this request" in str(refused["detail"])

    with django_capture_on_commit_callbacks() as queued:
        asked = _ask(pm, {"comment": "month end"})

    body = asked.json()
    assert asked.status_code == 202 and len(queued) == 1
    assert asked["Location"] == f"{API}/release-batches/{body['id']}/"
    assert (body["status"], body["total"], body["done"], body["comment"], body["started_by"]) == (
        "queued", 3, 0, "month end", people["pm"].username)
    assert sorted(body["proposal_ids"]) == sorted([p.pk for p in fresh] + [stale.pk])
    assert _ask(pm).json()["id"] == body["id"]  # one at a time: asking again answers with it

    with tenant_context(firm_a):
        release_batch_execute(batch_id=body["id"])
    done = pm.get(asked["Location"]).json()

    assert (done["status"], done["done"], done["released"], done["refused"]) == ("completed", 3, 2, 1)
    [refusal] = done["refusals"]
    assert refusal["proposal"] == stale.pk and "has expired" in refusal["message"]
    assert [b["id"] for b in pm.get(f"{API}/release-batches/").json()["results"]] == [body["id"]]
    nothing = _ask(pm)
    assert nothing.status_code == 400 and error_of(nothing)["code"] == "nothing_to_release"
