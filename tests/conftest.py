"""Shared fixtures: a test database with the provider and two firms (each its own schema).

pytest-django creates the database and migrates the public schema; the firms are created once per
session through the real onboarding service and committed, so every test (and a real Celery worker
process) sees the same two schemas.
"""

import os

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import firm_create, provider_ensure, user_ensure

# CI: hypothesis's own CI settings (derandomize: the random stream seeded by each test's source; no
# example database; no deadline or too-slow check, the runner's timings being its own); local runs
# keep exploring new examples.  Derandomised draws still differ between processes: hypothesis mixes
# in constants from the project's modules the process has imported (tests/engine alone, the whole
# suite, an xdist worker that ran other files first), and PROP_N changes them all.  So a failure
# prints @reproduce_failure(version, blob) (print_blob), which replays its example in any run
# (docs/engine.md, "Replaying a CI failure").
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

FIRM_A = {"name": "Firm A Wealth", "slug": "firm-a", "admin_email": "admin@firm-a.example"}
FIRM_B = {"name": "Firm B Advisors", "slug": "firm-b", "admin_email": "admin@firm-b.example"}
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_modify_db_settings, django_db_blocker):
    """pytest-django's own set-up, but always for the default database.

    pytest-django sets up only the databases that collected tests mark as used; the integration
    tests use committed data through ``django_db_blocker`` and carry no mark, so on their own they
    would run against the development database. ``django_db_modify_db_settings`` gives each
    pytest-xdist process its own database (``..._gw0``).
    """
    from django.test.utils import setup_databases, teardown_databases

    # --reuse-db (pytest-django) keeps the database between runs: migrations are applied on top, the
    # firms' onboarding is idempotent, and nothing is dropped at the end. CI always starts afresh.
    keep = bool(request.config.getvalue("reuse_db")) and not request.config.getvalue("create_db")
    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=request.config.option.verbose, interactive=False, keepdb=keep,
                                 aliases={"default"})
        provider_ensure()
        for spec in (FIRM_A, FIRM_B):
            firm_create(**spec, admin_password=PASSWORD)
    yield
    if keep:
        return
    with django_db_blocker.unblock():
        # Worker, server and thread connections may outlive their tests; end them before the drop.
        test_name = connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [test_name],
            )
        teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    yield
    connection.set_schema_to_public()


@pytest.fixture
def firm_a(db) -> Firm:
    return Firm.objects.get(slug=FIRM_A["slug"])


@pytest.fixture
def firm_b(db) -> Firm:
    return Firm.objects.get(slug=FIRM_B["slug"])


def host_of(firm: Firm) -> str:
    return f"{firm.slug}.localhost"


@pytest.fixture
def firm_user():
    """Make a user with a role inside a firm's schema: firm_user(firm, "pm@x", FirmRole.PORTFOLIO_MANAGER)."""

    def make(firm: Firm, username: str, role: FirmRole = FirmRole.ADVISOR, **kwargs):
        with schema_context(firm.schema_name):
            return user_ensure(username=username, email=username, roles=[role], password=PASSWORD, **kwargs)

    return make


@pytest.fixture
def client_for():
    """A test client bound to a firm's host, optionally signed in as a user of that firm."""

    def make(firm: Firm, user=None) -> Client:
        client = Client(HTTP_HOST=host_of(firm))
        if user is not None:
            with schema_context(firm.schema_name):
                client.force_login(user)
        return client

    return make
