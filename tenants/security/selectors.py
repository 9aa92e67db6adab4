"""Reads for the Security page: each person's second factor and lockout, in the current schema."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..people import people_here
from .lockouts import Lockout, lockouts_current

__all__ = ["PersonSecurity", "people_security"]


@dataclass(frozen=True)
class PersonSecurity:
    user: object
    roles: list[str]
    mfa: bool
    lockout: Lockout | None
    invited: bool = False  # has not chosen a password yet, so has never signed in (the People page's "invited")


def people_security(q: str = ""):
    """(people, lockouts of names that are nobody here): every user, or those matching ``q``."""
    users = people_here().prefetch_related("groups").order_by("username")
    if q:
        users = users.filter(Q(username__icontains=q) | Q(email__icontains=q) | Q(first_name__icontains=q)
                             | Q(last_name__icontains=q))
    with_mfa = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    lockouts = lockouts_current()
    by_user = {lock.user_id: lock for lock in lockouts if lock.user_id is not None}
    people = [PersonSecurity(u, sorted(g.name.replace("_", " ") for g in u.groups.all()), u.pk in with_mfa,
                             by_user.get(u.pk), invited=not u.has_usable_password()) for u in users]
    return people, [lock for lock in lockouts if lock.user_id is None]
