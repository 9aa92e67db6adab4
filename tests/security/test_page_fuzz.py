"""Attack 6, fuzzed: every page of a firm's host and of the provider console, asked with generated query
parameters (the names pages read and random ones; numbers, words, huge, negative, NUL, unicode), never
answers with a server error. (The API is fuzzed by schemathesis: tests/api/test_schemathesis.py.)"""

import os

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.models import Proposal
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD, host_of

pytestmark = pytest.mark.django_db
# Per page; FUZZ_EXAMPLES=500 for a longer hunt. (CI replays the same examples: tests/conftest.py.)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))

# Every name a page reads from its query string (git grep 'GET.get\|GET\[' frontend/), and a few more.
NAMES = ["q", "advisor", "model", "template", "min_drift", "min_cash", "min_loss", "attention", "sort", "page",
         "lots_page", "adj_page", "realised_page", "view", "year", "start", "end", "household", "account",
         "download", "as_of", "status", "actor", "action", "object_type", "object_id", "since", "until", "next",
         "layout", "day", "zz"]
AWKWARD = ["", "-1", "0", "1", "10000", "9" * 30, "9" * 5000, "abc", "none", "nan", "inf", "1e999", "sNaN", "²", "٣",
           "\x00", "a\x00b", "%", "'", '"', "<script>", "2026-02-30", "2026-13-01", "0000-00-00", "-2026-01-01",
           "csv", "lots", "totals", "orders", "blocks", "block", "all", "mine", "drift", "harvest", "failed", "any",
           "open", "filled", "cancelled", " ", "\u202e", "𝟙𝟚", "1,000", "$5", "5%"]
VALUES = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=30), st.integers().map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(str), st.dates().map(str))
QUERIES = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=8)), VALUES, max_size=6)


def _patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def _page_patterns(urlconf: str):
    """The pages (not the admin's or the API's, which have their own tests)."""
    return sorted({(route, name) for route, name in _patterns(get_resolver(urlconf))
                   if not route.startswith(("admin/", "api/"))})


def _path(route: str, ids: dict) -> str:
    path = route
    for token, value in (("<int:pk>", ids["pk"]), ("<slug:slug>", ids["slug"])):
        path = path.replace(token, str(value))
    return "/" + path


@pytest.fixture
def everyone(firm_a, book):
    """One firm user holding every firm role, so every page lets the fuzzer in."""
    with tenant_context(firm_a):
        return user_ensure(username="all-roles@firm-a.example", email="all-roles@firm-a.example",
                           roles=list(FirmRole), password=PASSWORD)


@pytest.fixture
def ids_by_page(firm_a, book):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(account=book["mine"][0]).first()
    return {"account": book["mine"][0].pk, "proposal": proposal.pk, "model": book["model"].pk,
            "template": book["template"].pk, "run": book["run"].pk, "ledger_reconciliation": 1}


def _id_for(name: str, ids: dict) -> int:
    return next((pk for prefix, pk in ids.items() if name.startswith(prefix)), 1)


FIRM_PAGES = _page_patterns("config.urls")
PROVIDER_PAGES = _page_patterns("config.urls_public")


@pytest.mark.parametrize(("route", "name"), FIRM_PAGES, ids=[n for _, n in FIRM_PAGES])
def test_no_firm_page_answers_a_generated_query_with_a_server_error(firm_a, everyone, ids_by_page, route, name):
    client = Client(HTTP_HOST=host_of(firm_a), raise_request_exception=False)
    with tenant_context(firm_a):
        client.force_login(everyone)
    path = _path(route, {"pk": _id_for(name, ids_by_page), "slug": "firm-a"})

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(query=QUERIES)
    def ask(query):
        response = client.get(path, query)
        assert response.status_code < 500, (path, query, response.status_code)

    ask()


@pytest.mark.parametrize(("route", "name"), PROVIDER_PAGES, ids=[n for _, n in PROVIDER_PAGES])
def test_no_provider_page_answers_a_generated_query_with_a_server_error(firm_a, route, name):
    operator = user_ensure(username="fuzz-operator", email="op@provider.example",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    client.force_login(operator)
    path = _path(route, {"pk": 1, "slug": "firm-a"})

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(query=QUERIES)
    def ask(query):
        response = client.get(path, query)
        assert response.status_code < 500, (path, query, response.status_code)

    ask()
