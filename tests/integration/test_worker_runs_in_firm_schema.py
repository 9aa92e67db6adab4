"""A task sent for a firm runs in a separate worker process, in that firm's schema only."""

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context, tenant_context

from tenants.models import Firm, FirmUsage
from tenants.people import people_here
from tenants.roles import FirmRole
from tenants.services import user_ensure
from tenants.tasks import firm_usage_snapshot

from .conftest import wait_for

pytestmark = pytest.mark.integration


def test_task_counts_only_its_own_firms_users(celery_worker_process, django_db_blocker):
    with django_db_blocker.unblock():
        firm_a, firm_b = Firm.objects.get(slug="firm-a"), Firm.objects.get(slug="firm-b")
        FirmUsage.objects.all().delete()
        with schema_context(firm_a.schema_name):
            for n in range(3):
                user_ensure(username=f"worker-test-{n}@firm-a.example", email=f"w{n}@firm-a.example",
                            roles=[FirmRole.ADVISOR])
            users_in_a = people_here().count()  # people: not django-guardian's AnonymousUser row
        with schema_context(firm_b.schema_name):
            users_in_b = people_here().count()
        assert users_in_a != users_in_b

        for firm in (firm_a, firm_b):
            with tenant_context(firm):
                firm_usage_snapshot.delay()

        # (a firm onboarded meanwhile is counted too, at once: only these two firms' rows are read)
        ours = FirmUsage.objects.filter(firm__in=[firm_a, firm_b])
        snapshots = wait_for(lambda: ours.count() == 2 and list(ours), worker=celery_worker_process)
        by_firm = {s.firm_id: s for s in snapshots}

        assert by_firm[firm_a.id].schema_name == firm_a.schema_name
        assert by_firm[firm_a.id].users == users_in_a
        assert by_firm[firm_b.id].schema_name == firm_b.schema_name
        assert by_firm[firm_b.id].users == users_in_b

        with schema_context(firm_a.schema_name):
            get_user_model().objects.filter(username__startswith="worker-test-").delete()
        FirmUsage.objects.all().delete()


def test_task_sent_from_the_public_schema_is_refused_not_run_against_public(
    celery_worker_process, django_db_blocker
):
    with django_db_blocker.unblock():
        FirmUsage.objects.all().delete()
        firm_usage_snapshot.delay()  # no firm active: the message carries the public schema
        wait_for(lambda: "must be sent from inside a firm's schema" in celery_worker_process.log_path.read_text(),
                 worker=celery_worker_process)
        assert not FirmUsage.objects.filter(schema_name="public").exists()
