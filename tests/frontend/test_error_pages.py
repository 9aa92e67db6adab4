"""The product's own error pages: never Django's debug pages, which list every URL pattern."""

import re

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_an_unknown_address_is_the_products_not_found_page(firm_a, people, as_user):
    response = as_user("advisor").get("/no-such-page/")
    page = re.sub(r"\s+", " ", response.content.decode())
    assert response.status_code == 404 and "<h1>Not found</h1>" in page
    assert "URLconf" not in page and "accounts/&lt;int:pk&gt;" not in page


def test_a_refusal_is_the_products_forbidden_page(firm_a, people, as_user):
    response = as_user("advisor").get("/people/")
    assert response.status_code == 403 and "Traceback" not in response.content.decode()


def test_a_crash_is_the_products_server_error_page_standing_alone():
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in page
    assert "Traceback" not in page


def test_the_demo_serves_without_django_debug_pages():
    from pathlib import Path

    stack = (Path(__file__).resolve().parents[2] / "scripts" / "stack.py").read_text()
    run_demo = stack[stack.index("def run_demo"):stack.index("def ", stack.index("def run_demo") + 10)]
    assert 'env.setdefault("DJANGO_DEBUG", "false")' in run_demo and '"--insecure"' in run_demo


def test_the_api_reference_pages_load_nothing_from_another_host(firm_a, people, client_for):
    client = client_for(firm_a, people["admin"])
    for path, script in (("/api/v1/redoc/", "/static/drf_spectacular_sidecar/redoc/"),
                         ("/api/v1/docs/", "/static/drf_spectacular_sidecar/swagger-ui-dist/")):
        response = client.get(path)
        page = response.content.decode()
        assert response.status_code == 200 and script in page, path
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), path  # no fonts, logos or scripts elsewhere
        assert "googleapis" not in page and "cdn" not in page.lower(), path
