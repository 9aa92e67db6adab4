"""API test helpers: firm users with roles, API keys, a client speaking to a firm's host."""

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from tenants.api_keys.services import api_key_create
from tenants.roles import FirmRole

from ..conftest import host_of

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()  # request counts live in the cache; each test starts from zero
    yield
    cache.clear()


@pytest.fixture
def api_key():
    """Issue a key: api_key(firm, user, scopes=("read",), **kwargs) -> token."""

    def make(firm, user, scopes=("read",), name="test key", expires_at=None):
        with schema_context(firm.schema_name):
            return api_key_create(user=user, name=name, scopes=list(scopes), expires_at=expires_at, by=None).token

    return make


def key_client(firm, token: str) -> Client:
    return Client(HTTP_HOST=host_of(firm), HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def people(firm_a, firm_user):
    """One user of each firm role in firm A, two advisors, and a user with no role."""
    users = {
        "admin": firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN),
        "pm": firm_user(firm_a, "pm@a.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "adv1@a.example", FirmRole.ADVISOR),
        "colleague": firm_user(firm_a, "adv2@a.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "cco@a.example", FirmRole.COMPLIANCE),
    }
    with tenant_context(firm_a):
        from tenants.services import user_ensure

        users["nobody"] = user_ensure(username="nobody@a.example", email="nobody@a.example", roles=[],
                                      password="x-pass-12345")
    return users


def error_of(response) -> dict:
    """The uniform error body, checked for shape."""
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and isinstance(body["detail"], dict)
    return body
