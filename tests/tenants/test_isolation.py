"""A firm's data is invisible from another firm through the ORM, the pages and the admin.

(Through a Celery task: tests/integration/test_worker_runs_in_firm_schema.py.)
"""

import contextlib

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from tenants.roles import FirmRole

from ..conftest import PASSWORD, host_of

pytestmark = pytest.mark.django_db


def test_orm_sees_only_the_active_firms_rows(firm_a, firm_b, firm_user):
    firm_user(firm_a, "only-in-a@firm-a.example")

    with schema_context(firm_a.schema_name):
        assert get_user_model().objects.filter(username="only-in-a@firm-a.example").exists()
    with schema_context(firm_b.schema_name):
        assert not get_user_model().objects.filter(username="only-in-a@firm-a.example").exists()
    with schema_context("public"):
        assert not get_user_model().objects.filter(username="only-in-a@firm-a.example").exists()


def test_a_firms_search_path_undone_by_a_rollback_is_set_again(firm_a, firm_b, firm_user):
    # Given a user in firm A only, a connection whose search path is firm B's, and the path set
    # once per switch of firm rather than per cursor
    assert settings.TENANT_LIMIT_SET_CALLS
    firm_user(firm_a, "only-in-a@firm-a.example")
    users = get_user_model().objects.filter(username="only-in-a@firm-a.example")
    with schema_context(firm_b.schema_name):
        assert not users.exists()
    with schema_context(firm_a.schema_name):
        # When firm A's path is set inside a savepoint that is rolled back (PostgreSQL puts firm
        # B's path back)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            assert users.exists()
            raise RuntimeError
        # Then firm A's next query reads firm A again, not firm B
        assert users.exists()
        with connection.cursor() as cursor:
            cursor.execute("SHOW search_path")
            assert cursor.fetchone()[0].startswith(firm_a.schema_name)


def test_firm_a_credentials_do_not_sign_in_at_firm_b(firm_a, firm_b, firm_user, client_for):
    firm_user(firm_a, "advisor@firm-a.example")

    at_a = client_for(firm_a).post(
        "/accounts/login/", {"username": "advisor@firm-a.example", "password": PASSWORD}
    )
    at_b = client_for(firm_b).post(
        "/accounts/login/", {"username": "advisor@firm-a.example", "password": PASSWORD}
    )

    assert at_a.status_code == 302 and at_a["Location"] == "/"
    assert at_b.status_code == 200
    assert "didn't match" in at_b.content.decode()


def test_firm_a_session_is_worthless_at_firm_b(firm_a, firm_b, firm_user, client_for):
    user = firm_user(firm_a, "advisor@firm-a.example")
    client = client_for(firm_a, user)
    home = client.get("/")
    assert home.status_code == 200 and "Firm A Wealth" in home.content.decode()

    # The same cookie jar presented at firm B's host: B's schema has no such session.
    stolen = client.get("/", HTTP_HOST=host_of(firm_b))

    assert stolen.status_code == 302
    assert stolen["Location"].startswith("/accounts/login/")


def test_firm_admin_sees_only_own_users_and_never_the_registry(firm_a, firm_b, firm_user, client_for):
    firm_user(firm_b, "secret-person@firm-b.example")
    admin_a = firm_user(firm_a, "boss@firm-a.example", FirmRole.FIRM_ADMIN, is_superuser=True)
    client = client_for(firm_a, admin_a)

    users_page = client.get("/admin/auth/user/")
    registry_page = client.get("/admin/tenants/firm/")

    assert users_page.status_code == 200
    body = users_page.content.decode()
    assert "boss@firm-a.example" in body
    assert "secret-person@firm-b.example" not in body
    assert registry_page.status_code in (403, 404)


def test_firm_b_user_id_is_not_found_in_firm_a_admin(firm_a, firm_b, firm_user, client_for):
    other = firm_user(firm_b, "lonely@firm-b.example")
    with schema_context(firm_a.schema_name):
        collides = get_user_model().objects.filter(pk=other.pk).exists()
    admin_a = firm_user(firm_a, "boss@firm-a.example", FirmRole.FIRM_ADMIN, is_superuser=True)

    response = client_for(firm_a, admin_a).get(f"/admin/auth/user/{other.pk}/change/")

    if collides:  # same numeric id may exist in A by chance; then it must be A's own user
        assert "lonely@firm-b.example" not in response.content.decode()
    else:
        assert response.status_code in (302, 404)


def test_unknown_host_gets_404(db, client):
    assert client.get("/accounts/login/", HTTP_HOST="nobody.localhost").status_code == 404
