"""Settings for the test suite (pytest-django)."""

import os

os.environ.setdefault("SECRET_KEY", "django-insecure-test-only")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rebalancing")
# Its own message folder, so a test worker never picks up the demo's queued tasks.
# Under pytest-xdist each test process has its own database (pytest-django's suffix) and folder.
os.environ.setdefault(
    "CELERY_FILESYSTEM_BROKER_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", ".data", "test-broker" + os.environ.get("PYTEST_XDIST_WORKER", "")),
)

from .base import *  # noqa: E402,F403
from .base import DATABASES, env_str  # noqa: E402

DEBUG = False
# Webhook tests deliver to receivers they start on localhost, and retry within seconds. Set here, not
# in the environment: processes the tests start with production settings must not inherit them.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
WEBHOOK_RETRY_BASE_SECONDS = 1
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never in production
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "rebalancing_test")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
