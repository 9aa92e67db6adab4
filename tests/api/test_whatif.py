"""The what-if endpoint runs the engine on posted data and stores nothing."""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rebalancing.engine.examples import __path__ as examples_path
from rebalancing.engine.serialization import validate_result_dict

from .conftest import API, error_of

pytestmark = pytest.mark.django_db

EXAMPLE = json.loads((Path(examples_path[0]) / "two_asset_rebalance.json").read_text())


def test_whatif_answers_the_engine_result_and_writes_nothing(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])

    with CaptureQueriesContext(connection) as queries:
        answer = client.post(f"{API}/whatif/", EXAMPLE, content_type="application/json")

    assert answer.status_code == 200, answer.content
    result = answer.json()
    validate_result_dict(result)
    assert result["account_id"] == "ACC-1" and result["trades"]
    writes = [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_whatif_refuses_a_request_that_is_not_the_engines(firm_a, people, client_for):
    answer = client_for(firm_a, people["advisor"]).post(f"{API}/whatif/", {"as_of": "2026-01-01"},
                                                        content_type="application/json")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid_request" and "path" in body["detail"]


def test_whatif_needs_a_role(firm_a, people, client_for):
    answer = client_for(firm_a, people["nobody"]).post(f"{API}/whatif/", EXAMPLE, content_type="application/json")

    assert answer.status_code == 403
