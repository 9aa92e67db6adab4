"""``Authorization: Bearer rk_<prefix>_<secret>``: the request acts as the key's owner, within its scopes.
And the signed-in session of the API, whose CSRF check reads no JSON body."""

import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication, exceptions
from rest_framework.request import is_form_media_type

from .models import ApiKey
from .services import api_key_parse, secret_digest

__all__ = ["ApiKeyAuthentication", "SessionAuthentication"]

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
        # A key waiting for its owner to collect it has no secret yet: nothing matches it.
        if key is None or key.awaits_owner or not hmac.compare_digest(key.secret_sha256, secret_digest(secret)):
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


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's, with Django's CSRF check given Django's request when the body is not a form: DRF hands it
    its own, whose ``POST`` parses any body with the view's parsers, so malformed JSON was answered (400)
    while signing in, before an object route could say 404. Only a form's body can hold the token, and
    Django's request reads no other; a form is still read as DRF reads it (its parsers, its errors)."""

    def enforce_csrf(self, request):
        return super().enforce_csrf(request if is_form_media_type(request.content_type) else request._request)


class _SessionScheme(SessionScheme):
    """In the OpenAPI schema it is Django's session, as before (``cookieAuth``)."""

    target_class = SessionAuthentication
