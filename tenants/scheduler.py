"""Celery beat scheduler that sends every periodic job once per active firm, in the firm's schema.

tenant-schemas-celery does the fan-out; we only narrow it to firms that are active, so a suspended
firm's accounts are not rebalanced overnight.
"""

from tenant_schemas_celery.scheduler import TenantAwarePersistentScheduler

from .models import Firm

__all__ = ["FirmScheduler"]


class FirmScheduler(TenantAwarePersistentScheduler):
    @classmethod
    def get_queryset(cls):
        return Firm.objects.filter(status=Firm.Status.ACTIVE)
