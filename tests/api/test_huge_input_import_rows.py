"""JSON import rows read as a file's header is: "Symbol" was "row 1, symbol: the column appears
twice"; a row of 50,000 unknown keys was one problem per key (13 s): now one problem naming the first
ten and the count. Asserted on what is answered (its size), never on the clock."""

import json

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Price, Security

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def vti(firm_a):
    with tenant_context(firm_a):
        Security.objects.create(symbol="VTI", name="Total", asset_class="us_equity")


def _post(client, rows):
    return client.post(f"{API}/imports/", json.dumps({"kind": "prices", "rows": rows}),
                       content_type="application/json")


def test_capitalised_keys_are_read_as_csv_headers_are(firm_a, people, vti, client_for):
    answer = _post(client_for(firm_a, people["pm"]), [{"Symbol": "VTI", "DATE": "2026-12-04", "close": "1"}])

    assert answer.status_code in (200, 201), answer.content[:400]
    with tenant_context(firm_a):
        assert Price.objects.filter(security__symbol="VTI").count() == 1


def test_a_row_of_50000_unknown_keys_is_refused_in_one_short_problem(firm_a, people, vti, client_for):
    row = {"symbol": "VTI", "date": "2026-12-04", "close": "1", **{f"junk{i}": "x" for i in range(50_000)}}

    answer = _post(client_for(firm_a, people["pm"]), [row])

    assert answer.status_code == 400
    error = error_of(answer)
    [problem] = error["detail"]["problems"]
    assert problem["problem"].startswith("the header has 50,000 unknown columns ('junk0', 'junk1', ")
    assert "and 49,990 more" in problem["problem"]
    assert len(answer.content) < 2_000
    with tenant_context(firm_a):
        assert not Price.objects.exists()


def test_too_many_rows_are_refused_before_any_row_is_read(firm_a, people, vti, client_for):
    from unittest import mock

    from rest_framework import serializers

    # (Every row read would go through DictField: none may be, the count alone refuses them.)
    with mock.patch.object(serializers.DictField, "to_internal_value", side_effect=AssertionError("a row was read")):
        answer = _post(client_for(firm_a, people["pm"]), [{}] * 200_001)

    assert answer.status_code == 400, answer.content[:400]
    assert "200000" in answer.content.decode().replace(",", "")
