"""Attack 2: an API key created with an Idempotency-Key left its token in the idempotency record for
24 hours, and a replay handed it out again. Now no secret is stored and a replay says it is withheld."""

import importlib
import json

import pytest
from django.apps import apps as django_apps
from django_tenants.utils import schema_context, tenant_context

from tenants.api_keys.models import ApiKey, IdempotencyRecord
from tenants.api_keys.services import secret_digest
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _everything_stored(firm) -> str:
    with tenant_context(firm):
        records = [[r.body, r.fingerprint] for r in IdempotencyRecord.objects.all()]
        audit = [[e.before, e.after, e.comment, e.object_repr] for e in AuditEvent.objects.all()]
    return json.dumps([records, audit])


def test_a_replayed_key_creation_never_reveals_the_token(firm_a, firm_user, client_for):
    admin = firm_user(firm_a, "keys@firm-a.example", FirmRole.FIRM_ADMIN)
    client = client_for(firm_a, admin)
    body = {"name": "order feed", "scopes": ["read"]}

    first = client.post(f"{API}/api-keys/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="feed-1")
    replay = client.post(f"{API}/api-keys/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="feed-1")

    assert first.status_code == 201
    token = first.json()["token"]
    secret = token.split("_", 2)[2]
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay["Idempotent-Withheld"] == "token"
    assert "token" not in replay.json() and "__withheld__" not in replay.json()
    assert replay.json()["id"] == first.json()["id"] and replay.json()["prefix"] == first.json()["prefix"]
    assert secret not in replay.content.decode()
    stored = _everything_stored(firm_a)
    assert secret not in stored and token not in stored
    with schema_context(firm_a.schema_name):
        assert ApiKey.objects.count() == 1  # nothing done twice
        assert ApiKey.objects.get().secret_sha256 == secret_digest(secret)


def test_the_first_answer_still_works_as_a_key(firm_a, firm_user, client_for):
    admin = firm_user(firm_a, "keys2@firm-a.example", FirmRole.FIRM_ADMIN)
    made = client_for(firm_a, admin).post(f"{API}/api-keys/", {"name": "x", "scopes": ["read"]},
                                          content_type="application/json", HTTP_IDEMPOTENCY_KEY="x-1")
    from tests.api.conftest import key_client

    assert key_client(firm_a, made.json()["token"]).get(f"{API}/api-keys/").status_code == 200


def test_records_written_before_the_fix_forget_their_tokens(firm_a, firm_user):
    """The data migration (tenants/api_keys/migrations/0002) on a record as the old code wrote it."""
    user = firm_user(firm_a, "old@firm-a.example", FirmRole.FIRM_ADMIN)
    migration = importlib.import_module("tenants.api_keys.migrations.0002_forget_replayed_tokens")
    with tenant_context(firm_a):
        old = IdempotencyRecord.objects.create(user=user, key="k", fingerprint="f" * 64, status_code=201,
                                               body={"id": 7, "prefix": "abcd1234", "token": "rk_abcd1234_s3cret"})
        other = IdempotencyRecord.objects.create(user=user, key="k2", fingerprint="e" * 64, status_code=201,
                                                 body={"kind": "prices", "rows": 3})

        migration.forget_tokens(django_apps, None)

        old.refresh_from_db()
        other.refresh_from_db()
    assert old.body == {"id": 7, "prefix": "abcd1234", "__withheld__": ["token"]}
    assert other.body == {"kind": "prices", "rows": 3}
