"""POSTs that create things, retried with the same Idempotency-Key, do it once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun
from tenants.api_keys.models import IdempotencyRecord

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def _start(client, body, key):
    return client.post(f"{API}/runs/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_replays_the_first_answer(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))
    body = {"scope": {"account_ids": [book["own"].pk]}}

    first = _start(client, body, "run-2026-11-20")
    second = _start(client, body, "run-2026-11-20")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.API).count() == 1


def test_the_same_key_with_another_body_is_refused(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))

    _start(client, {"scope": {"account_ids": [book["own"].pk]}}, "k-1")
    reused = _start(client, {"scope": {"firm": True}}, "k-1")

    assert reused.status_code == 409 and error_of(reused)["code"] == "idempotency_key_reused"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.API).count() == 1


def test_keys_are_per_user_and_expire_after_a_day(firm_a, people, book, client_for):
    body = {"scope": {"account_ids": [book["own"].pk]}}
    pm, admin = client_for(firm_a, people["pm"]), client_for(firm_a, people["admin"])

    _start(pm, body, "shared-key")
    by_other_user = _start(admin, body, "shared-key")
    with tenant_context(firm_a):
        IdempotencyRecord.objects.filter(user=people["pm"]).update(created_at=timezone.now() - timedelta(hours=25))
    after_a_day = _start(pm, body, "shared-key")

    assert by_other_user.status_code == 201 and "Idempotent-Replayed" not in by_other_user
    assert after_a_day.status_code == 201 and "Idempotent-Replayed" not in after_a_day
    with tenant_context(firm_a):
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.API).count() == 3


def test_an_error_is_not_kept_so_a_corrected_retry_goes_through(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    bad = _start(client, {"scope": {}}, "fix-me")
    good = _start(client, {"scope": {"firm": True}}, "fix-me")

    assert bad.status_code == 400 and good.status_code == 201
