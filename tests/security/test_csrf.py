"""Attack 13: cross-site request forgery. Every form that posts carries Django's CSRF token (on every
page each role opens), htmx posts send it as a header, and a POST without it is refused - a page's
and a signed-in API call's alike; an API key, sent by no browser, needs none."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver
from django_tenants.utils import tenant_context

from frontend.views.common import page_access_of
from rebalancing.models import Proposal
from tenants.api_keys.services import api_key_create
from tests.conftest import host_of
from tests.security.test_page_access import _walk

pytestmark = pytest.mark.django_db

_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_POSTS = re.compile(r"""method=["']post["']""", re.I)


def _pages(book, firm_a) -> list[str]:
    with tenant_context(firm_a):
        account = book["mine"][0]
        ids = {"accounts": account.pk, "households": account.household_id, "runs": book["run"].pk,
               "templates": book["template"].pk, "models": book["model"].pk,
               "proposals": Proposal.objects.get(account=account, run=book["run"]).pk}
    out = []
    for route, view in _walk(get_resolver("config.urls")):
        access = page_access_of(view)
        if access is None or access.host != "firm" or route.count("<") > 1:
            continue
        if "<int:pk>" in route:
            first = route.split("/")[0]
            if first not in ids or route.endswith(("/preview/", "/rebalance/", "/cancel/", "/decide/", "/resolve/")):
                continue
            route = route.replace("<int:pk>", str(ids[first]))
        out.append("/" + route)
    return out


@pytest.mark.parametrize("role", ["admin", "pm", "advisor", "compliance"])
def test_every_form_that_posts_carries_the_csrf_token(book, firm_a, as_user, role):
    client = as_user(role)
    forms = 0
    missing = []
    for path in _pages(book, firm_a):
        answer = client.get(path)
        if answer.status_code != 200 or not answer["Content-Type"].startswith("text/html"):
            continue
        html = answer.content.decode()
        assert "hx-post" not in html or 'hx-headers=\'{"X-CSRFToken"' in html, path
        for form in _FORM.findall(html):
            if _POSTS.search(form.split(">", 1)[0]):
                forms += 1
                if 'name="csrfmiddlewaretoken"' not in form:
                    missing.append((path, form[:120]))
    assert missing == []
    assert forms >= 5


def test_a_post_without_the_token_is_refused_and_an_api_key_needs_none(book, firm_a, people):
    browser = Client(HTTP_HOST=host_of(firm_a), enforce_csrf_checks=True)
    with tenant_context(firm_a):
        browser.force_login(people["pm"])
        token = api_key_create(user=people["pm"], name="k", scopes=["read", "run"], expires_at=None, by=None).token
        runs_before = book["run"].__class__.objects.count()

    page = browser.post("/runs/", {"scope": "firm"})
    api = browser.post("/api/v1/runs/", {"scope": {"firm": True}}, content_type="application/json")
    keyed = Client(HTTP_HOST=host_of(firm_a), enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}") \
        .post("/api/v1/runs/", {"scope": {"firm": True}}, content_type="application/json")

    assert page.status_code == 403 and api.status_code == 403
    # a code of its own (not the role's permission_denied), saying what to send
    assert api.json()["code"] == "csrf_failed"
    assert api.json()["message"].startswith("CSRF Failed: ")
    assert "sends the csrftoken cookie's value in the X-CSRFToken header" in api.json()["message"]
    assert keyed.status_code == 201
    with tenant_context(firm_a):
        assert book["run"].__class__.objects.count() == runs_before + 1
