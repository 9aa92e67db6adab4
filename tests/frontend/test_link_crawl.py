"""Each role's day starts at the home page and follows links: every link a page offers a role
opens for that role (no 500, no dead link, no page it is refused)."""

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest

pytestmark = pytest.mark.django_db

HREF = re.compile(r'href="([^"]+)"')
SKIP = ("/static/", "/accounts/logout/", "/api/", "/admin/")
PAGES_PER_ROLE = 150


def _pattern(path: str) -> str:
    """One visit per page kind and query shape (accounts/1/ and accounts/2/ are one kind)."""
    parts = urlsplit(path)
    keys = ",".join(sorted(k.split("=")[0] for k in parts.query.split("&") if k))
    return re.sub(r"/\d+(?=/)", "/N", parts.path) + "?" + keys


def _links(html: str):
    for href in HREF.findall(html):
        href = urldefrag(href.replace("&amp;", "&"))[0]
        if href.startswith("/") and not href.startswith("//") and not href.startswith(SKIP):
            yield href


def _crawl(client) -> tuple[int, list[str]]:
    """Breadth-first from "/", one page of each kind: how many pages opened and the broken links."""
    seen, queue, broken, visited = {_pattern("/")}, deque([("/", "(start)")]), [], 0
    while queue and visited < PAGES_PER_ROLE:
        path, came_from = queue.popleft()
        response = client.get(path)
        visited += 1
        if response.status_code >= 400:
            broken.append(f"{path} ({response.status_code}) linked from {came_from}")
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for link in _links(response.content.decode()):
            if _pattern(link) not in seen:
                seen.add(_pattern(link))
                queue.append((link, path))
    return visited, broken


@pytest.mark.parametrize("who", ["admin", "pm", "advisor", "compliance"])
def test_every_link_a_role_is_offered_opens(book, as_user, who):
    visited, broken = _crawl(as_user(who))
    assert not broken, "\n".join(broken)
    assert visited > 10


@pytest.mark.parametrize("role", ["provider_admin", "provider_operator"])
def test_every_link_provider_staff_are_offered_opens(book, role):
    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with schema_context("public"):
        user = user_ensure(username=f"{role}@provider.test", email=f"{role}@provider.test", roles=[role],
                           password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        visited, broken = _crawl(client)
    assert not broken, "\n".join(broken)
    assert visited >= 3
