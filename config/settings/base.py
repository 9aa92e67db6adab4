"""Settings shared by every environment. Values from outside come only through config.env."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config import celery_queues
from config.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")))

SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
# Firms live at <slug>.<BASE_DOMAIN>; the provider console at BASE_DOMAIN itself.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}"])
# Links sent outside a request (e-mails, command output): <SITE_SCHEME>://<host>[:<SITE_PORT>]/;
# port 0 is the scheme's default. The demo serves plain HTTP on its own port (scripts/stack.py).
SITE_SCHEME = env_choice("SITE_SCHEME", ("http", "https"), "https")
SITE_PORT = env_int("SITE_PORT", 0)
if not 0 <= SITE_PORT <= 65535:
    raise ImproperlyConfigured(f"SITE_PORT must be a port number (0 for the scheme's default), got {SITE_PORT}.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Tenancy (django-tenants): one PostgreSQL schema per client firm -------------------------------
# Users, sessions and object permissions exist in both lists: provider staff live in the public
# schema, each firm's users in the firm's own schema (docs/adr/0001-users-and-permissions.md).
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "tenants.audit",
    "tenants.api_keys",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "guardian",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "frontend",
    # Sign-in protection, in the public schema for provider staff (tenants/security/)
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "guardian",
    "tenants.audit",
    "tenants.api_keys",
    "rebalancing",
    # ...and in each firm's schema for its users: lockouts and second factors live beside the users.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Firm"
# One SET search_path per switch of firm (and again after a rollback, which undoes it: django-tenants
# forgets the path on rollback and savepoint rollback) instead of one per cursor. A run's chunk opened
# 36 cursors, each SET about a quarter of a millisecond of the worker's and its backend's CPU: 0.2 ms
# per direct-indexed account (tests/tenants/test_isolation.py tries a rolled-back path).
TENANT_LIMIT_SET_CALLS = True
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL"),
        engine="django_tenants.postgresql_backend",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = [
    # Probes answer before tenant resolution and host validation: a kubelet calls them by pod IP.
    "config.health.HealthCheckMiddleware",
    "tenants.middleware.FirmHostMiddleware",  # django-tenants, host normalised
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a second factor this session
    "tenants.security.middleware.TwoFactorMiddleware",  # asks for it, or to set it up, where it is due
    "django.contrib.messages.middleware.MessageMiddleware",
    # Over-size bodies (413) and NUL characters (400) refused before any view reads them.
    "config.request_guards.RequestGuardMiddleware",
    "frontend.middleware.FormOnlyAddressMiddleware",  # a form-only address opened: a page, not a blank 405
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into the lockout page (last, as axes asks)
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.firm",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out user name before any password check
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Sign-in protection (tenants/security/, docs/security.md) --------------------------------------
# django-axes counts failed sign-ins per user name (in the schema where the user lives: firm sign-ins
# in the firm's, provider and admin-site sign-ins in the public one) on every sign-in form, the
# admin sites' included. After LOGIN_FAILURE_LIMIT failures the name is locked for
# LOGIN_LOCKOUT_MINUTES (0: until lifted); a firm admin (provider admin on the provider host) lifts it
# on the Security page. Sign-ins, failures and lockouts are in the audit trail, not axes' own log.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 30)
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES) if _LOCKOUT_MINUTES else None
# By user name, wherever the attempts come from. Not by IP address: a firm's staff share their office's
# address, and one person's typos must not lock out the whole office (axes' check W006 asks for the
# address; changing the address or the browser does not get round a user-name lockout).
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # its own log lines; the audit trail has each attempt
AXES_ENABLE_ADMIN = False  # lockouts are lifted, audited, on the Security page
AXES_LOCKOUT_CALLABLE = "frontend.views.security.locked_out"
# The client's address (sign-in audit records, lockouts, the "Forgot your password?" limit per
# client): REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies (Kubernetes: the ingress, 1) the
# entry the farthest of them wrote in X-Forwarded-For (frontend.views.auth.client_address). 0 (a bare
# server) never reads the header: a client could write anything in it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "frontend.views.auth.client_address"
AXES_HTTP_RESPONSE_CODE = 429
# django-otp: TOTP (RFC 6238) in an authenticator app, with single-use recovery codes; a firm admin
# makes it mandatory for the firm (Firm.mfa_required). The authenticator app shows the firm's name.


def _totp_issuer(device) -> str:
    from django.db import connection

    tenant = getattr(connection, "tenant", None)
    name = getattr(tenant, "name", "") if getattr(tenant, "schema_name", "public") != "public" else ""
    return f"{name} (rebalancing)" if name else "Rebalancing provider console"


OTP_TOTP_ISSUER = _totp_issuer
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Host-only cookies: a session made on acme.<domain> is never sent to another firm's host.
SESSION_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Cache keys carry the schema so one firm's cached value is never served to another.
_REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_URL}
        if _REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
    | {"KEY_FUNCTION": "django_tenants.cache.make_key", "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key"}
}

# The largest request body (an uploaded CSV file) accepted, refused from its Content-Length before it
# is read (config/request_guards.py). Larger books go through `manage.py import_book`.
UPLOAD_MAX_MB = env_int("UPLOAD_MAX_MB", 25)
UPLOAD_MAX_BYTES = UPLOAD_MAX_MB * 1024 * 1024
# Django's own cap on a body read into memory (a JSON body, a form's fields; not its files) is the same
# limit, not its default 2.5 MB: a JSON import of 200,000 rows (the schema's maxItems) fits within it.
# Its refusal (a body without a Content-Length) is the API's 413 upload_too_large (config/api_errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
# A form body's fields and files (Django's defaults, named here): more is refused, by name of the setting,
# as JSON by the API and on a page by the pages (config/request_guards.py).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 100

# --- Celery -------------------------------------------------------------------------------------
# Without a configured broker, kombu's filesystem transport needs no server: producer and worker
# exchange messages as files under DATA_DIR (fine for a demo and tests, not for production).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
BROKER_FILES_DIR = Path(env_str("CELERY_FILESYSTEM_BROKER_DIR", str(DATA_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FILES_DIR),
        "data_folder_out": str(BROKER_FILES_DIR),
        "control_folder": str(BROKER_FILES_DIR / "control"),
        "store_processed": False,
    }
    # Both the web process and the worker may be the first to touch the folder.
    (BROKER_FILES_DIR / "control").mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A worker killed mid-task leaves its message unacknowledged, so another worker redoes it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Runs, outbound notifications and the rest each have a queue (config/celery_queues.py says why);
# every worker definition consumes all of ALL_QUEUES, or its own pool of them.
CELERY_TASK_DEFAULT_QUEUE = celery_queues.DEFAULT
CELERY_TASK_ROUTES = celery_queues.TASK_ROUTES
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "tenants.scheduler:FirmScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Entries without "tenant_schemas" are sent once per active firm, each in that firm's schema.
CELERY_BEAT_SCHEDULE: dict = {
    "firm-usage-snapshot": {"task": "tenants.tasks.firm_usage_snapshot", "schedule": 24 * 3600.0},
    # After the custodians' overnight files are in (02:00 UTC = 21:00/22:00 New York).
    # The firm's risk model from its prices, before the nightly scan tracks direct indexes with it.
    "risk-model-refresh": {"task": "rebalancing.tasks.risk_model_refresh", "schedule": crontab(hour=1, minute=45)},
    "nightly-scan": {"task": "rebalancing.tasks.nightly_scan", "schedule": crontab(hour=2, minute=0)},
    "proposals-expire": {"task": "rebalancing.tasks.proposals_expire", "schedule": crontab(hour=1, minute=30)},
    # Approvers who chose a daily digest hear what waits for them, after the nightly scan.
    "approvals-digest": {"task": "rebalancing.tasks.approvals_digest", "schedule": crontab(hour=11, minute=0)},
    "idempotency-purge": {"task": "tenants.api_keys.tasks.idempotency_records_purge", "schedule": crontab(hour=3, minute=0)},
    # Webhook secrets replaced by a rotation, once their 24 hours of grace are over: not kept.
    "webhook-secrets-expire": {"task": "rebalancing.tasks.webhook_secrets_expire", "schedule": crontab(hour=3, minute=10)},
    # Stalled runs (a worker lost with its chunk): found and sent again (rebalancing/services/run_recovery.py).
    "runs-watch": {"task": "rebalancing.tasks.runs_watch", "schedule": float(env_int("RUN_WATCH_SECONDS", 60))},
    # Backtests whose message or worker was lost: sent again (rebalancing/services/backtests.py).
    "backtests-watch": {"task": "rebalancing.tasks.backtests_watch",
                        "schedule": float(env_int("RUN_WATCH_SECONDS", 60))},
}
# A run whose progress has not moved for RUN_STALL_SECONDS is stalled: its unfinished chunks are sent
# again, then again after twice as long, and so on, at most RUN_STALL_MAX_REDISPATCHES times. A chunk is
# a few seconds of work, so ten minutes without one finishing means its worker is gone.
RUN_STALL_SECONDS = env_int("RUN_STALL_SECONDS", 600)
# A run's chunk: at most this many tax lots or accounts (rebalancing/services/runs.py says why these).
RUN_CHUNK_LOTS = env_int("RUN_CHUNK_LOTS", 200_000)
RUN_CHUNK_ACCOUNTS = env_int("RUN_CHUNK_ACCOUNTS", 1_000)
RUN_STALL_MAX_REDISPATCHES = env_int("RUN_STALL_MAX_REDISPATCHES", 5)
# A backtest no worker is replaying (its replay lock is free) BACKTEST_STALL_SECONDS after it was sent
# is sent again, then after twice as long, and so on; after BACKTEST_MAX_RESENDS it is ended as failed.
# A queue of other backtests ahead of it (minutes each) is why the first wait is not shorter.
BACKTEST_STALL_SECONDS = env_int("BACKTEST_STALL_SECONDS", 900)
BACKTEST_MAX_RESENDS = env_int("BACKTEST_MAX_RESENDS", 3)

# --- API ----------------------------------------------------------------------------------------
# /api/v1/ on firm hosts (rebalancing/api, docs/api.md). API keys first: its WWW-Authenticate makes an
# unauthenticated request a 401, not a 403.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "rebalancing.api.schema.FirmAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.api_keys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rebalancing.api.pagination.FirmPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nested at most config.input_limits.MAX_JSON_DEPTH levels: deeper is a 400, not a 500.
    # JSON only: the endpoints that take a file (imports, executions, reconciliations) add multipart
    # themselves, so the schema offers each body in exactly the content types it is accepted in.
    "DEFAULT_PARSER_CLASSES": ["rebalancing.api.parsers.BoundedJSONParser"],
    # Dates as RFC 3339 full-date only (the schema's "format: date"): DRF's default reads them with
    # date.fromisoformat, which also takes 20261120 and 2026-W47-5 (rebalancing/api/serializers/strict.py).
    "DATE_INPUT_FORMATS": ["%Y-%m-%d"],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api_keys.throttling.ApiKeyRateThrottle"],
    # An anonymous client's address for throttling: as above (None would read X-Forwarded-For blindly).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    # Per API key (else per signed-in user); the what-if engine call has its own bucket.
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("API_RATE_PER_KEY", "1200/min"),
        "user": env_str("API_RATE_PER_USER", "600/min"),
        "whatif": env_str("API_RATE_WHATIF", "60/min"),
    },
}
# Webhooks (rebalancing.webhooks): retries double from the base, up to the cap, until the attempts run
# out (defaults: 30 s doubling, at most 1 h, 8 attempts: the last about an hour after the first).
# Private addresses are refused unless allowed (tests and the demo deliver to localhost; never in
# production: server-side request forgery).
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
# An endpoint whose deliveries failed for good this many times in a row is paused until a firm admin
# resumes it (rebalancing.webhooks.pausing): a dead receiver costs the notify queue a timeout per
# attempt. Default 20; 0 never pauses.
WEBHOOK_PAUSE_AFTER_FAILURES = env_int("WEBHOOK_PAUSE_AFTER_FAILURES", 20)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Parameter-based rebalancing API",
    "DESCRIPTION": "A firm's book, runs, proposals and approvals. Every error answer is "
    '{"code", "message", "detail"}; the codes and the roles and scopes are in docs/api.md.',
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",  # JSON Schema 2020-12, like the engine's request and result schemas
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SleeveKindEnum": "rebalancing.models.Sleeve.Kind",
        "RunKindEnum": "rebalancing.models.RebalanceRun.Kind",
        "RunStatusEnum": "rebalancing.models.RebalanceRun.Status",
        "ProposalStatusEnum": "rebalancing.models.Proposal.Status",
        "AlertKindEnum": "rebalancing.models.Alert.Kind",
        "CashFlowKindEnum": "rebalancing.models.CashFlow.Kind",
        "BacktestStatusEnum": "rebalancing.models.Backtest.Status",
        "BacktestBasketEnum": "rebalancing.models.Backtest.Basket",
        "BacktestPricesEnum": "rebalancing.models.Backtest.Prices",
        "HouseholdManagedAsEnum": "rebalancing.models.Household.ManagedAs",
        "AccountTaxStatusEnum": "rebalancing.models.Account.TaxStatus",
        "BacktestLossesEnum": "rebalancing.models.Backtest.Losses",
        "ImportKindEnum": "rebalancing.imports.KINDS",
        "InstructionActionEnum": "rebalancing.api.serializers.revisions.INSTRUCTION_CHOICES",
        "ApiKeyStatusEnum": ["active", "awaiting_owner", "expired", "revoked"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "rebalancing.api.schema.postprocess",
    ],
    # Served from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "text")  # "json" in production: one JSON object per line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"firm": {"()": "config.log_context.FirmFilter"},
                "refusal": {"()": "config.log_context.RefusalWithoutTraceback"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(firm)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(firm)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["firm"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["refusal"]},  # a role's refusal: one line, not a traceback
        "celery": {"level": LOG_LEVEL},
        "axes": {"level": "WARNING"},  # every sign-in attempt is in the audit trail already
    },
}

# --- E-mail (invitations, approval notices): Django's mail framework -------------------------------
# The demo and development write mail to the console; production names an SMTP server.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"rebalancing@{BASE_DOMAIN}")
