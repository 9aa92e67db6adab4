"""A retry with the same Idempotency-Key gets the first answer again (docs/api.md "Retries"): its headers
(Location), before a precondition the first answer itself made false (If-Match), and within the published
schema (a withheld webhook secret)."""

import pytest

from .conftest import API, key_client
from .published_schema import problems

pytestmark = pytest.mark.django_db

ENDPOINT = {"url": "https://example.com/hook", "event_types": ["run.finished"]}


def _admin(firm_a, people, api_key):
    return key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read", "admin"]))


def test_a_replayed_webhook_endpoint_creation_keeps_to_the_published_schema(firm_a, people, api_key):
    # Given an endpoint registered with a key, when the same request is retried, then the replay (its secret
    # withheld, integrations.md) is an answer the published schema allows, as the first one is.
    client = _admin(firm_a, people, api_key)
    first = client.post(f"{API}/webhook-endpoints/", ENDPOINT, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="hook-1")
    replay = client.post(f"{API}/webhook-endpoints/", ENDPOINT, content_type="application/json",
                         HTTP_IDEMPOTENCY_KEY="hook-1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay["Idempotent-Withheld"] == "secret"
    assert "secret" in first.json() and "secret" not in replay.json()
    assert problems(first, f"{API}/webhook-endpoints/", "post") == []
    assert problems(replay, f"{API}/webhook-endpoints/", "post") == []


def test_a_replayed_secret_rotation_keeps_to_the_published_schema(firm_a, people, api_key):
    client = _admin(firm_a, people, api_key)
    made = client.post(f"{API}/webhook-endpoints/", ENDPOINT, content_type="application/json").json()
    path = f"{API}/webhook-endpoints/{made['id']}/rotate-secret/"
    client.post(path, content_type="application/json", HTTP_IDEMPOTENCY_KEY="rotate-1")
    replay = client.post(path, content_type="application/json", HTTP_IDEMPOTENCY_KEY="rotate-1")
    assert replay.status_code == 200 and replay["Idempotent-Withheld"] == "secret"
    assert problems(replay, path, "post") == []


def test_a_retried_write_sent_with_if_match_and_an_idempotency_key_is_replayed_not_refused(
        firm_a, people, api_key):
    # docs/api.md: the same key and body within 24 hours "gets the first successful answer again". The change
    # the first request made moved the ETag; the retry of that very request must get its answer, not a 412.
    client = _admin(firm_a, people, api_key)
    made = client.post(f"{API}/webhook-endpoints/", ENDPOINT, content_type="application/json").json()
    tag = client.get(f"{API}/webhook-endpoints/{made['id']}/")["ETag"]
    path = f"{API}/webhook-endpoints/{made['id']}/rotate-secret/"
    first = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag,
                        HTTP_IDEMPOTENCY_KEY="rotate-if-match-1")
    retry = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag,
                        HTTP_IDEMPOTENCY_KEY="rotate-if-match-1")
    assert first.status_code == 200
    assert retry.status_code == 200, retry.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["previous_secret_until"] == first.json()["previous_secret_until"]
    # A new request (a new key) with the stale tag is still refused: the precondition is only skipped for a replay.
    stale = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag,
                        HTTP_IDEMPOTENCY_KEY="rotate-if-match-2")
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"


def test_a_replayed_estimate_answers_its_location_as_the_first_answer_did(firm_a, people, api_key):
    # docs/api.md: risk-models/estimate/ answers 202 "with the estimate and a Location header to follow it".
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))
    first = client.post(f"{API}/risk-models/estimate/", content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="estimate-1")
    replay = client.post(f"{API}/risk-models/estimate/", content_type="application/json",
                         HTTP_IDEMPOTENCY_KEY="estimate-1")
    assert first.status_code == replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true"
    assert first.has_header("Location")
    assert replay.get("Location") == first["Location"]
    assert replay.json() == first.json()
