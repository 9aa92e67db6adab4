"""API keys: stored hashed, scoped, expiring, revocable, and confined to their firm."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.api_keys.models import ApiKey
from tenants.api_keys.services import api_key_create, api_key_revoke
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def test_a_valid_key_acts_as_its_owner(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["advisor"]))

    answer = client.get(f"{API}/accounts/")

    assert answer.status_code == 200
    assert sorted(a["custodian_number"] for a in answer.json()["results"]) == ["T-000", "T-001"]


def test_only_a_digest_of_the_secret_is_stored(firm_a, people):
    with tenant_context(firm_a):
        issued = api_key_create(user=people["pm"], name="custodian feed", scopes=["read"], expires_at=None, by=None)
        stored = ApiKey.objects.get(pk=issued.key.pk)

    _, prefix, secret = issued.token.split("_", 2)
    assert stored.prefix == prefix and len(secret) >= 40
    assert secret not in stored.secret_sha256 and len(stored.secret_sha256) == 64


@pytest.mark.parametrize(("state", "code"), [("expired", "api_key_expired"), ("revoked", "api_key_revoked")])
def test_expired_and_revoked_keys_are_refused_naming_why(firm_a, people, api_key, state, code):
    token = api_key(firm_a, people["pm"])
    with tenant_context(firm_a):
        key = ApiKey.objects.get(prefix=token.split("_")[1])
        if state == "expired":
            ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        else:
            api_key_revoke(key=key, by=people["admin"])

    answer = key_client(firm_a, token).get(f"{API}/accounts/")

    assert answer.status_code == 401
    assert error_of(answer)["code"] == code
    assert answer["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_or_garbage_is_refused(firm_a, people, api_key):
    token = api_key(firm_a, people["pm"])

    wrong = key_client(firm_a, token[:-4] + "AAAA").get(f"{API}/accounts/")
    garbage = key_client(firm_a, "not-a-key").get(f"{API}/accounts/")

    assert wrong.status_code == 401 and error_of(wrong)["code"] == "api_key_unknown"
    assert garbage.status_code == 401 and error_of(garbage)["code"] == "api_key_malformed"


def test_a_firm_a_key_is_unknown_at_firm_b(firm_a, firm_b, people, api_key):
    token = api_key(firm_a, people["admin"])

    at_b = key_client(firm_b, token).get(f"{API}/accounts/")

    assert at_b.status_code == 401
    assert error_of(at_b)["code"] == "api_key_unknown"


def test_a_key_without_the_scope_is_refused_naming_it(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))

    start = client.post(f"{API}/runs/", {"scope": {"firm": True}}, content_type="application/json")

    assert start.status_code == 403
    body = error_of(start)
    assert body["code"] == "scope_missing" and body["detail"] == {"scope": "run"}
    assert "'run'" in body["message"]


def test_a_key_never_does_more_than_its_owners_role(firm_a, people, book, api_key):
    with tenant_context(firm_a), pytest.raises(ValidationFailed) as refused:
        api_key_create(user=people["advisor"], name="too much", scopes=["read", "run"], expires_at=None, by=None)
    assert refused.value.detail["beyond_role"] == ["run"]

    # The owner's role shrinks after the key was issued: the capability check still refuses.
    token = api_key(firm_a, people["pm"], scopes=["read", "run"])
    from tenants.roles import FirmRole
    from tenants.services import user_ensure
    with tenant_context(firm_a):
        user_ensure(username=people["pm"].username, email=people["pm"].email, roles=[FirmRole.ADVISOR])
    start = key_client(firm_a, token).post(f"{API}/runs/", {"scope": {"firm": True}},
                                           content_type="application/json")
    assert start.status_code == 403 and error_of(start)["code"] == "permission_denied"


def test_a_signed_in_user_issues_a_key_shown_once_and_audited(firm_a, people, client_for):
    client = client_for(firm_a, people["pm"])

    made = client.post(f"{API}/api-keys/", {"name": "order feed", "scopes": ["read", "approve"]},
                       content_type="application/json")
    listed = client.get(f"{API}/api-keys/")

    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith(f"rk_{made.json()['prefix']}_")
    assert "token" not in listed.json()["results"][0]
    assert key_client(firm_a, token).get(f"{API}/proposals/").status_code == 200
    with tenant_context(firm_a):
        event = AuditEvent.objects.get(action="api_key.create", object_id=str(made.json()["id"]))
    assert event.actor == people["pm"].username and token not in str(event.after)


def test_a_key_cannot_mint_or_revoke_keys(firm_a, people, api_key):
    client = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read", "admin"]))

    made = client.post(f"{API}/api-keys/", {"name": "child", "scopes": ["read"]}, content_type="application/json")

    assert made.status_code == 403 and error_of(made)["code"] == "session_only"


def test_an_advisor_cannot_issue_a_key_for_someone_else_but_an_admin_can(firm_a, people, client_for):
    body = {"name": "for pm", "scopes": ["read"], "user": people["pm"].pk}

    by_advisor = client_for(firm_a, people["advisor"]).post(f"{API}/api-keys/", body,
                                                            content_type="application/json")
    by_admin = client_for(firm_a, people["admin"]).post(f"{API}/api-keys/", body, content_type="application/json")

    assert by_advisor.status_code == 403
    assert by_admin.status_code == 201 and by_admin.json()["owner"] == people["pm"].username


def test_revoking_through_the_api_stops_the_key_at_once(firm_a, people, client_for, api_key):
    token = api_key(firm_a, people["pm"])
    with tenant_context(firm_a):
        key_id = ApiKey.objects.get(prefix=token.split("_")[1]).pk
    session = client_for(firm_a, people["pm"])

    revoked = session.post(f"{API}/api-keys/{key_id}/revoke/", content_type="application/json")
    again = session.post(f"{API}/api-keys/{key_id}/revoke/", content_type="application/json")
    used = key_client(firm_a, token).get(f"{API}/accounts/")

    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert again.status_code == 409 and error_of(again)["code"] == "already_revoked"
    assert used.status_code == 401 and error_of(used)["code"] == "api_key_revoked"
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(key_id)).count() == 1


def test_the_command_prints_a_working_key(firm_a, people, book):
    out = StringIO()

    call_command("create_api_key", "--firm", firm_a.slug, "--user", people["pm"].username, "--name", "nightly",
                 "--scopes", "read,run", "--days", "90", stdout=out)

    token = out.getvalue().strip().splitlines()[-1]
    with tenant_context(firm_a):
        key = ApiKey.objects.get(prefix=token.split("_")[1])
    assert sorted(key.scopes) == ["read", "run"]
    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)
    assert key_client(firm_a, token).get(f"{API}/runs/").status_code == 200


@pytest.mark.parametrize(("scopes", "problems"), [
    (["read", "read"], ["read is given 2 times; give each scope once."]),
    (["approve", "read", "approve", "read", "approve"], ["approve is given 3 times; give each scope once.",
                                                         "read is given 2 times; give each scope once."]),
])
def test_a_scope_given_more_than_once_is_refused_naming_it_and_no_key_is_issued(
        firm_a, people, client_for, scopes, problems):
    with tenant_context(firm_a):
        keys = ApiKey.objects.count()

    answer = client_for(firm_a, people["pm"]).post(f"{API}/api-keys/", {"name": "feed", "scopes": scopes},
                                                   content_type="application/json")

    assert answer.status_code == 400 and error_of(answer)["code"] == "invalid"
    assert error_of(answer)["detail"]["fields"] == {"scopes": problems}
    with tenant_context(firm_a):
        assert ApiKey.objects.count() == keys
