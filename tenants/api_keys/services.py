"""Issuing and revoking API keys (audited), and the idempotency ledger of API writes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit.services import audit_record
from tenants.errors import Conflict, PermissionDenied, ValidationFailed, fields_refused
from tenants.permissions import Capability, user_can

from .models import ApiKey, IdempotencyRecord
from .scopes import Scope, scopes_of

__all__ = [
    "IDEMPOTENCY_WINDOW",
    "IssuedKey",
    "api_key_collect",
    "api_key_create",
    "api_key_parse",
    "api_key_revoke",
    "api_keys_revoke_all",
    "idempotency_lookup",
    "idempotency_store",
    "secret_digest",
]

TOKEN_PREFIX = "rk"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    # The only time the secret exists outside the caller's hands; None for a key issued for someone
    # else, whose token only its owner collects (``api_key_collect``).
    token: str | None


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_parse(token: str) -> tuple[str, str] | None:
    """``rk_<prefix>_<secret>`` -> (prefix, secret), or None when it is not shaped like a key."""
    head, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if head != TOKEN_PREFIX or len(prefix) != 8 or not set(prefix) <= _HEX or not secret:
        return None
    return prefix, secret


def _scopes_clean(scopes, owner) -> list[str]:
    names = [str(s).strip() for s in scopes if str(s).strip()]
    unknown = sorted(set(names) - {s.value for s in Scope})
    if not names:
        raise ValidationFailed(f"Choose at least one scope: {', '.join(s.value for s in Scope)}.",
                               detail={"field": "scopes", "unknown": []})
    if unknown:
        raise ValidationFailed(
            f"Scopes must be some of {', '.join(s.value for s in Scope)}"
            + f"; unknown: {', '.join(unknown)}.",
            detail={"field": "scopes", "unknown": unknown},
        )
    beyond = sorted(set(names) - {s.value for s in scopes_of(owner)})
    if beyond:
        raise ValidationFailed(
            f"{owner.get_username()}'s roles do not give the scope(s) {', '.join(beyond)}; a key cannot do more "
            "than its owner.",
            detail={"field": "scopes", "beyond_role": beyond},
        )
    return sorted(set(names))


def _secret_new(key: ApiKey) -> str:
    secret = secrets.token_urlsafe(32)
    key.secret_sha256 = secret_digest(secret)
    return f"{TOKEN_PREFIX}_{key.prefix}_{secret}"


@transaction.atomic
def api_key_create(*, user, name: str, scopes, expires_at: datetime | None, by) -> IssuedKey:
    """Issue a key owned by ``user``. ``by``: who asks (the owner, a firm admin, or None for a command).

    Returns the plaintext token once; only its digest is stored. A key acts as its owner, so its
    token goes to its owner only (four eyes: a person's decisions are that person's): a firm admin
    issuing a key for someone else gets it without a token, waiting for its owner to collect it
    signed in (``api_key_collect``); until then it works for nobody. The command (``by`` None) is
    the operator's, for a firm's service users, and prints the token.
    """
    if by is not None and by.pk != user.pk and not user_can(by, Capability.MANAGE_USERS):
        raise PermissionDenied("Only a firm admin issues keys for someone else.",
                               detail={"capability": Capability.MANAGE_USERS.value})
    if not user.is_active:
        raise ValidationFailed(f"{user.get_username()} is inactive; an inactive user cannot own a key.",
                               detail={"field": "user"})
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the key a name (what it is for).", detail={"field": "name"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry must be in the future.", detail={"field": "expires_at"})
    clean = _scopes_clean(scopes, user)
    while True:
        prefix = secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = ApiKey(name=name, user=user, prefix=prefix, secret_sha256="", scopes=clean, expires_at=expires_at,
                 created_by=by)
    for_owner = by is not None and by.pk != user.pk
    token = None if for_owner else _secret_new(key)
    try:
        key.full_clean(exclude=["secret_sha256"] if for_owner else None)
    except ValidationError as exc:  # a name longer than its column
        raise fields_refused(exc, "The key") from None
    key.save()
    audit_record(actor=by or "manage.py create_api_key", action="api_key.create", obj=key,
                 after={"owner": user.get_username(), "prefix": prefix, "scopes": clean,
                        "expires_at": expires_at.isoformat() if expires_at else None,
                        **({"token": "for its owner to collect"} if for_owner else {})})
    return IssuedKey(key=key, token=token)


@transaction.atomic
def api_key_collect(*, key: ApiKey, by) -> IssuedKey:
    """Its owner, signed in, takes the token of a key someone else issued for them: the secret is made
    now and shown this once. Nobody else may: a key in the hands of the one who issued it would let
    them decide as its owner (approve a proposal in the owner's capacity, besides their own)."""
    if by is None or by.pk != key.user_id:
        raise PermissionDenied(
            f"Only {key.user.get_username()} collects the key rk_{key.prefix}: a key acts as its owner, so its "
            "token goes to its owner alone.", detail={"owner": key.user.get_username()})
    key = ApiKey.objects.select_for_update().select_related("user").get(pk=key.pk)
    if key.revoked_at is not None:
        raise Conflict(f"The key rk_{key.prefix} was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC.",
                       code="already_revoked")
    if not key.awaits_owner:
        raise Conflict(f"The key rk_{key.prefix} was already collected; its token is shown only once. If it is "
                       "lost, revoke the key and create another.", code="already_collected")
    if key.is_expired():
        raise Conflict(f"The key rk_{key.prefix} expired on {key.expires_at:%Y-%m-%d}.")
    token = _secret_new(key)
    key.save(update_fields=["secret_sha256"])
    audit_record(actor=by, action="api_key.collect", obj=key, before={"token": "for its owner to collect"},
                 after={"token": "collected by its owner"})
    return IssuedKey(key=key, token=token)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, by) -> ApiKey:
    """Revoke a key at once (its owner or a firm admin). Revoking twice is refused."""
    if by is not None and by.pk != key.user_id and not user_can(by, Capability.MANAGE_USERS):
        raise PermissionDenied("Only the key's owner or a firm admin revokes it.",
                               detail={"capability": Capability.MANAGE_USERS.value})
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise Conflict(f"The key rk_{key.prefix} was already revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC.",
                       code="already_revoked")
    _revoked(key, by=by)
    return key


def _revoked(key: ApiKey, *, by, why: str | None = None) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=by or "system", action="api_key.revoke", obj=key, before={"revoked_at": None},
                 after={"revoked_at": key.revoked_at.isoformat(), **({"why": why} if why else {})})


@transaction.atomic
def api_keys_revoke_all(*, user, by, why: str) -> int:
    """Revoke every key ``user`` owns that still could work (one audit row each), returning how many.
    For deactivation (``tenants.people``, whose caller has checked ``by`` may): reactivating someone
    must not bring back a key that may have leaked while they were away."""
    keys = list(ApiKey.objects.select_for_update().filter(user=user, revoked_at__isnull=True).order_by("pk"))
    for key in keys:
        _revoked(key, by=by, why=why)
    return len(keys)


def idempotency_lookup(*, user, key: str) -> IdempotencyRecord | None:
    """The stored answer for (user, key) within the window; an older one is forgotten."""
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is not None and record.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
        record.delete()
        return None
    return record


def idempotency_store(*, user, key: str, fingerprint: str, status_code: int, body) -> IdempotencyRecord:
    """Record an answer; raises IntegrityError when a concurrent request with the same key got there first."""
    return IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint, status_code=status_code,
                                            body=body)
