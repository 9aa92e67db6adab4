"""A run a person starts over a scope covering no account is refused (400) saying why, and nothing is
queued; before, an empty run was stored "completed", as if it had rebalanced something. An account id
the person may not see is named too, where before it was skipped and the others ran."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def _start(client, scope):
    return client.post(f"{API}/runs/", {"scope": scope, "as_of": "2026-11-20"}, content_type="application/json")


@pytest.fixture
def pm_client(firm_a, people, api_key):
    return key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))


def _runs(firm) -> int:
    with tenant_context(firm):
        return RebalanceRun.objects.count()


@pytest.mark.parametrize(("scope", "why"), [
    ({"account_ids": [987654321]}, "account_ids 987654321: no account you may see"),
    ({"model_code": "no-such-model"}, "model_code 'no-such-model' is no model of the firm"),
    ({"template_code": "no-such-template"}, "template_code 'no-such-template' is no template of the firm"),
    ({"household_id": 987654321}, "household_id 987654321 is no household you may see"),
    ({"advisor_id": 987654321}, "advisor_id 987654321 advises no household"),
    ({"model_code": "balanced", "min_drift": 10}, "no managed account matches model_code=balanced, min_drift=10"),
])
def test_a_scope_covering_no_account_is_a_400_saying_why_and_nothing_is_queued(firm_a, book, pm_client, scope, why):
    before = _runs(firm_a)

    refused = _start(pm_client, scope)

    assert refused.status_code == 400, refused.content
    body = error_of(refused)
    assert body["code"] == "invalid" and body["detail"]["field"].startswith("scope")
    assert why in body["message"], body["message"]
    assert _runs(firm_a) == before


def test_an_account_id_not_seen_beside_others_is_named_not_skipped(firm_a, book, pm_client):
    before = _runs(firm_a)

    refused = _start(pm_client, {"account_ids": [book["own"].pk, 987654321]})

    assert refused.status_code == 400 and "account_ids 987654321" in error_of(refused)["message"]
    assert _runs(firm_a) == before


def test_accounts_left_out_for_their_approved_proposal_are_said_with_the_way_to_replace_them(firm_a, book, pm_client):
    with tenant_context(firm_a):
        Proposal.objects.filter(account=book["own"]).update(status=Proposal.Status.APPROVED)

    refused = _start(pm_client, {"account_ids": [book["own"].pk]})
    replaced = _start(pm_client, {"account_ids": [book["own"].pk], "replace_approved": True})

    assert refused.status_code == 400 and "set replace_approved to replace them" in error_of(refused)["message"]
    assert replaced.status_code == 201 and replaced.json()["total"] == 1


def test_a_scope_covering_accounts_still_starts(book, pm_client):
    started = _start(pm_client, {"account_ids": [book["own"].pk]})

    assert started.status_code == 201 and started.json()["total"] == 1


def test_an_account_named_twice_in_a_scope_is_one_account(firm_a, book, pm_client):
    own = book["own"].pk
    started = _start(pm_client, {"account_ids": [own, own]})
    assert started.status_code in (201, 202), started.content
    assert (started.json()["scope"]["account_ids"], started.json()["total"]) == ([own], 1)
