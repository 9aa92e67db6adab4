"""A malformed If-Match is a 400 naming the header, not a 412. RFC 9110 §13.1.1: If-Match = "*" / #entity-tag,
and §8.8.3: an entity-tag is quoted, optionally W/ before it. A tag sent without its quotes (a common client
slip), an empty header or ``garbage`` was answered 412 "it has changed since it was read" although nothing
had: the caller reads again, resends the same header and loops."""

import random
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def _patch(client, path, body, header):
    return client.patch(path, body, content_type="application/json", HTTP_IF_MATCH=header)


@pytest.mark.parametrize("header", ["{bare}", "", "garbage", "W/{bare}", '"{bare}', "*, {quoted}", '{quoted} "x"'])
def test_a_malformed_if_match_is_refused_as_malformed_not_as_a_changed_object(
        firm_a, people, book, client_for, header):
    # given a template and the tag a GET of it answers
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"
    tag = client.get(path)["ETag"]
    sent = header.format(bare=tag.strip('"'), quoted=tag)

    # when a change is sent with a header that is no list of entity-tags
    answer = _patch(client, path, '{"description": "renamed"}', sent)

    # then 400 invalid naming the header and what was sent, and nothing changed
    body = error_of(answer)
    assert answer.status_code == 400, (answer.status_code, body["message"][:120])
    assert body["code"] == "invalid" and "If-Match" in body["message"] and "malformed" in body["message"]
    assert list(body["detail"]["fields"]) == ["If-Match"]
    assert repr(sent[:40]) in body["message"]
    assert client.get(path)["ETag"] == tag
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=book["template"].pk).description != "renamed"


def test_a_long_malformed_header_is_quoted_cut_short(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"

    answer = _patch(client, path, '{"description": "renamed"}', "x" * 5000)

    body = error_of(answer)
    assert answer.status_code == 400
    assert "x" * 60 in body["message"] and "x" * 61 not in body["message"] and "5000 characters" in body["message"]


# A deliberately simple second reading of RFC 9110: the header is "*" alone, or comma-separated elements
# (empty ones ignored, §5.6.1.2) each [W/]"<no quote, no control, no space>"; one such tag at least.
_TAG = re.compile(r'(W/)?"[^"\x00-\x20\x7f]*"')


def _well_formed(header: str) -> bool:
    if header.strip() == "*":
        return True
    parts = [p.strip() for p in header.split(",") if p.strip()]
    return bool(parts) and all(_TAG.fullmatch(p) for p in parts)


def test_if_match_against_a_plain_reading_of_the_grammar_over_random_headers(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"
    rng = random.Random(8803)
    for case in range(24):
        now = client.get(path)["ETag"]
        pool = [now, f"W/{now}", '"0123abcd"', now.strip('"'), '"stale"', "", " ", "*", '"a b"', 'w/"x"', '"']
        header = ", ".join(rng.sample(pool, rng.randint(1, 3))) if rng.random() < 0.9 else "*"
        listed = [part.strip() for part in header.split(",")]
        expected = (400 if not _well_formed(header)
                    else 200 if header.strip() == "*" or now in listed else 412)

        answer = _patch(client, path, {"description": f"case {case}"}, header)

        assert answer.status_code == expected, (header, answer.content)


def test_a_retry_is_replayed_before_its_if_match_is_read_and_a_new_request_is_refused_as_malformed(
        firm_a, people, api_key):
    # docs/api.md "Retries": a retry with the same Idempotency-Key and body is answered its first answer
    # before any If-Match is checked, so neither the tag its own change moved nor the header's form refuses it.
    client = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read", "admin"]))
    made = client.post(f"{API}/webhook-endpoints/", {"url": "https://example.com/hook", "event_types": ["run.finished"]},
                       content_type="application/json").json()
    path = f"{API}/webhook-endpoints/{made['id']}/rotate-secret/"
    tag = client.get(f"{API}/webhook-endpoints/{made['id']}/")["ETag"]
    first = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag, HTTP_IDEMPOTENCY_KEY="rotate-1")

    retry = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag.strip('"'),
                        HTTP_IDEMPOTENCY_KEY="rotate-1")
    new = client.post(path, content_type="application/json", HTTP_IF_MATCH=tag.strip('"'),
                      HTTP_IDEMPOTENCY_KEY="rotate-2")

    assert first.status_code == 200 and retry.status_code == 200, retry.content
    assert retry["Idempotent-Replayed"] == "true"
    assert new.status_code == 400 and error_of(new)["detail"]["fields"].keys() == {"If-Match"}
