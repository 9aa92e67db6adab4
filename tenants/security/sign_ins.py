"""Sign-ins, failed sign-ins, sign-outs and lockouts, in the audit trail of the schema where they
happen (a firm's sign-ins in the firm's, the provider's and its admin site's in the public schema).
Connected in tenants.apps."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from tenants.audit.services import Visitor, audit_record

__all__ = ["connect"]


def _where(request) -> dict:
    if request is None:
        return {}
    from axes.helpers import get_client_ip_address

    return {"path": request.path[:200], "ip": get_client_ip_address(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


def _signed_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.sign_in", obj=user, after=_where(request))


def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.sign_out", obj=user, after=_where(request))


def _as_typed(username: str, user) -> str:
    """The user name a failed sign-in gives the audit trail: a user's, or one written as an e-mail
    address (every user name here is one); anything else is most often a password typed into the
    wrong box, which the trail compliance reads must not keep - only its length is."""
    if not username:
        return "(no user name)"
    if user is not None or _EMAIL_LIKE.fullmatch(username):
        return username
    return f"(not a user name: {len(username)} characters)"


_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    after = {**_where(request), "locked_out": bool(getattr(request, "axes_locked_out", False))}
    audit_record(actor=Visitor(_as_typed(username, user)), action="auth.sign_in_failed", obj=user,
                 object_type="user", after=after)


def _locked_out(sender, request, username, ip_address, **kwargs):
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(actor=Visitor(_as_typed(username or "", user)), action="auth.locked_out", obj=user,
                 object_type="user", after={**_where(request), "ip": ip_address}, comment="too many failed sign-ins")


def connect() -> None:
    from axes.signals import user_locked_out

    user_logged_in.connect(_signed_in, dispatch_uid="audit_sign_in")
    user_logged_out.connect(_signed_out, dispatch_uid="audit_sign_out")
    user_login_failed.connect(_failed, dispatch_uid="audit_sign_in_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="audit_locked_out")
