"""On an API object route, an object the caller may not see answers 404 before its body is read: a body
with a NUL character or malformed JSON sent about a colleague's proposal says nothing else about it,
with a key or signed in (rebalancing/api/base.py, ``FirmScopedViewSet.object_first``; the session's
CSRF check reads no JSON body, tenants.api_keys.authentication.SessionAuthentication)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tests.conftest import host_of

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db

BODIES = [
    pytest.param('{"comment": "a\\u0000b"}', id="nul"),
    pytest.param("{bad json", id="malformed"),
]


def _signed_in_with_csrf(firm, user) -> Client:
    client = Client(HTTP_HOST=host_of(firm), enforce_csrf_checks=True)
    with schema_context(firm.schema_name):
        client.force_login(user)
    client.get("/api-keys/")  # a page sets the csrftoken cookie
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


@pytest.mark.parametrize("body", BODIES)
def test_a_colleagues_proposal_answers_404_whatever_the_body_with_a_key(firm_a, people, book, api_key, body):
    client = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read", "approve"]))
    theirs, mine = book["colleague_proposal"], book["own_proposal"]

    hidden = client.post(f"{API}/proposals/{theirs.pk}/approve/", body, content_type="application/json")
    own = client.post(f"{API}/proposals/{mine.pk}/approve/", body, content_type="application/json")

    assert client.get(f"{API}/proposals/{theirs.pk}/").status_code == 404
    assert hidden.status_code == 404 and error_of(hidden)["code"] == "not_found"
    assert own.status_code == 400  # the body is still refused where the caller may act


@pytest.mark.parametrize("body", BODIES)
def test_a_colleagues_proposal_answers_404_whatever_the_body_signed_in(firm_a, people, book, body):
    client = _signed_in_with_csrf(firm_a, people["advisor"])
    theirs, mine = book["colleague_proposal"], book["own_proposal"]

    hidden = client.post(f"{API}/proposals/{theirs.pk}/approve/", body, content_type="application/json")
    own = client.post(f"{API}/proposals/{mine.pk}/approve/", body, content_type="application/json")
    no_token = client.post(f"{API}/proposals/{theirs.pk}/approve/", body, content_type="application/json",
                           HTTP_X_CSRFTOKEN="")

    assert hidden.status_code == 404 and error_of(hidden)["code"] == "not_found"
    assert own.status_code == 400
    assert no_token.status_code == 403 and error_of(no_token)["code"] == "csrf_failed"


def test_a_role_without_the_action_answers_403_whatever_the_body(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["compliance"], scopes=["read"]))

    refused = client.post(f"{API}/proposals/{book['own_proposal'].pk}/approve/", "{bad json",
                          content_type="application/json")

    assert refused.status_code == 403 and error_of(refused)["code"] == "scope_missing"
