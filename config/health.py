"""Liveness and readiness probes, answered before tenant resolution and host checks.

/healthz says the process serves requests (no I/O). /readyz says this instance can do real work:
the database answers, the broker accepts a connection, and no migration is pending in the public
schema or in any firm's schema. It answers on every host, so it names the check that failed and logs
the details.
"""

import json
import logging
import time

from django.conf import settings
from django.db import connection
from django.http import HttpResponse

__all__ = ["HealthCheckMiddleware", "readiness"]

log = logging.getLogger(__name__)

_READY_CACHE: dict[str, object] = {"at": 0.0, "result": None}
_READY_CACHE_SECONDS = 10.0


def _json(status: int, body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


# A probe's answer is public (any host, before host checks): it says which check failed, never why.
# The why (exception text naming internal hosts, the schema, hence the firm, behind) goes to the log.


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:
        log.warning("readiness: database: %s: %s", exc.__class__.__name__, exc)
        return "database: unavailable"


def _check_broker() -> str | None:
    from config.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return None
    except Exception as exc:
        log.warning("readiness: broker: %s: %s", exc.__class__.__name__, exc)
        return "broker: unavailable"


def _pending_migrations() -> str | None:
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

    # Each schema records its own applied migrations; the release job migrates them all.
    schemas = [get_public_schema_name()]
    with schema_context(get_public_schema_name()):
        schemas += list(
            get_tenant_model().objects.exclude(schema_name=get_public_schema_name()).values_list(
                "schema_name", flat=True
            )
        )
    for schema in schemas:
        with schema_context(schema):
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if plan:
                log.warning("readiness: migrations: %d pending in schema %r", len(plan), schema)
                return "migrations: pending"
    return None


def readiness() -> tuple[bool, dict]:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if not problems:
        try:
            migration_problem = _pending_migrations()
        except Exception as exc:  # e.g. an empty database: not even the firm registry exists yet
            log.warning("readiness: migrations: cannot read the migration state: %s: %s",
                        exc.__class__.__name__, exc)
            migration_problem = "migrations: cannot read the migration state"
        if migration_problem:
            problems.append(migration_problem)
    return (not problems, {"status": "ok" if not problems else "unavailable", "problems": problems})


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return _json(200, {"status": "ok"})
        if request.path == "/readyz":
            now = time.monotonic()
            cached = _READY_CACHE["result"]
            if cached is None or now - float(_READY_CACHE["at"]) > _READY_CACHE_SECONDS or settings.DEBUG:
                cached = readiness()
                # Only a healthy answer is cached: a failing instance is re-checked on every probe.
                if cached[0]:
                    _READY_CACHE.update(at=now, result=cached)
            ok, body = cached
            return _json(200 if ok else 503, body)
        return self.get_response(request)
