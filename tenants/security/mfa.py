"""Two-factor authentication: a TOTP authenticator app (RFC 6238) with single-use recovery codes, both
django-otp devices; a firm's rule that everyone must use it; and when a signed-in session owes one.

django-otp generates the secret, checks codes (with the clock drift it tolerates, refusing a code
used before, and slowing down repeated failures) and consumes recovery codes; nothing here does
cryptography. A code is checked outside any transaction that might roll back, so a failure always
counts towards django-otp's throttle.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django.db import connection, transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed

from .access import security_admin_require

__all__ = [
    "RECOVERY_CODES", "MfaStatus", "code_check", "mfa_due", "mfa_policy_set", "mfa_reset", "mfa_status",
    "mfa_turn_off", "mfa_verify", "recovery_codes_renew", "totp_confirm", "totp_enrolment", "totp_secret",
]

RECOVERY_CODES = 10
AUTHENTICATOR = "authenticator app"
RECOVERY = "recovery codes"


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    since: object | None  # when the authenticator was confirmed
    recovery_left: int


def _authenticator(user, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-pk").first()


def mfa_status(user) -> MfaStatus:
    device = _authenticator(user)
    recovery = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return MfaStatus(device is not None, getattr(device, "created_at", None), recovery if device else 0)


def mfa_due(user, firm) -> str | None:
    """What a signed-in session that has not given a second factor owes before anything else:
    "verify" (the user has one), "enrol" (the firm requires one and the user has none), or None."""
    if _authenticator(user) is not None:
        return "verify"
    if firm is not None and firm.mfa_required:
        return "enrol"
    return None


def totp_enrolment(user) -> TOTPDevice:
    """The authenticator being set up (a new secret the first time; the same one until confirmed)."""
    pending = _authenticator(user, confirmed=False)
    if pending is None:
        pending = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)
    return pending


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an app that cannot scan (base32, in groups of four)."""
    text = b32encode(device.bin_key).decode()
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def _clean(code: str) -> str:
    return "".join((code or "").split()).lower()


def code_check(user, code: str, *, device: TOTPDevice | None = None):
    """The device that accepts ``code`` (the authenticator's current code, or an unused recovery code,
    which is then spent), or None. Raises ``ValidationFailed`` while django-otp holds the user back
    after repeated wrong codes."""
    code = _clean(code)
    devices = [device] if device is not None else [
        *TOTPDevice.objects.filter(user=user, confirmed=True), *StaticDevice.objects.filter(user=user, confirmed=True)]
    for candidate in devices:
        allowed, why = candidate.verify_is_allowed()
        if not allowed:
            wait = (why or {}).get("locked_until")
            raise ValidationFailed("Too many wrong codes; wait a little before trying again"
                                   + (f" (until {wait:%H:%M:%S} UTC)." if wait else "."), code="mfa_throttled")
        if code and candidate.verify_token(code):
            return candidate
    return None


def mfa_verify(*, user, code: str):
    """The second step of a sign-in: the device that accepted ``code``, or None. Audited either way."""
    device = code_check(user, code)
    used = "recovery code" if isinstance(device, StaticDevice) else "authenticator app"
    audit_record(actor=user, action="auth.mfa_verify" if device else "auth.mfa_failed", obj=user,
                 after={"with": used} if device else None)
    return device


def _recovery_codes_issue(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def totp_confirm(*, user, device: TOTPDevice, code: str) -> list[str]:
    """Turn the authenticator on once the user types its current code; return fresh recovery codes
    (shown once). Audited."""
    if device.user_id != user.pk or device.confirmed:
        raise Conflict("This set-up is not pending any more; start again.", code="mfa_not_pending")
    if code_check(user, code, device=device) is None:
        raise ValidationFailed("That is not the code the app shows now. Check that the phone's clock is right "
                               "and type the six digits again.", code="mfa_code_wrong", detail={"field": "code"})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _recovery_codes_issue(user)
        audit_record(actor=user, action="auth.mfa_enable", obj=user, after={"recovery_codes": RECOVERY_CODES})
    return codes


def recovery_codes_renew(*, user, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code. Audited."""
    if mfa_status(user).enabled is False:
        raise Conflict("Two-factor authentication is off; turn it on first.", code="mfa_off")
    if code_check(user, code) is None:
        raise ValidationFailed("That code is not valid.", code="mfa_code_wrong", detail={"field": "code"})
    with transaction.atomic():
        codes = _recovery_codes_issue(user)
        audit_record(actor=user, action="auth.mfa_recovery_codes_renew", obj=user,
                     after={"recovery_codes": RECOVERY_CODES})
    return codes


def _devices_remove(user) -> int:
    return TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]


def mfa_turn_off(*, user, code: str, firm) -> None:
    """The user turns their second factor off (after a current code), unless the firm requires it."""
    if firm is not None and firm.mfa_required:
        raise Conflict("Your firm requires two-factor authentication, so it cannot be turned off. If your phone "
                       "is lost, a firm admin can reset it.", code="mfa_required")
    if code_check(user, code) is None:
        raise ValidationFailed("That code is not valid.", code="mfa_code_wrong", detail={"field": "code"})
    with transaction.atomic():
        _devices_remove(user)
        audit_record(actor=user, action="auth.mfa_disable", obj=user, before={"enabled": True}, after={"enabled": False})


@transaction.atomic
def mfa_reset(*, user, by, comment: str = "") -> None:
    """An admin removes someone's authenticator and recovery codes (a lost phone): they set it up again
    at their next sign-in if the firm requires it. Audited."""
    security_admin_require(by)
    if not _devices_remove(user):
        raise Conflict(f"{user.get_username()} has no second factor to reset.", code="mfa_off")
    audit_record(actor=by, action="auth.mfa_reset", obj=user, before={"enabled": True}, after={"enabled": False},
                 comment=comment)


@transaction.atomic
def mfa_policy_set(*, firm, required: bool, by) -> None:
    """Require (or stop requiring) a second factor of everyone who signs in to ``firm`` (the provider's
    own row for provider staff). Audited in the schema where it is decided."""
    security_admin_require(by)
    if required and _authenticator(by) is None:
        raise Conflict("Set up your own two-factor authentication first (Two-factor, at the top of the page); "
                       "then require it of everyone.", code="mfa_off")
    if firm.schema_name != connection.schema_name:
        raise Conflict("A firm's rule is set at the firm's own address.", code="wrong_firm")
    before = firm.mfa_required
    if before == required:
        return
    firm.mfa_required = required
    firm.save(update_fields=["mfa_required"])
    audit_record(actor=by, action="auth.mfa_policy", obj=firm, before={"mfa_required": before},
                 after={"mfa_required": required})
