"""Attack 9: pages are fail-closed. Every URL pattern either declares who may open it or belongs to a
part with its own closed rules (the admin site, the API's ``rules``); what a page shows starts from the
same visibility selectors as the API, so advisors no longer see every run."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, clear_url_caches, get_resolver
from django_tenants.utils import tenant_context
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from frontend.views.common import PUBLIC, SIGNED_IN, firm_page, page_access_of
from rebalancing.api.base import FirmAPIMixin
from rebalancing.api.urls import no_such_endpoint  # answers 404 to any unknown API path
from rebalancing.models import RebalanceRun
from rebalancing.services.runs import run_process_chunk
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# The API's schema and its documentation pages: open to any signed-in user (DRF's IsAuthenticated
# default), they hold no firm data. Everything else under api/ answers through FirmAPIMixin's rules.
API_OPEN = (SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView)


def _walk(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _undeclared(urlconf: str, hosts: set[str]) -> list[str]:
    problems = []
    for route, view in _walk(get_resolver(urlconf)):
        if route.startswith("admin/"):
            continue  # the admin site: staff only, model permissions per action (its own tests)
        if route.startswith(("api/", "^api/")):
            cls = getattr(view, "cls", None)
            if view is not no_such_endpoint and (cls is None or not issubclass(cls, (FirmAPIMixin, *API_OPEN))):
                problems.append(f"{route}: {view.__module__}.{view.__name__} is not a FirmAPIMixin view")
            continue
        access = page_access_of(view)
        if access is None:
            problems.append(f"{route}: {view.__module__}.{view.__name__} declares no capability")
        elif access.host not in hosts:
            problems.append(f"{route}: declared for the {access.host} host")
    return problems


def test_every_firm_url_declares_who_may_open_it():
    assert _undeclared("config.urls", {"firm", "any", "public"}) == []


def test_every_provider_url_declares_who_may_open_it():
    assert _undeclared("config.urls_public", {"provider", "any", "public"}) == []


def test_a_page_that_declares_nothing_is_refused_and_named_by_the_walk(firm_a, firm_user, monkeypatch):
    @firm_page
    def forgotten(request):
        return None

    request = RequestFactory().get("/forgotten/")
    with tenant_context(firm_a):
        request.user = firm_user(firm_a, "anyone@firm-a.example", FirmRole.FIRM_ADMIN)
        with pytest.raises(PermissionDenied, match="declares no capability"):
            forgotten(request)
    assert page_access_of(forgotten) is None

    from django.urls import path

    import config.urls

    monkeypatch.setattr(config.urls, "urlpatterns", [*config.urls.urlpatterns, path("forgotten/", forgotten)])
    clear_url_caches()
    try:
        assert _undeclared("config.urls", {"firm", "any", "public"}) == [
            "forgotten/: tests.security.test_page_access.forgotten declares no capability"]
    finally:
        monkeypatch.undo()
        clear_url_caches()


def _firm_pages():
    for route, view in _walk(get_resolver("config.urls")):
        access = page_access_of(view)
        if access is not None and access.host == "firm":
            yield route, access


def test_a_firm_user_without_a_role_is_refused_every_page_that_needs_a_capability(book, firm_a, client_for):
    with tenant_context(firm_a):
        nobody = user_ensure(username="no-role@firm-a.example", email="no-role@firm-a.example", roles=[],
                             password=PASSWORD)
    client = client_for(firm_a, nobody)
    seen = 0
    for route, access in _firm_pages():
        path = "/" + re.sub(r"<int:\w+>", str(book["accounts"][0].pk), route)
        response = client.get(path)
        if access.needs == (SIGNED_IN,):
            assert response.status_code == 200, path
        else:
            assert response.status_code == 403, (path, response.status_code)
            seen += 1
    assert seen >= 25


def test_sign_in_is_public_on_both_hosts():
    from frontend.views import SignInView, SignOutView

    assert SignInView.page_access is PUBLIC and SignOutView.page_access is PUBLIC


def test_a_provider_admin_may_look_but_only_an_operator_starts_a_run(firm_a, client):
    admin = user_ensure(username="padmin", email="padmin@provider.example", roles=[ProviderRole.PROVIDER_ADMIN],
                        password=PASSWORD)
    client.force_login(admin)

    assert client.get("/", HTTP_HOST="localhost").status_code == 200
    refused = client.post("/runs/start/", {"firm": "firm-a"}, HTTP_HOST="localhost")
    assert refused.status_code == 403 and "Only a provider operator may do this" in refused.content.decode()


# --- Runs: advisors see the runs that touched their accounts, as in the API ---------------------

@pytest.fixture
def colleagues_run(book, firm_a):
    """A run over the colleague's accounts only."""
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"account_ids": [a.pk for a in book["theirs"]]}, as_of=book["run"].as_of,
                                          total=len(book["theirs"]), started_by_label="test")
        run_process_chunk(run_id=run.pk, account_ids=[a.pk for a in book["theirs"]])
    return run


def test_an_advisor_lists_only_runs_that_touched_their_accounts(book, colleagues_run, as_user):
    page = as_user("advisor").get("/runs/").content.decode()
    api = as_user("advisor").get("/api/v1/runs/").json()

    assert f"Run {book['run'].pk}<" in page and f"Run {colleagues_run.pk}<" not in page
    assert [r["id"] for r in api["results"]] == [book["run"].pk]
    assert f"Run {colleagues_run.pk}<" in as_user("colleague").get("/runs/").content.decode()


def test_an_advisor_finds_a_colleagues_run_not_found(book, colleagues_run, as_user):
    client = as_user("advisor")

    assert client.get(f"/runs/{colleagues_run.pk}/").status_code == 404
    assert client.get(f"/runs/{colleagues_run.pk}/", HTTP_HX_REQUEST="true").status_code == 404
    assert client.get(f"/api/v1/runs/{colleagues_run.pk}/").status_code == 404
    assert as_user("colleague").get(f"/runs/{colleagues_run.pk}/").status_code == 200
    assert as_user("pm").get(f"/runs/{colleagues_run.pk}/").status_code == 200


def test_the_dashboard_of_an_advisor_speaks_of_their_last_run(book, colleagues_run, as_user):
    page = as_user("advisor").get("/").content.decode()

    assert f"/runs/{colleagues_run.pk}/" not in page
