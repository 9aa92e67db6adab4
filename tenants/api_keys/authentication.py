"""``Authorization: Bearer rk_<prefix>_<secret>``: the request acts as the key's owner, within its scopes."""

import hmac
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey
from .services import api_key_parse, secret_digest

__all__ = ["ApiKeyAuthentication"]

# last_used_at is written at most this often per key, not on every request.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # not ours: a session, or nothing
        parsed = api_key_parse(token.strip())
        if parsed is None:
            raise exceptions.AuthenticationFailed("The bearer token is not an API key (rk_<prefix>_<secret>).",
                                                  code="api_key_malformed")
        prefix, secret = parsed
        key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        # Compare digests in constant time; an unknown prefix and a wrong secret answer alike.
        if key is None or not hmac.compare_digest(key.secret_sha256, secret_digest(secret)):
            raise exceptions.AuthenticationFailed("Unknown API key (at this firm).", code="api_key_unknown")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(f"The API key rk_{prefix} was revoked.", code="api_key_revoked")
        if key.is_expired(now):
            raise exceptions.AuthenticationFailed(f"The API key rk_{prefix} expired on {key.expires_at:%Y-%m-%d}.",
                                                  code="api_key_expired")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed(f"The owner of the API key rk_{prefix} is inactive.",
                                                  code="api_key_owner_inactive")
        if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        user = key.user
        user.api_key = key  # audit_record names the key as well as its owner
        return user, key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
