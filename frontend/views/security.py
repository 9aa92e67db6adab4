"""Sign-in security in the browser: the lockout page, the second step of a sign-in, one's own
two-factor settings (set up, recovery codes, turn off), and the Security page where a firm admin (a
provider admin on the provider's host) requires two-factor authentication, lifts lockouts and resets
a lost authenticator. Every change goes through tenants.security's services."""

from __future__ import annotations

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_static.models import StaticDevice

from frontend.query import id_param
from tenants.errors import DomainError
from tenants.permissions import Capability
from tenants.roles import ProviderRole
from tenants.security.lockouts import lockout_lift
from tenants.security.mfa import (
    RECOVERY_CODES,
    mfa_policy_set,
    mfa_reset,
    mfa_status,
    mfa_turn_off,
    mfa_verify,
    recovery_codes_renew,
    totp_confirm,
    totp_enrolment,
    totp_secret,
)
from tenants.security.selectors import people_security

from .common import firm_page, paginate, provider_page, redirect_back, signed_in_page, visible_or_404


def locked_out(request, credentials=None, *args, **kwargs):
    """django-axes' answer to a sign-in while the user name is locked (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60) if settings.AXES_COOLOFF_TIME else None
    return render(request, "registration/locked_out.html", {
        "username": (credentials or {}).get("username", ""), "minutes": minutes,
        "failures": settings.AXES_FAILURE_LIMIT,
    }, status=settings.AXES_HTTP_RESPONSE_CODE)


def _qr_svg(data: str) -> str:
    # qrcode draws our own otpauth:// URL as SVG paths; nothing typed by a user goes into it.
    return mark_safe(qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string(
        encoding="unicode"))


@signed_in_page
def two_factor(request):
    """Set up the authenticator app, see how many recovery codes are left, renew them, turn it off."""
    user, firm = request.user, getattr(request, "tenant", None)
    codes, status_code = None, 200
    if request.method == "POST":
        action, code = request.POST.get("action"), request.POST.get("code", "")
        try:
            if action == "confirm":
                device = totp_enrolment(user)
                codes = totp_confirm(user=user, device=device, code=code)
                django_otp.login(request, device)  # this session has just given its second factor
                messages.success(request, "Two-factor authentication is on.")
            elif action == "renew":
                codes = recovery_codes_renew(user=user, code=code)
                messages.success(request, "New recovery codes: the old ones no longer work.")
            elif action == "turn_off":
                mfa_turn_off(user=user, code=code, firm=firm)
                messages.success(request, "Two-factor authentication is off.")
                return redirect("two_factor")
            else:
                messages.error(request, "Choose what to do.")
        except DomainError as exc:
            messages.error(request, exc.message)
            status_code = 400
    status = mfa_status(user)
    # "Continue" after the recovery codes leads to ``next`` only if redirect_back would follow it (a
    # path on this host): a link's ``?next=javascript:...`` or another site's address becomes the start page.
    next_url = redirect_back(request, "home").url if request.GET.get("next") else ""
    context = {"status": status, "codes": codes, "required": bool(firm and firm.mfa_required),
               "recovery_total": RECOVERY_CODES, "next": next_url}
    if not status.enabled:
        device = totp_enrolment(user)
        context.update({"qr": _qr_svg(device.config_url), "secret": totp_secret(device)})
    return render(request, "frontend/two_factor.html", context, status=status_code)


@signed_in_page
def verify(request):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    if request.user.is_verified():
        return redirect_back(request, "home")
    error = ""
    if request.method == "POST":
        try:
            device = mfa_verify(user=request.user, code=request.POST.get("code", ""))
        except DomainError as exc:
            device, error = None, exc.message
        if device is not None:
            django_otp.login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                messages.warning(request, f"You signed in with a recovery code; {left} left. "
                                          "Renew them on your two-factor page when you can.")
            return redirect_back(request, "home")
        error = error or "That code is not valid. Type the six digits the app shows now, or a recovery code."
    return render(request, "registration/verify.html", {"error": error, "next": request.GET.get("next", "")},
                  status=400 if error else 200)


def _security(request, *, template: str):
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "policy":
                required = request.POST.get("required") == "yes"
                mfa_policy_set(firm=request.tenant, required=required, by=request.user)
                messages.success(request, "Two-factor authentication is now required of everyone."
                                 if required else "Two-factor authentication is now each person's choice.")
            elif action == "lift":
                username = request.POST.get("username", "")
                lockout_lift(username=username, by=request.user)
                messages.success(request, f"{username} may sign in again.")
            elif action == "reset":
                person = visible_or_404(get_user_model().objects.all(), pk=id_param(request.POST, "user") or 0)
                mfa_reset(user=person, by=request.user)
                messages.success(request, f"{person.get_username()}'s authenticator and recovery codes are removed.")
            else:
                messages.error(request, "Choose what to do.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(request.path)
    q = request.GET.get("q", "").strip()
    people, strangers = people_security(q)
    return render(request, template, {
        "page": paginate(request, people, per_page=50), "strangers": strangers, "q": q,
        "required": request.tenant.mfa_required, "without_mfa": sum(not p.mfa and not p.invited and p.user.is_active for p in people),
        "invited": sum(p.invited and p.user.is_active for p in people),
        "limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60) if settings.AXES_COOLOFF_TIME else None,
    })


@firm_page(Capability.MANAGE_USERS)
def security_page(request):
    return _security(request, template="frontend/security.html")


@provider_page(ProviderRole.PROVIDER_ADMIN)
def provider_security_page(request):
    return _security(request, template="frontend/security.html")
