from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.api_keys.models import IdempotencyRecord
from tenants.api_keys.tasks import idempotency_records_purge

pytestmark = pytest.mark.django_db


def test_records_older_than_the_replay_window_are_purged(firm_a, firm_user):
    user = firm_user(firm_a, "purge@firm-a.example")
    with tenant_context(firm_a):
        base = {"user": user, "fingerprint": "f" * 64, "status_code": 201, "body": {}}
        old = IdempotencyRecord.objects.create(**(base | {"key": "old"}))
        fresh = IdempotencyRecord.objects.create(**(base | {"key": "fresh"}))
        IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

        assert idempotency_records_purge() == 1
        assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
