"""User names locked out after failed sign-ins (django-axes counts them), and lifting a lockout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from tenants.audit.services import audit_record
from tenants.errors import Conflict

from .access import security_admin_require

__all__ = ["Lockout", "lockout_lift", "lockouts_current"]


@dataclass(frozen=True)
class Lockout:
    username: str
    failures: int
    last_attempt: datetime
    until: datetime | None  # None: until lifted
    user_id: int | None  # None: no such user here (someone guessing names)


def lockouts_current() -> list[Lockout]:
    """User names of this schema locked now, most recent first."""
    attempts = AccessAttempt.objects.all()
    cool_off = settings.AXES_COOLOFF_TIME
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    rows = (attempts.values("username").annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT).order_by("-last"))
    users = dict(get_user_model().objects.filter(username__in=[r["username"] for r in rows])
                 .values_list("username", "pk"))
    return [Lockout(r["username"], r["failures"], r["last"], r["last"] + cool_off if cool_off else None,
                    users.get(r["username"])) for r in rows]


@transaction.atomic
def lockout_lift(*, username: str, by, comment: str = "") -> int:
    """Let ``username`` sign in again at once (its failed attempts are forgotten). Audited."""
    security_admin_require(by)
    if not any(lock.username == username for lock in lockouts_current()):
        raise Conflict(f"{username} is not locked out.", code="not_locked_out", detail={"username": username})
    forgotten = axes_reset(username=username)
    user = get_user_model().objects.filter(username=username).first()
    audit_record(actor=by, action="auth.lockout_lift", obj=user, object_type="user",
                 before={"locked_out": True}, after={"locked_out": False, "attempts_forgotten": forgotten},
                 comment=comment or f"lockout of {username} lifted")
    return forgotten
