"""Production settings: every secret from the environment, nothing insecure allowed to start."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("LOG_FORMAT", "json")

from .base import *  # noqa: E402,F403
from .base import DEBUG, SECRET_KEY, env_bool, env_int, env_str  # noqa: E402

if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")
if SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY is a default or weak value: set at least 50 random characters in production."
    )
if env_str("CELERY_BROKER_URL").startswith("filesystem://"):
    raise ImproperlyConfigured("CELERY_BROKER_URL must name a real broker (redis:// or amqp://) in production.")
if env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False):
    raise ImproperlyConfigured("WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be off in production: webhooks would let "
                               "a firm make the platform call its internal addresses.")
if not env_str("REDIS_URL", "").startswith(("redis://", "rediss://", "unix://")):
    # Without it the cache is each process's own (base.py CACHES): API and what-if rates, sign-in and
    # password-reset limits would count per gunicorn worker, not per key or user (docs/api.md, Rates).
    raise ImproperlyConfigured("REDIS_URL must name the shared Redis cache (redis://, rediss://) in production: "
                               "rate limits and sign-in limits are counted there for every process.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
