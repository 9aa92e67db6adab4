"""Four eyes and API keys: a key acts as its owner, so its token goes to its owner alone. A firm admin
may issue a key for someone else (name, scopes, expiry) but never holds its token: the owner collects
it, once, signed in on their own API keys page. Otherwise an admin could approve one proposal in the
advisor's capacity and compliance's, alone (tenants.api_keys.services.api_key_create / api_key_collect)."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from tenants.api_keys.models import ApiKey
from tenants.audit.models import AuditEvent
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

API = "/api/v1"
TOKEN = re.compile(r"rk_[0-9a-f]{8}_[A-Za-z0-9_-]+")


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _pending(firm_a, book) -> Proposal:
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0], run=book["run"])
        Proposal.objects.filter(pk=proposal.pk).update(requires_compliance=True)
        return proposal


def test_an_admin_issuing_keys_in_others_names_through_the_api_gets_no_token(firm_a, book, people, as_user):
    admin = as_user("admin")
    proposal = _pending(firm_a, book)

    answers = [admin.post(f"{API}/api-keys/", {"name": f"for {who}", "scopes": ["read", "approve"],
                                               "user": people[who].pk}, content_type="application/json")
               for who in ("advisor", "compliance")]

    for answer, who in zip(answers, ("advisor", "compliance"), strict=True):
        assert answer.status_code == 201 and answer.json()["owner"] == people[who].username
        assert "token" not in answer.json() and not TOKEN.search(answer.content.decode())
        assert answer.json()["status"] == "awaiting_owner"
    with tenant_context(firm_a):
        keys = list(ApiKey.objects.filter(name__startswith="for "))
        assert len(keys) == 2 and all(k.awaits_owner and k.created_by_id == people["admin"].pk for k in keys)
        created = AuditEvent.objects.filter(action="api_key.create", object_id__in=[str(k.pk) for k in keys])
        assert {e.after["token"] for e in created} == {"for its owner to collect"}
    # No secret exists yet: whatever is sent under such a key's prefix is nobody's key.
    guessed = key_client(firm_a, f"rk_{keys[0].prefix}_{'A' * 43}").post(
        f"{API}/proposals/{proposal.pk}/approve/", {"comment": ""}, content_type="application/json")
    assert guessed.status_code == 401 and guessed.json()["code"] == "api_key_unknown"
    with tenant_context(firm_a):
        assert not proposal.approvals.exists()


def test_an_admin_issuing_a_key_for_someone_on_the_page_is_told_only_they_see_it(firm_a, book, people, as_user):
    admin = as_user("admin")

    made = admin.post("/api-keys/", {"action": "create", "name": "for the advisor", "scope": ["read", "approve"],
                                     "owner": people["advisor"].pk}, follow=True)

    page = _text(made)
    assert made.redirect_chain == [("/api-keys/", 302)]
    assert (f"was created for {people['advisor'].username}. Its token is not shown to you: a key acts as its "
            "owner, so only they see it, once, when they collect it on their API keys page.") in page
    assert not TOKEN.search(page) and "This is the only time the key is shown" not in page
    assert f"waiting for {people['advisor'].username} to collect its token" in page
    with tenant_context(firm_a):
        key = ApiKey.objects.get(name="for the advisor")
    # The issuer cannot collect it in the owner's place.
    taken = admin.post("/api-keys/", {"action": "collect", "key": key.pk})
    assert taken.status_code == 400 and not TOKEN.search(_text(taken))
    assert (f"Only {people['advisor'].username} collects the key rk_{key.prefix}: a key acts as its owner, so its "
            "token goes to its owner alone.") in _text(taken)
    with tenant_context(firm_a):
        key.refresh_from_db()
        assert key.awaits_owner


def test_the_owner_collects_their_key_once_and_decides_as_themselves(firm_a, book, people, as_user):
    proposal = _pending(firm_a, book)
    as_user("admin").post(f"{API}/api-keys/", {"name": "advisor's feed", "scopes": ["read", "approve"],
                                               "user": people["advisor"].pk}, content_type="application/json")
    advisor = as_user("advisor")
    with tenant_context(firm_a):
        key = ApiKey.objects.get(name="advisor's feed")
    listing = _text(advisor.get("/api-keys/"))
    assert f"created for you by {people['admin'].username}: collect its token" in listing
    assert not TOKEN.search(listing)

    collected = advisor.post("/api-keys/", {"action": "collect", "key": key.pk}, follow=True)
    token = TOKEN.search(_text(collected)).group(0)
    again = advisor.post("/api-keys/", {"action": "collect", "key": key.pk})
    approved = key_client(firm_a, token).post(f"{API}/proposals/{proposal.pk}/approve/", {"comment": "mine"},
                                              content_type="application/json")

    assert "This is the only time the key is shown" in _text(collected) and token.startswith(f"rk_{key.prefix}_")
    assert token not in _text(advisor.get("/api-keys/"))
    assert again.status_code == 400 and "was already collected; its token is shown only once" in _text(again)
    assert approved.status_code == 200
    with tenant_context(firm_a):
        assert list(proposal.approvals.values_list("user_id", flat=True)) == [people["advisor"].pk]
        collect = AuditEvent.objects.get(action="api_key.collect", object_id=str(key.pk))
        assert collect.actor == people["advisor"].username and collect.after == {"token": "collected by its owner"}


def test_a_revoked_key_cannot_be_collected(firm_a, book, people, as_user):
    as_user("admin").post("/api-keys/", {"action": "create", "name": "never used", "scope": ["read"],
                                         "owner": people["pm"].pk})
    with tenant_context(firm_a):
        key = ApiKey.objects.get(name="never used")
    as_user("admin").post("/api-keys/", {"action": "revoke", "key": key.pk})

    refused = as_user("pm").post("/api-keys/", {"action": "collect", "key": key.pk})

    assert refused.status_code == 400 and f"The key rk_{key.prefix} was revoked on" in _text(refused)
    with tenant_context(firm_a):
        key.refresh_from_db()
        assert key.awaits_owner


def test_ones_own_key_still_shows_its_token_once_in_the_api_and_on_the_page(firm_a, book, people, as_user):
    admin = as_user("admin")

    api = admin.post(f"{API}/api-keys/", {"name": "mine", "scopes": ["read"], "user": people["admin"].pk},
                     content_type="application/json")
    page = _text(admin.post("/api-keys/", {"action": "create", "name": "mine too", "scope": ["read"],
                                           "owner": people["admin"].pk}, follow=True))

    assert api.status_code == 201 and key_client(firm_a, api.json()["token"]).get(f"{API}/accounts/").status_code == 200
    token = TOKEN.search(page).group(0)
    assert key_client(firm_a, token).get(f"{API}/accounts/").status_code == 200
