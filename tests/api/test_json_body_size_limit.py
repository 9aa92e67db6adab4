"""A JSON body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (not set: 2.5 MB) is answered with the HTML
"Bad request" page (400, text/html), not the API's error body. docs/api.md: the limit of a request
body is UPLOAD_MAX_MB (25 MB), above which the answer is 413 ``upload_too_large``, and "every 4xx
answer has the body {"code", "message", "detail"}"; ``imports/`` takes up to 200,000 JSON rows
(openapi.yaml ``maxItems: 200000``) and ``executions/`` 100,000 - yet about 45,000 price rows
(~2.6 MB) already cannot be sent. A form upload with more than 1,000 fields
(DATA_UPLOAD_MAX_NUMBER_FIELDS) gets the same HTML page."""

import json
from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Price

from .conftest import API

pytestmark = pytest.mark.django_db


def test_a_json_import_within_the_documented_limits_is_taken_or_refused_in_the_api_error_body(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    first = date(2000, 1, 3)
    rows = [{"symbol": symbol, "date": (first + timedelta(days=n)).isoformat(), "close": "100.250000"}
            for symbol in ("VTI", "ITOT", "SCHB", "BND", "AGG", "VNQ") for n in range(7500)]
    body = json.dumps({"kind": "prices", "rows": rows, "as_of": "2026-11-20"})
    assert 2_700_000 < len(body) < 25 * 1024 * 1024 and len(rows) < 200_000
    with tenant_context(firm_a):
        before = Price.objects.count()

    answer = client.post(f"{API}/imports/", body, content_type="application/json")

    assert answer["Content-Type"].startswith("application/json"), (answer.status_code, answer.content[:120])
    assert answer.status_code == 201, answer.content[:300]
    with tenant_context(firm_a):
        assert Price.objects.count() == before + len(rows)
