"""Housekeeping of the API's per-firm tables."""

from celery import shared_task
from django.utils import timezone

from .models import IdempotencyRecord
from .services import IDEMPOTENCY_WINDOW

__all__ = ["idempotency_records_purge"]


@shared_task(acks_late=True)
def idempotency_records_purge() -> int:
    """Sent daily to every firm: answers older than the replay window are never replayed again."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()
    return deleted
