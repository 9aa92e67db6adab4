"""Request rates per API key (else per signed-in user), from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].

The cache key carries the firm's schema (django-tenants' key function), so key 7 of one firm and
key 7 of another are counted apart.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey

__all__ = ["ApiKeyRateThrottle"]


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Rate ``api_key`` for key-authenticated requests, ``user`` for sessions. A view naming a
    ``throttle_scope`` (e.g. ``whatif``) is counted in a bucket of its own at that rate, still per key
    or user."""

    def __init__(self):  # the rate depends on the request; it is chosen in allow_request
        pass

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or (
            "api_key" if isinstance(request.auth, ApiKey) else "user"
        )
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self):
        # Read at request time, not import time, so override_settings in tests takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
