"""A JSON list sent to imports/ and to executions/ numbers a refused element the same way: `row` is its
line in the same data sent as a CSV (header line 1, so rows[0] is row 2), `index` its position from 0."""

import pytest

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def test_the_second_element_is_row_3_index_1_at_both_endpoints(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    prices = client.post(f"{API}/imports/", {"kind": "prices", "rows": [
        {"symbol": "VTI", "date": "2026-11-19", "close": "101.5"},
        {"symbol": "VTI", "date": "2026-11-19", "close": "101.5"}]}, content_type="application/json")
    fills = client.post(f"{API}/executions/", {"executions": [
        {"external_id": "X-1", "order_id": "P1-1", "quantity": "1", "price": "1", "trade_date": "2026-11-19"},
        {"external_id": "X-1", "order_id": "P1-1", "quantity": "1", "price": "1", "trade_date": "2026-11-19"}]},
        content_type="application/json")

    for answer in (prices, fills):
        repeated = [p for p in error_of(answer)["detail"]["problems"] if "repeats" in p["problem"]]
        assert [(p["row"], p["index"]) for p in repeated] == [(3, 1)], answer.content
        assert repeated[0]["problem"].endswith("of row 2")
