"""A page's form-only address opened in the browser (a reload after posting, a bookmark) answers a
page saying nothing was changed and linking the page whose form posts there - not a blank 405
(found in the browser, 2026-12-07: /households/<id>/tax/ and /templates/<id>/household/)."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django_tenants.utils import tenant_context

from frontend.middleware import form_page_of
from rebalancing.models import ParameterTemplate

from .test_household_pages import lees  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_form_page_of_is_the_nearest_page_above():
    assert form_page_of("/households/7/tax/", "frontend.urls") == "/households/7/"
    assert form_page_of("/households/7/proposals/9/decide/", "frontend.urls") == "/households/7/"
    assert form_page_of("/templates/3/household/", "frontend.urls") == "/templates/3/"
    assert form_page_of("/nothing-here/at-all/", "frontend.urls") == "/"


def test_a_households_tax_address_opened_says_so_and_links_its_page(lees, as_user):  # noqa: F811
    household = lees["household"].pk
    answer = as_user("pm").get(f"/households/{household}/tax/")

    assert answer.status_code == 405 and "POST" in answer["Allow"]
    page = answer.content.decode()
    assert "This address only takes a form&#x27;s submission" in page
    assert f'<a href="/households/{household}/">the page it belongs to</a>' in page
    assert as_user("pm").get(f"/households/{household}/").status_code == 200  # the link leads somewhere


def test_a_templates_household_settings_address_opened_links_the_template(firm_a, lees, as_user):  # noqa: F811
    with tenant_context(firm_a):
        template = ParameterTemplate.objects.order_by("pk").first()
    answer = as_user("admin").get(f"/templates/{template.pk}/household/")
    assert answer.status_code == 405
    assert f'<a href="/templates/{template.pk}/">the page it belongs to</a>' in answer.content.decode()
    assert as_user("admin").get(f"/templates/{template.pk}/").status_code == 200


def test_every_page_address_below_another_links_a_page_above_it():
    """Over the page URLs (each ``<int:...>`` as 1): the link is an address above it that is a page."""
    routes = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                routes.append("/" + re.sub(r"<[^>]+>", "1", prefix + str(p.pattern)))

    walk(get_resolver("frontend.urls").url_patterns)
    assert len(routes) > 50
    for route in routes:
        if route.count("/") < 3 or "<" in route or "(" in route:
            continue
        page = form_page_of(route, "frontend.urls")
        assert route.startswith(page) and len(page) < len(route), route
        resolve(page, "frontend.urls")  # a page, not an invented address
