"""Per-firm jobs. Each runs in the schema of the firm it was sent for (tenant-schemas-celery)."""

from celery import shared_task
from django.db import connection

from .services import firm_usage_record

__all__ = ["firm_usage_snapshot"]


@shared_task(bind=True, max_retries=3, default_retry_delay=30)
def firm_usage_snapshot(self) -> None:
    """Record how big the current firm is, for the provider console. Sent nightly to every firm."""
    if connection.schema_name == "public":
        raise ValueError("firm_usage_snapshot must be sent from inside a firm's schema")
    firm_usage_record(firm=connection.tenant)
