"""Every form a role is offered, sent as the page fills it, empty, and with nonsense in each field,
answers a page or a refusal that names the problem - never a server error (5xx).

The crawl follows links from the home page as ``test_link_crawl`` does, one page of each kind, and
sends each kind of form once per variant. The nonsense is what people and scripts send: text where
a number goes, a negative or astronomically large number, not-a-number, a non-ASCII overlong string.
(Markup is escaped by the templates, which tests/security checks.)"""

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from .test_link_crawl import PAGES_PER_ROLE, _links, _pattern

pytestmark = pytest.mark.django_db

# Sign-out ends the crawl's session; the rest is fair game in a test database.
SKIP_ACTIONS = ("/accounts/logout/",)
NONSENSE = ("not a number", "-1", "1e300", "NaN", "é" * 300)


class _Forms(HTMLParser):
    """POST forms of a page: (action, [(name, value)], {name: [choices]}), and htmx POST targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]], dict[str, list[str]]]] = []
        self.hx_posts: list[str] = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("hx-post"):
            self.hx_posts.append(a["hx-post"])
        if tag == "option":
            if self._form is not None and self._select:
                self._form[2][self._select].append(a.get("value") or "")
        elif tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = (a.get("action") or "", [], {})
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "image", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._form[2].setdefault(a["name"], []).append(a.get("value") or "on")
                return
            self._form[1].append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = a["name"]
            self._form[1].append((a["name"], ""))
            self._form[2].setdefault(a["name"], [])
        elif tag == "textarea":
            self._form[1].append((a["name"], ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def _variants(fields: list[tuple[str, str]], choices: dict[str, list[str]]):
    """As the page fills the form; empty; each nonsense in every field."""
    filled: dict[str, list[str]] = {}
    for name, value in fields:
        filled.setdefault(name, []).append(value)
    for name, options in choices.items():
        if name in filled and filled[name] == [""] and any(options):
            filled[name] = [next(o for o in options if o)]
    yield "as filled", filled
    yield "empty", {name: [""] * len(values) for name, values in filled.items()}
    for junk in NONSENSE:
        yield f"{junk[:12]!r} everywhere", {name: [junk] * len(values) for name, values in filled.items()
                                           if name != "csrfmiddlewaretoken"}


def _crawl_forms(client) -> tuple[set[str], list[str]]:
    seen, queue, visited = {_pattern("/")}, deque(["/"]), 0
    sent: set[str] = set()
    errors: list[str] = []
    while queue and visited < PAGES_PER_ROLE:
        path = queue.popleft()
        response = client.get(path)
        visited += 1
        if response.status_code >= 400 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        parser = _Forms()
        parser.feed(html)
        targets = [(urljoin(path, action or path), fields, choices) for action, fields, choices in parser.forms]
        targets += [(urljoin(path, hx), [], {}) for hx in parser.hx_posts]
        for action, fields, choices in targets:
            if action.startswith(SKIP_ACTIONS) or _pattern(action) in sent:
                continue
            sent.add(_pattern(action))
            for variant, data in _variants(fields, choices):
                answer = client.post(action, data)
                if answer.status_code >= 500:
                    errors.append(f"POST {action} ({variant}) from {path}: {answer.status_code}")
        for link in _links(html):
            if _pattern(link) not in seen:
                seen.add(_pattern(link))
                queue.append(link)
    return sent, errors


@pytest.mark.parametrize("who", ["admin", "pm", "advisor", "compliance"])
def test_no_form_a_role_is_offered_answers_a_server_error(book, as_user, who):
    sent, errors = _crawl_forms(as_user(who))
    assert not errors, "\n".join(errors)
    # Kinds of form each role was offered on 2026-12-04 (38, 21, 13, 4): fewer means the crawl broke.
    assert len(sent) >= {"admin": 30, "pm": 15, "advisor": 10, "compliance": 4}[who], sorted(sent)


def test_the_crawl_finds_and_sends_forms(book, as_user):
    """The crawl would pass vacuously if it found no forms: it finds the account page's."""
    parser = _Forms()
    account = book["mine"][0]
    parser.feed(as_user("pm").get(f"/accounts/{account.pk}/").content.decode())
    actions = {action for action, _, _ in parser.forms}
    assert f"/accounts/{account.pk}/instruct/" in actions and f"/accounts/{account.pk}/rebalance/" in actions
    # The instruction form (its alerts' "Harvest now" posts there too, with a hidden action)
    instruct = next(f for f in parser.forms if f[0] == f"/accounts/{account.pk}/instruct/" and "ins_action" in f[2])
    assert "sell" in instruct[2]["ins_action"] and re.search("ins_symbol", str(instruct[1]))


@pytest.mark.parametrize("role", ["provider_admin", "provider_operator"])
def test_no_form_provider_staff_are_offered_answers_a_server_error(book, role):
    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with schema_context("public"):
        user = user_ensure(username=f"{role}@forms.test", email=f"{role}@forms.test", roles=[role], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        sent, errors = _crawl_forms(client)
    assert not errors, "\n".join(errors)
    assert sent, "the provider console offers forms (onboarding a firm, retrying a run's failed accounts)"
