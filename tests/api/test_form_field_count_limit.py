"""A form body with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) was answered with Django's
HTML "Bad request" page, on the API as on the pages. docs/api.md: every API 4xx has the body
{"code", "message", "detail"}; so the API names the limit in it, and a page shows the product's error
page naming it (config/request_guards.py, config/api_errors.py)."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Security

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _fields(n: int) -> dict:
    return {f"f{i}": "x" for i in range(n)}


def test_a_multipart_upload_over_the_field_count_is_refused_in_the_api_error_body_naming_the_limit(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    with tenant_context(firm_a):
        before = Security.objects.count()
    data = {"kind": "securities", "file": SimpleUploadedFile("s.csv", b"symbol,name\nZZZ,Zed\n", "text/csv"),
            **_fields(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}

    answer = client.post(f"{API}/imports/", data)

    assert answer.status_code == 400 and answer["Content-Type"].startswith("application/json"), answer.content[:120]
    body = error_of(answer)
    assert body["code"] == "malformed_request" and "DATA_UPLOAD_MAX_NUMBER_FIELDS" in body["message"]
    assert body["detail"]["limit"] == settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    with tenant_context(firm_a):
        assert Security.objects.count() == before


@pytest.mark.parametrize("multipart", [True, False])
def test_a_page_form_over_the_field_count_gets_the_products_error_page_naming_the_limit(
        firm_a, people, book, client_for, multipart):
    from urllib.parse import urlencode

    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    fields = _fields(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)
    if multipart:
        answer = client.post("/models/new/", fields)
    else:
        answer = client.post("/models/new/", urlencode(fields), content_type="application/x-www-form-urlencoded")

    page = answer.content.decode()
    assert answer.status_code == 400 and answer["Content-Type"].startswith("text/html")
    assert "more than 1000 fields" in page and "DATA_UPLOAD_MAX_NUMBER_FIELDS" in page
    assert '<nav' in page or "Go back" in page  # the product's page, not a bare one
