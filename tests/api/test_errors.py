"""One error body for every 4xx answer: {"code", "message", "detail"} with stable codes."""

import json
from pathlib import Path

import pytest
from django.test import override_settings

from rebalancing.engine.examples import __path__ as examples_path

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def test_400_names_each_invalid_field(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    answer = client.post(f"{API}/runs/", {"scope": {"account_ids": ["x"]}, "as_of": "soon"},
                         content_type="application/json")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert set(body["detail"]["fields"]) == {"scope", "as_of"}
    assert "as_of" in body["message"]


def test_400_for_a_body_that_is_not_json(firm_a, people, client_for):
    answer = client_for(firm_a, people["pm"]).post(f"{API}/runs/", "{nope", content_type="application/json")

    assert answer.status_code == 400 and error_of(answer)["code"] == "malformed_request"


def test_400_for_a_nul_character_instead_of_a_database_error(firm_a, people, client_for):
    answer = client_for(firm_a, people["pm"]).get(f"{API}/securities/", {"search": "VT\x00I"})

    assert answer.status_code == 400 and error_of(answer)["code"] == "invalid"


def test_401_without_credentials(firm_a, client_for):
    answer = client_for(firm_a).get(f"{API}/proposals/")

    assert answer.status_code == 401 and error_of(answer)["code"] == "not_authenticated"


def test_403_names_the_missing_capability(firm_a, people, client_for):
    answer = client_for(firm_a, people["advisor"]).get(f"{API}/audit-events/")

    assert answer.status_code == 403
    assert error_of(answer) | {"message": ""} == {"code": "permission_denied", "message": "",
                                                  "detail": {"capability": "read_audit"}}


def test_404_for_an_unknown_id_and_an_unknown_path(firm_a, people, client_for):
    client = client_for(firm_a, people["pm"])

    unknown_id = client.get(f"{API}/accounts/999999999/")
    unknown_path = client.get(f"{API}/no-such-thing/")
    huge_id = client.get(f"{API}/accounts/{'9' * 30}/")

    for answer in (unknown_id, unknown_path, huge_id):
        assert answer.status_code == 404 and error_of(answer)["code"] == "not_found"


def test_409_for_an_illegal_transition(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    answer = client.post(f"{API}/proposals/{book['own_proposal'].pk}/release/", {"comment": ""},
                         content_type="application/json")

    assert answer.status_code == 409
    body = error_of(answer)
    assert body["code"] == "illegal_transition" and body["detail"] == {"from": "pending_approval", "to": "released"}


def test_429_per_key_with_retry_after(firm_a, people, api_key):
    first = key_client(firm_a, api_key(firm_a, people["pm"], name="first"))
    second = key_client(firm_a, api_key(firm_a, people["pm"], name="second"))
    rates = {"api_key": "3/min", "user": "3/min", "whatif": "3/min"}

    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        answers = [first.get(f"{API}/securities/") for _ in range(4)]
        other_key = second.get(f"{API}/securities/")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    body = error_of(answers[-1])
    assert body["code"] == "throttled" and body["detail"]["retry_after"] > 0
    assert int(answers[-1]["Retry-After"]) == body["detail"]["retry_after"]
    assert other_key.status_code == 200  # counted per key, not per owner or firm


def _rest_framework() -> dict:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def test_engine_errors_keep_their_codes(firm_a, people, client_for):
    request = json.loads((Path(examples_path[0]) / "two_asset_rebalance.json").read_text())
    # No cash, a 5% cash floor, and every holding on the do-not-sell list: nothing can raise the cash.
    request["account"]["cash"] = 0
    request["parameters"] = {"cash": {"target": 0.05, "floor": 0.05},
                             "restrictions": {"do_not_sell": ["VTI", "BND"]}}
    client = client_for(firm_a, people["advisor"])

    infeasible = client.post(f"{API}/whatif/", request, content_type="application/json")
    invalid = client.post(f"{API}/whatif/", {"account": {}}, content_type="application/json")

    assert invalid.status_code == 400 and error_of(invalid)["code"] == "invalid_request"
    assert infeasible.status_code == 422
    body = error_of(infeasible)
    assert body["code"] == "infeasible_parameters" and "cash.floor" in body["detail"]["conflicts"]


def test_a_date_time_with_an_offset_postgresql_refuses_is_converted_not_a_500(firm_a, people, client_for):
    client = client_for(firm_a, people["compliance"])

    odd_offset = client.get(f"{API}/audit-events/", {"at_from": "0458-03-05T22:18:48-17:28"})
    overflow = client.get(f"{API}/audit-events/", {"at_to": "0001-01-01T00:00:00+05:00"})

    assert odd_offset.status_code == 200
    assert overflow.status_code == 400 and error_of(overflow)["code"] == "invalid"
