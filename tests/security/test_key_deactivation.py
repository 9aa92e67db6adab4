"""Deactivating someone revokes their API keys (tenants.people.deactivate), so reactivating them does not
bring back a key that may have leaked while they were away: they issue a new one. The same for the
provider's staff, whose keys live in the public schema."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context, tenant_context

from rebalancing.services.people import user_deactivate, user_reactivate
from tenants import people as people_rules
from tenants.api_keys.models import ApiKey
from tenants.api_keys.services import api_key_create
from tenants.audit.models import AuditEvent
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.api.conftest import key_client
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_a_deactivated_persons_keys_stay_revoked_when_they_are_reactivated(firm_a, book, people, as_user):
    advisor = people["advisor"]
    with tenant_context(firm_a):
        token = api_key_create(user=advisor, name="feed", scopes=["read"], expires_at=None, by=advisor).token
        already = api_key_create(user=advisor, name="old", scopes=["read"], expires_at=None, by=advisor).key
        already.revoked_at = already.created_at
        already.save(update_fields=["revoked_at"])
    client = key_client(firm_a, token)
    assert client.get(f"{API}/accounts/").status_code == 200

    page = as_user("admin").post("/people/", {"action": "deactivate", "user": advisor.pk})
    while_away = client.get(f"{API}/accounts/")
    with tenant_context(firm_a):
        advisor.refresh_from_db()
        user_reactivate(user=advisor, by=people["admin"])
    back = client.get(f"{API}/accounts/")

    assert page.status_code == 302
    assert while_away.status_code == 401 and while_away.json()["code"] == "api_key_revoked"
    assert back.status_code == 401 and back.json()["code"] == "api_key_revoked"
    with tenant_context(firm_a):
        key = ApiKey.objects.get(name="feed")
        revoked = AuditEvent.objects.get(action="api_key.revoke", object_id=str(key.pk))
        assert revoked.actor == people["admin"].username
        assert revoked.after["why"] == f"{advisor.username} was deactivated"
        assert not AuditEvent.objects.filter(action="api_key.revoke", object_id=str(already.pk)).exists()
        deactivated = AuditEvent.objects.get(action="user.deactivate", object_id=str(advisor.pk))
        assert deactivated.after["api_keys_revoked"] == 1


def test_a_key_issued_for_someone_and_not_collected_is_revoked_too(firm_a, book, people):
    with tenant_context(firm_a):
        key = api_key_create(user=people["pm"], name="waiting", scopes=["read"], expires_at=None,
                             by=people["admin"]).key
        user_deactivate(user=people["pm"], by=people["admin"])
        key.refresh_from_db()
        assert key.revoked_at is not None


def test_a_deactivated_provider_staff_members_keys_are_revoked():
    with schema_context("public"):
        pat = user_ensure(username="pat@provider.test", email="pat@provider.test",
                          roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)
        oli = user_ensure(username="oli@provider.test", email="oli@provider.test",
                          roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        # Provider roles give no scope of a firm's API: a key of theirs is a row, made here directly.
        key = ApiKey.objects.create(name="ops", user=oli, prefix="0123abcd", secret_sha256="0" * 64, scopes=["read"])

        people_rules.deactivate(people_rules.PROVIDER_STAFF, user=oli, by=pat)
        people_rules.reactivate(people_rules.PROVIDER_STAFF, user=oli, by=pat)

        key.refresh_from_db()
        assert key.revoked_at is not None
        assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(key.pk)).count() == 1
