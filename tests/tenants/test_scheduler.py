from types import SimpleNamespace

from celery.beat import ScheduleEntry
from django.db import connection

from config.celery_app import app
from tenants.models import Firm
from tenants.scheduler import FirmScheduler


def test_periodic_job_is_sent_once_per_active_firm_in_its_schema(firm_a, firm_b, monkeypatch, tmp_path):
    Firm.objects.filter(pk=firm_b.pk).update(status=Firm.Status.SUSPENDED)
    sent_from: list[str] = []
    monkeypatch.setattr(
        FirmScheduler, "apply_async", lambda self, entry, **kw: sent_from.append(connection.schema_name) or SimpleNamespace(id="sent")
    )
    scheduler = FirmScheduler(app=app, schedule_filename=str(tmp_path / "beat"), lazy=True)
    entry = ScheduleEntry(
        name="firm-usage-snapshot@__all_tenants_only__", task="tenants.tasks.firm_usage_snapshot",
        schedule=3600.0, options={"headers": {"_all_tenants_only": True}}, app=app,
    )

    scheduler.apply_entry(entry)

    assert sent_from == [firm_a.schema_name]  # firm B is suspended; the public schema never gets it


def test_the_nightly_schedule_fans_out_to_all_firms():
    merged = FirmScheduler._tenant_aware_beat_schedule_to_dict(None, app.conf.beat_schedule)
    assert "firm-usage-snapshot@__all_tenants_only__" in merged
